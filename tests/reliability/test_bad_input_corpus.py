"""The bad-input corpus: files a lab's photo folders really hold (tests/reliability/
bad_corpus.py) and broken surroundings (read-only or full disks, a catalog from a newer
FaceLab or damaged). Each case gives a clear message, one line naming the file and the
reason, nothing crashes, and nothing else is lost. The last test prints the count.
"""

from __future__ import annotations

import errno
import io
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.catalog import CatalogError
from engine.ingest import CropSettings, crop_pending, import_paths
from engine.project import Project
from tests.imagegen import gradient, save
from tests.reliability.bad_corpus import UPRIGHT_SIZE, Case, build_cases
from tests.reliability.helpers import report
from tests.reliability.helpers import run_cli as _cli

CASES = build_cases()
HANDLED: list[str] = []  # every case that passed, for the figure at the end
HAAR = CropSettings(detector="haar")  # nothing here holds a face: keep the crops fast


def _one_line_about(lines: list[str], path: str | Path, *words: str) -> str:
    """The single CLI line that names ``path``, checked to give the reason."""
    named = [line for line in lines if str(path) in line]
    assert len(named) == 1, (path, lines)
    assert all(word.lower() in named[0].lower() for word in words), named[0]
    return named[0]


# ------------------------------------------------------------------- the files
@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """One project holding a labelled photo, then `facelab import --crop` of the corpus."""
    base = tmp_path_factory.mktemp("corpus")
    folder = base / "photos"
    paths = {case.name: case.make(folder) for case in CASES}
    loop = folder / "loop"
    loop.mkdir()
    os.symlink(folder, loop / "back-to-the-top")  # a folder symlink loop
    root = base / "project"
    earlier = save(base / "earlier" / "kept.jpg", gradient(seed=99))
    with Project.create(root) as project:
        import_paths(project, [earlier])
        crop_pending(project, HAAR)
        face = project.catalog.faces()[0]
        project.catalog.set_labels([face.id], project.catalog.ensure_person("Kept").id)
    code, err, _ = _cli(["import", str(root), str(folder), "--crop", "--detector", "haar",
                         "--workers", "1"])
    project = Project.open(root)
    yield {"code": code, "err": err, "paths": paths, "project": project, "kept": face.id,
           "folder": folder}
    project.close()


def _photo(project: Project, path: Path):
    return project.catalog.photo_by_path(project.stored_path(path))


def _upright_colours(crop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean colours of the top-left and top-right quadrants of the letterboxed upright
    gradient (80x40 in a 224 square: its rows 56-168)."""
    return crop[62:106, 6:106].mean((0, 1)), crop[62:106, 118:218].mean((0, 1))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case(corpus, case: Case):
    assert corpus["code"] == 0, corpus["err"]  # the import + crop as a whole went on
    project, path = corpus["project"], corpus["paths"][case.name]
    skipped = project.catalog.skipped()
    photo = _photo(project, path)
    if case.outcome == "ok":
        assert photo is not None and photo.status in ("done", "no_face"), photo
        assert not any(str(path) in line for line in corpus["err"])
        faces = project.catalog.faces(photo_id=photo.id)
        assert len(faces) == 1
        crop = np.asarray(Image.open(project.resolve(faces[0].crop_path)))
        assert crop.shape == (224, 224, 3) and crop.dtype == np.uint8
        if case.upright:
            assert (photo.width, photo.height) == case.upright
        if case.upright == UPRIGHT_SIZE:  # EXIF rotations: the crop is the upright photo
            left, right = _upright_colours(crop)
            assert left[0] > 150 > max(left[1], left[2]), left    # red, top left
            assert right[1] > 150 > max(right[0], right[2]), right  # green, top right
    else:
        words = ("skipped", case.reason)
        _one_line_about(corpus["err"], path, *words)
        assert skipped.get(str(path), "").find(case.reason) >= 0, skipped.get(str(path))
        if case.outcome == "skipped":
            assert photo is None
        else:
            assert photo is not None and photo.status == "error"
            assert project.catalog.faces(photo_id=photo.id) == []
    HANDLED.append(case.name)


def test_folder_symlink_loop_and_the_rest_of_the_project(corpus):
    project = corpus["project"]
    assert not [p for p in project.catalog.photos() if "/loop/" in p.path]
    paths = [p.path for p in project.catalog.photos()]
    assert len(paths) == len(set(paths))
    # What the project held before is untouched: the photo, its crop and the user's label.
    kept = project.catalog.face(corpus["kept"])
    assert project.catalog.person_counts()["Kept"] == 1 and kept.label_source == "user"
    assert project.resolve(kept.crop_path).is_file()
    HANDLED.append("folder symlink loop")


def test_tiny_images_with_the_mtcnn_detector(tmp_path, project):
    """MTCNN (the default detector) crashed the whole crop on images under 12 px."""
    folder = tmp_path / "tiny"
    for name, (w, h) in {"pixel.png": (1, 1), "sliver.png": (1, 500),
                         "strip.png": (640, 15)}.items():
        save(folder / name, gradient(w, h))
    import_paths(project, [folder])
    report = crop_pending(project, CropSettings(detector="mtcnn"), workers=1)
    assert report.errors == {} and report.no_face == 3
    HANDLED.append("images too small for MTCNN")


# --------------------------------------------------------- missing and unreadable
def test_unreadable_photo_is_listed(project, tmp_path, monkeypatch):
    locked = save(tmp_path / "in" / "locked.jpg", gradient(seed=1))
    save(tmp_path / "in" / "fine.jpg", gradient(seed=2))
    real = Path.read_bytes

    def permission_denied(self):  # as root, permission bits cannot stop a read
        if self == locked:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", permission_denied)
    report = import_paths(project, [tmp_path / "in"])
    assert report.added == 1 and "permission denied" in report.skipped[str(locked)]
    HANDLED.append("unreadable photo")


def test_photo_vanishing_during_import_and_before_crop(project, tmp_path, monkeypatch):
    import engine.ingest.importer as importer

    folder = tmp_path / "in"
    early, late, fine = (save(folder / f"{n}.jpg", gradient(seed=i))
                         for i, n in enumerate(("early", "late", "fine")))
    real_read = importer._read

    def deleted_after_the_scan(candidate):
        if candidate.path == early:
            early.unlink()
        return real_read(candidate)

    monkeypatch.setattr(importer, "_read", deleted_after_the_scan)
    report = import_paths(project, [folder])
    assert report.added == 2 and report.skipped == {str(early): "file not found (moved or "
                                                                  "deleted?)"}
    late.unlink()  # imported, then gone before the crop
    crop = crop_pending(project, HAAR)
    assert crop.errors == {str(late): "file not found (moved or deleted?)"}
    assert project.catalog.photo_by_path(str(fine)).status == "no_face"
    HANDLED.extend(["vanished during import", "vanished before crop"])


# ----------------------------------------------------------- read-only, full disks
@pytest.mark.parametrize("code, words", [(errno.EROFS, "read-only disk"),
                                         (errno.ENOSPC, "disk is full")])
def test_project_folder_that_cannot_be_written(tmp_path, monkeypatch, code, words):
    root = tmp_path / "proj"
    Project.create(root).close()
    real_open = os.open

    def refuse(path, flags, *args):  # simulated: chmod does not stop root
        if ".facelab-write-probe" in str(path):
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", refuse)
    status, err, _ = _cli(["import", str(root), str(tmp_path)])
    assert status == 1 and len(err) == 1
    _one_line_about(err, root, words)
    assert _cli(["stats", str(root)])[0] == 0  # reading still works
    HANDLED.append(f"project folder: {words}")


def test_read_only_catalog_while_labelling(tmp_path):
    from tests.gui.conftest import add_faces

    with Project.create(tmp_path / "proj") as project:
        faces = add_faces(project, 20, person="Ann")
        before = project.catalog.history()
        # The disk turned read-only under an open project (a USB stick's switch).
        project.catalog.db.conn.execute("PRAGMA query_only = ON")
        with pytest.raises(CatalogError) as failed:
            project.catalog.set_labels(faces, project.catalog.person_by_name("Ann").id,
                                       source="user")
        message = str(failed.value)
        assert "\n" not in message and "catalog.sqlite" in message and "read-only" in message
        project.catalog.db.conn.execute("PRAGMA query_only = OFF")
        assert project.catalog.history() == before
        assert project.catalog.stats()["labeled_faces"] == 20
    HANDLED.append("read-only catalog while labelling")


def test_full_disk_while_labelling_loses_nothing(tmp_path):
    from tests.gui.conftest import add_faces

    with Project.create(tmp_path / "proj") as project:
        catalog = project.catalog
        faces = add_faces(project, 3_000, person="Ann")
        bo = catalog.ensure_person("Bo")
        catalog.set_labels(faces[:10], bo.id)
        before = dict(catalog.db.conn.execute("SELECT face_id, person_id FROM face_labels"))
        history = catalog.history()
        conn = catalog.db.conn
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full: no new page
        with pytest.raises(CatalogError) as failed:
            catalog.set_labels(faces, bo.id)  # 3,000 history rows need new pages
        message = str(failed.value)
        assert "\n" not in message and str(catalog.path) in message and "disk is full" in message
        assert dict(conn.execute("SELECT face_id, person_id FROM face_labels")) == before
        assert catalog.history() == history and not conn.in_transaction
        conn.execute("PRAGMA max_page_count = 1073741823")  # space freed: the same action works
        assert len(catalog.set_labels(faces, bo.id).face_ids) == 2_990
    HANDLED.append("disk full while labelling")


def test_full_disk_while_cropping_stops_cleanly_and_resumes(project, tmp_path, monkeypatch):
    import engine.ingest.crop as crop

    for i in range(6):
        save(tmp_path / "in" / f"{i}.jpg", gradient(seed=i))
    import_paths(project, [tmp_path / "in"])
    real_write, writes = crop.atomic_write, []

    def filling_disk(path, write):
        writes.append(path)
        if len(writes) > 5:  # crop + thumbnail of two photos, then the crop of a third
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_write(path, write)

    monkeypatch.setattr(crop, "atomic_write", filling_disk)
    code, err, _ = _cli(["crop", str(project.root), "--detector", "haar", "--workers", "1"])
    assert code == 1 and len(err) == 1
    _one_line_about(err, project.root / "crops", "disk is full", "kept")
    assert len(project.catalog.photos("pending")) == 4  # two committed, the rest wait
    monkeypatch.setattr(crop, "atomic_write", real_write)
    assert crop_pending(project, HAAR).photos == 4
    stats = project.catalog.stats()
    assert stats["pending_photos"] == 0 and stats["faces"] == 6
    crops = [p for p in (project.root / "crops").rglob("*.jpg") if not p.name.startswith(".")]
    assert len(crops) == 6
    HANDLED.append("disk full while cropping")


def test_full_disk_while_saving_a_checkpoint(tmp_path, tiny_arch, monkeypatch, caplog):
    import torch

    from engine.cli import _not_reported_by_the_cli

    from engine.training.checkpoint import load_checkpoint
    from tests.reliability.synthetic import labelled_project

    root = labelled_project(tmp_path / "proj")
    real_save, calls = torch.save, []

    class FillingDisk(io.RawIOBase):
        def __init__(self, file):
            self.file, self.written = file, 0

        def writable(self):
            return True

        def write(self, data):
            self.written += len(data)
            if self.written > 4096:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.file.write(data)

    def save_on_a_filling_disk(obj, file, *args, **kwargs):
        calls.append(1)
        target = file if len(calls) < 2 else FillingDisk(file)  # epoch 2's last.pt fails
        return real_save(obj, target, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_on_a_filling_disk)
    train = ["train", str(root), "--arch", tiny_arch, "--epochs", "3", "--augment", "none",
             "--device", "cpu"]
    code, err, _ = _cli(train)
    assert code == 1
    line = _one_line_about([e for e in err if e.startswith("error:")], "last.pt",
                           "disk is full", "previous checkpoint is kept")
    # On a terminal, the trainer's own error record (with its traceback) is not shown
    # as well: the one line above is all the user reads.
    (logged,) = [r for r in caplog.records if r.exc_info and r.name.startswith("engine")]
    assert not _not_reported_by_the_cli(logged)
    with Project.open(root) as project:
        (run,) = project.catalog.runs.list()
        assert run.status == "failed" and "disk is full" in run.message
        run_dir = project.resolve(run.run_dir)
    assert load_checkpoint(run_dir / "last.pt")["epoch"] == 1  # the earlier one, whole
    assert not [p for p in run_dir.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.setattr(torch, "save", real_save)
    assert _cli(["resume", str(root), "--run", run.id])[0] == 0
    assert load_checkpoint(run_dir / "last.pt")["epoch"] == 3
    assert line.startswith("error: ")
    HANDLED.append("disk full while saving a checkpoint")


# ------------------------------------------------------------- damaged catalogs
def _damaged(tmp_path, damage) -> tuple[Path, bytes]:
    root = tmp_path / "proj"
    with Project.create(root) as project:
        for i in range(400):
            project.catalog.ensure_person(f"person {i}")
    catalog = root / "catalog.sqlite"
    for extra in ("-wal", "-shm"):
        Path(f"{catalog}{extra}").unlink(missing_ok=True)
    damage(catalog)
    return root, catalog.read_bytes()


def _newer(catalog: Path) -> None:
    conn = sqlite3.connect(catalog)
    conn.execute("PRAGMA user_version = 99")
    conn.close()


def _foreign(catalog: Path) -> None:
    catalog.unlink()
    conn = sqlite3.connect(catalog)
    conn.execute("CREATE TABLE contacts (name TEXT)")
    conn.commit()
    conn.close()


DAMAGES = {
    "catalog from a newer FaceLab": (_newer, "newer FaceLab"),
    "catalog of random bytes": (lambda c: c.write_bytes(np.random.default_rng(1).bytes(40_000)),
                                "damaged"),
    "truncated catalog": (lambda c: c.write_bytes(c.read_bytes()[:c.stat().st_size // 2]),
                          "damaged"),
    "another program's SQLite file": (_foreign, "not a FaceLab catalog"),
}


@pytest.mark.parametrize("name", list(DAMAGES))
def test_damaged_or_newer_catalog(tmp_path, name):
    damage, words = DAMAGES[name]
    root, before = _damaged(tmp_path, damage)
    for argv in (["stats", str(root)], ["import", str(root), str(tmp_path)]):
        code, err, _ = _cli(argv)
        assert code == 1 and len(err) == 1, err
        _one_line_about(err, root / "catalog.sqlite", words)
    with pytest.raises(CatalogError):
        Project.open(root)
    assert (root / "catalog.sqlite").read_bytes() == before  # left as it was
    HANDLED.append(name)


def test_damaged_checkpoint_is_refused_by_name(tmp_path, tiny_arch):
    from tests.reliability.synthetic import labelled_project

    root = labelled_project(tmp_path / "proj")
    code, _, out = _cli(["train", str(root), "--arch", tiny_arch, "--epochs", "1",
                         "--augment", "none", "--device", "cpu"])
    run_id = out.strip().splitlines()[-1]
    best = root / "runs" / run_id / "best.pt"
    best.write_bytes(best.read_bytes()[:3000])  # cut short (a copy interrupted)
    for argv in (["evaluate", str(root), "--run", run_id, "--recompute"],
                 ["export", str(root), str(tmp_path / "m.onnx"), "--run", run_id,
                  "--format", "onnx"]):
        code, err, _ = _cli(argv)
        assert code == 1 and len(err) == 1, err
        _one_line_about(err, best, "best.pt")
    assert not (tmp_path / "m.onnx").exists()
    HANDLED.append("damaged checkpoint")


def test_zz_count_of_cases_handled(capsys):
    report(capsys, f"bad-input corpus: {len(HANDLED)} cases handled ({len(CASES)} generated "
                   f"files + {len(HANDLED) - len(CASES)} surroundings): each a one-line "
                   "message naming the file and the reason, no crash, nothing else lost")
    assert len(HANDLED) >= 30, HANDLED
