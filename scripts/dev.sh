#!/usr/bin/env bash
# FaceLab's one entry point for developers and CI, on a fresh Linux machine with Python 3.11:
#   bash scripts/dev.sh app    set up, then open the app on its demo project
#   bash scripts/dev.sh test   set up, then run the whole test suite (offscreen)
# Set-up is a virtual environment in .venv, refreshed only when the requirements change.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${FACELAB_VENV:-.venv}"
TORCH_PINS=(torch==2.14.1 torchvision==0.29.1)
FACENET_PIN=facenet-pytorch==2.6.0

find_python() {
    for candidate in "${PYTHON:-}" python3.11 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))'; then
            echo "$candidate"; return 0
        fi
    done
    echo "FaceLab needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2
    return 1
}

setup() {
    local stamp="$VENV/.facelab-setup"
    local wanted
    wanted="$(cat requirements.txt requirements-dev.txt pyproject.toml scripts/dev.sh | sha256sum | cut -c1-16)"
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ]; then
        return 0
    fi
    local python
    python="$(find_python)"
    [ -x "$VENV/bin/python" ] || "$python" -m venv "$VENV"
    echo "setting up $VENV (first run takes a few minutes)..." >&2
    # One resolver run for torch and everything else, so torch is fetched once.
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q \
        "${TORCH_PINS[@]}" -r requirements.txt -r requirements-dev.txt
    # facenet-pytorch's metadata pins torch<2.3 and numpy<2, yet it works with the stack
    # above: install it without its dependencies (its runtime needs are in requirements.txt).
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q --no-deps "$FACENET_PIN"
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e . \
        2>/dev/null || "$VENV/bin/python" -m pip install --disable-pip-version-check -q --no-deps -e .
    echo "$wanted" > "$stamp"
}

command="${1:-}"
shift || true
case "$command" in
    app)
        setup
        exec "$VENV/bin/facelab" demo "$@"
        ;;
    test)
        setup
        export QT_QPA_PLATFORM=offscreen
        exec "$VENV/bin/python" -m pytest "$@"
        ;;
    setup)
        setup
        ;;
    *)
        echo "usage: bash scripts/dev.sh app|test|setup [ARGS...]" >&2
        exit 2
        ;;
esac
