"""The installer, end to end: build the CPU flavour's .deb (scripts/build_installer.sh),
check its metadata, unpack it into a temporary root with `dpkg -x` and run the frozen
app's `--self-test` from there on Qt's xcb platform under Xvfb, as on a lab machine;
then its command line, the demo project included (drawn faces: none ship with it).

One test, because each step needs the one before and a build takes minutes. It runs
when PyInstaller (requirements-dev.txt), dpkg-deb and xvfb-run are installed, and is
skipped otherwise, except in CI (.ci/run sets FACELAB_REQUIRE_PACKAGING=1), where a
missing tool fails it. `-m "not packaging"` leaves it out of a quick local run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine import __version__

REPO = Path(__file__).resolve().parents[2]
# The libraries torch only opens when a GPU is used: the CPU flavour leaves them out.
NOT_IN_CPU_FLAVOUR = ("_internal/triton/", "libcudnn_engines", "libcudnn_adv", "libtorch_cuda_linalg", "libcusolver")

pytestmark = [pytest.mark.packaging, pytest.mark.slow]


def _require(available: bool, what: str) -> None:
    if available:
        return
    if os.environ.get("FACELAB_REQUIRE_PACKAGING"):
        pytest.fail(f"{what} is missing, and FACELAB_REQUIRE_PACKAGING is set")
    pytest.skip(f"{what} is not installed")


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, check=False, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, (
        f"{' '.join(command)} exited {result.returncode}\n--- stdout\n{result.stdout[-6000:]}"
        f"\n--- stderr\n{result.stderr[-6000:]}")
    return result


@pytest.mark.timeout(3600)
def test_cpu_deb_installs_and_passes_its_self_test(tmp_path: Path):
    _require(importlib.util.find_spec("PyInstaller") is not None, "PyInstaller")
    for tool in ("dpkg-deb", "dpkg", "xvfb-run", "xauth"):
        _require(shutil.which(tool) is not None, tool)

    # The build script's default compression (zstd) packs the 3.5 GB app in about 20 s
    # here; gzip took 4 minutes, xz longer.
    build = _run(["bash", "scripts/build_installer.sh", "--flavour", "cpu"],
                 cwd=REPO, env={**os.environ, "FACELAB_VENV": sys.prefix})
    print(build.stdout[-2000:])
    deb = REPO / "dist" / f"facelab_{__version__}_amd64.deb"
    assert deb.is_file()

    info = _run(["dpkg-deb", "--field", str(deb), "Package", "Version", "Architecture", "Depends"]).stdout
    assert "Package: facelab\n" in info and f"Version: {__version__}\n" in info
    assert "Architecture: amd64" in info
    for library in ("libxcb-cursor0", "libxkbcommon-x11-0", "libxcb-icccm4", "libegl1"):
        assert library in info
    contents = _run(["dpkg-deb", "--contents", str(deb)]).stdout
    assert "./usr/bin/facelab -> /opt/facelab/FaceLab" in contents
    for path in ("./opt/facelab/FaceLab\n", "./usr/share/applications/facelab.desktop",
                 "./usr/share/icons/hicolor/256x256/apps/facelab.png",
                 "./opt/facelab/_internal/resources/selftest/grace_hopper.jpg",
                 "./opt/facelab/_internal/facenet_pytorch/data/pnet.pt"):
        assert path in contents, path
    for left_out in NOT_IN_CPU_FLAVOUR:
        assert left_out not in contents, left_out
    assert " root/root " in contents.splitlines()[0]

    root = tmp_path / "root"
    try:
        _run(["dpkg", "-x", str(deb), str(root)])
        app = root / "opt" / "facelab" / "FaceLab"
        xcb_plugin = next(root.glob("opt/facelab/_internal/PySide6/Qt/plugins/platforms/libqxcb.so"))
        assert "not found" not in _run(["ldd", str(xcb_plugin)]).stdout  # the Depends are enough
        # A clean environment, as a lab user's: no venv, no source tree on the path, a fresh home.
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"), "LANG": "C.UTF-8",
               "QT_QPA_PLATFORM": "xcb", "FACELAB_HOME": str(tmp_path / "home" / "facelab"),
               "TORCH_HOME": str(tmp_path / "home" / "torch")}
        result = subprocess.run(
            ["xvfb-run", "--auto-servernum", "--server-args=-screen 0 1280x1024x24", str(app), "--self-test"],
            check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert result.stdout.strip(), f"no output; stderr:\n{result.stderr[-6000:]}"
        report = json.loads(result.stdout.strip().splitlines()[-1])
        print(json.dumps(report, indent=1))
        assert report["ok"] is True and result.returncode == 0, (
            json.dumps(report, indent=1) + "\n" + result.stderr[-4000:])
        details = {check["name"]: check["detail"] for check in report["checks"]}
        assert "xcb platform" in details["window"]
        assert report["environment"]["frozen"] is True
        assert report["environment"]["flavour"] == "cpu"

        # The command line, which imports its subcommands by name: a new project and its stats.
        _run([str(app), "new", str(tmp_path / "project")], env=env, cwd=tmp_path)
        stats = json.loads(_run([str(app), "stats", str(tmp_path / "project"), "--json"],
                                env=env, cwd=tmp_path).stdout)
        assert stats["photos"] == 0

        # The demo as an installed app opens it: no photos beside it, so faces it draws.
        demo = _run([str(app), "demo", "--no-gui"], env=env, cwd=tmp_path)
        assert "drawn by FaceLab" in demo.stderr
        demo_dir = Path(env["FACELAB_HOME"]) / "demo-project"
        demo_stats = json.loads(_run([str(app), "stats", str(demo_dir), "--json"],
                                     env=env, cwd=tmp_path).stdout)
        print("demo:", json.dumps(demo_stats))
        assert len(demo_stats["persons"]) >= 6 and demo_stats["pending_photos"] == 0
        assert demo_stats["faces"] >= demo_stats["photos"] > 0
    finally:
        shutil.rmtree(root, ignore_errors=True)  # a few GB: not for pytest's kept tmp folders
