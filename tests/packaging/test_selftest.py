"""`FaceLab --self-test`, unfrozen: the same checks the installed app runs (the frozen run
is tests/packaging/test_installer.py)."""

from __future__ import annotations

import json

import pytest

from engine import selftest
from engine.selftest import cuda_arch_supported, run_checks, verdict


@pytest.mark.parametrize(("capability", "arch_list", "supported"), [
    ((8, 6), ["sm_80", "sm_86", "sm_90"], True),          # exact machine code
    ((8, 9), ["sm_80", "sm_86"], True),                   # same major, older minor runs as is
    ((12, 0), ["sm_80", "sm_90", "sm_100"], False),       # a newer GPU than the build knows
    ((12, 0), ["sm_90", "compute_90"], True),             # PTX the driver compiles for it
    ((6, 1), ["sm_75", "sm_80", "compute_80"], False),    # too old: PTX only runs forward
    ((9, 0), ["sm_90a"], True),                           # arch-specific, exactly this GPU
    ((10, 3), ["sm_100a"], False),                        # ...and no other
    ((7, 5), [], False),
])
def test_cuda_arch_supported(capability, arch_list, supported):
    assert cuda_arch_supported(capability, arch_list) is supported


def test_every_check_passes_unfrozen(qapp, capsys):
    from gui.selftest import main

    assert main() == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["ok"] is True
    names = [check["name"] for check in report["checks"]]
    assert names == ["imports", "window", "worker_process", "gpu", "face_detection", "train_and_infer",
                     "weights"]
    details = {check["name"]: check["detail"] for check in report["checks"]}
    assert "face(s)" in details["face_detection"] and "one training step" in details["train_and_infer"]
    assert report["environment"]["frozen"] is False


def test_one_failing_check_fails_the_verdict_and_the_rest_still_run():
    def broken() -> str:
        raise selftest.SelfTestFailure("the GPU is too new")

    results = run_checks([("first", lambda: "fine"), ("broken", broken), ("last", lambda: "fine")])
    result = verdict(results)
    assert result.ok is False
    assert [(r.name, r.ok) for r in results] == [("first", True), ("broken", False), ("last", True)]
    assert results[1].detail == "SelfTestFailure: the GPU is too new"
    assert json.loads(json.dumps(result.as_dict()))["ok"] is False


def test_the_exit_code_follows_the_verdict(monkeypatch, capsys):
    import gui.selftest

    monkeypatch.setattr(gui.selftest, "all_checks", lambda: [("no", lambda: 1 / 0)])
    assert gui.selftest.main() == 1
    assert '"ZeroDivisionError: division by zero"' in capsys.readouterr().out


def test_the_launcher_runs_the_self_test_first(monkeypatch):
    import gui.launcher
    import gui.selftest

    monkeypatch.setattr("sys.argv", ["facelab", "--self-test"])
    monkeypatch.setattr(gui.selftest, "main", lambda: 7)
    assert gui.launcher.main() == 7


def test_missing_self_test_photo_is_a_clear_failure(monkeypatch, tmp_path):
    monkeypatch.setattr(selftest, "resources_dir", lambda: tmp_path)
    with pytest.raises(selftest.SelfTestFailure, match="self-test photo is missing"):
        selftest.selftest_photo()


def test_bundled_weights_are_reported_and_unknown_files_fail(monkeypatch, tmp_path):
    from engine.models import weights as weights_module

    bundled = tmp_path / "resources" / "weights"
    monkeypatch.setattr(weights_module, "bundled_weights_dir", lambda: bundled)
    assert selftest.check_weights().startswith("none bundled")
    bundled.mkdir(parents=True)
    (bundled / "resnet18-f37072fd.pth").write_bytes(b"stand-in")
    monkeypatch.setenv("FACELAB_WEIGHTS_DIR", str(tmp_path / "user-weights"))
    assert "resnet18 (bundled)" in selftest.check_weights()
    (bundled / "holiday.jpg").write_bytes(b"")
    with pytest.raises(selftest.SelfTestFailure, match="holiday.jpg"):
        selftest.check_weights()
