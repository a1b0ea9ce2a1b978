"""Bad input: each case gives one clear line naming the file and the reason, is listed
in `skipped`, the rest of the import goes on, and nothing already imported is lost."""

import errno
import json
import os

import pytest

from engine.cli import main as cli_main
from engine.ingest import CropSettings, crop_pending, import_paths
from engine.project import Project, ProjectError
from tests.imagegen import gradient, png_bomb, save, truncated_jpeg

HAAR = CropSettings(detector="haar")  # generated images hold no faces; keep these tests fast


@pytest.fixture
def messy_folder(tmp_path):
    root = tmp_path / "photos"
    person = root / "Ann Lee"
    save(person / "good.jpg", gradient(64, 48, seed=1))
    save(person / "ภาพ สวย ü.png", gradient(64, 48, seed=2))  # unicode + spaces
    (person / "empty.jpg").write_bytes(b"")
    (person / "notes.png").write_text("not a picture")
    truncated_jpeg(person / "truncated.jpg")
    png_bomb(person / "bomb.png")
    (person / "folder.jpg").mkdir()  # a folder with an image name is not a photo
    (person / "readme.txt").write_text("ignored: not an image name")
    loop = person / "loop"
    loop.mkdir()
    os.symlink(person, loop / "back-up")  # a symlink loop must not trap the scan
    return root


def test_bad_files_are_listed_with_reasons_and_the_rest_imports(project, messy_folder, tmp_path):
    keep = save(tmp_path / "earlier" / "kept.jpg", gradient(64, 48, seed=9))
    import_paths(project, [keep])
    crop_pending(project, HAAR)
    before = project.catalog.stats()

    vanished = tmp_path / "gone.jpg"
    report = import_paths(project, [messy_folder, vanished], labels_from_folders=True)
    assert report.added == 3  # good.jpg, the unicode one, truncated.jpg (header is fine)
    reasons = {os.path.basename(p): r for p, r in report.skipped.items()}
    assert reasons == {"empty.jpg": "empty file (0 bytes)",
                       "notes.png": "not an image, or a format FaceLab cannot read",
                       "bomb.png": reasons["bomb.png"], "gone.jpg": reasons["gone.jpg"]}
    assert "too large" in reasons["bomb.png"] and "not found" in reasons["gone.jpg"]

    crop = crop_pending(project, HAAR)
    assert [os.path.basename(p) for p in crop.errors] == ["truncated.jpg"]
    stats = project.catalog.stats()
    assert stats["photos"] == before["photos"] + 3
    assert stats["faces"] == before["faces"] + 2  # the unreadable photo has no sample
    assert {os.path.basename(p) for p in stats["skipped"]} == {
        "empty.jpg", "notes.png", "bomb.png", "gone.jpg", "truncated.jpg"}
    assert stats["persons"] == {"Ann Lee": 2}
    # Originals untouched, nothing moved.
    assert (messy_folder / "Ann Lee" / "empty.jpg").read_bytes() == b""


def test_cli_prints_one_line_per_skipped_file(tmp_path, messy_folder, capsys):
    proj = tmp_path / "proj"
    assert cli_main(["new", str(proj)]) == 0
    code = cli_main(["import", str(proj), str(messy_folder), "--labels-from-folders", "--crop",
                     "--detector", "haar"])
    assert code == 0
    err = capsys.readouterr().err.splitlines()
    skipped_lines = [line for line in err if line.startswith("skipped: ")]
    assert len(skipped_lines) == 4  # empty, not-an-image, bomb, truncated
    for line in skipped_lines:
        path, reason = line[len("skipped: "):].rsplit(": ", 1)[0], line.rsplit(": ", 1)[1]
        assert os.path.basename(path.split(": ")[0]) in {
            "empty.jpg", "notes.png", "bomb.png", "truncated.jpg"} and reason

    assert cli_main(["stats", str(proj), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    for key in ("photos", "faces", "labeled_faces", "no_face_photos", "persons", "skipped"):
        assert key in stats
    assert stats["photos"] == 3 and stats["persons"] == {"Ann Lee": 2}
    assert len(stats["skipped"]) == 4


def test_duplicates_are_not_imported_twice_and_reimport_adds_only_new(project, tmp_path):
    folder = tmp_path / "in"
    a = save(folder / "a.jpg", gradient(seed=1))
    save(folder / "b.jpg", gradient(seed=2))
    (folder / "copy of a.jpg").write_bytes(a.read_bytes())
    first = import_paths(project, [folder])
    assert (first.added, first.duplicates) == (2, 1)
    save(folder / "c.jpg", gradient(seed=3))
    again = import_paths(project, [folder])
    assert (again.added, again.already_imported, again.duplicates) == (1, 2, 1)
    assert project.catalog.stats()["photos"] == 3


def test_moved_photos_are_relocated_keeping_their_labels(project, tmp_path):
    cropped = save(tmp_path / "old" / "Bo" / "a.jpg", gradient(seed=4))
    not_yet = save(tmp_path / "old" / "Bo" / "b.jpg", gradient(seed=5))
    import_paths(project, [cropped], labels_from_folders=True)
    crop_pending(project, HAAR)
    import_paths(project, [not_yet], labels_from_folders=True)
    new = tmp_path / "new"
    new.mkdir()
    cropped.rename(new / "a.jpg")
    not_yet.rename(new / "b.jpg")
    # The photo moved before its crop is reported, not lost.
    assert list(crop_pending(project, HAAR).errors.values()) == [
        "file not found (moved or deleted?)"]
    assert len(project.catalog.stats()["skipped"]) == 1
    report = import_paths(project, [new])
    assert report.relocated == 2 and report.added == 0
    crop_pending(project, HAAR)
    stats = project.catalog.stats()
    assert stats["skipped"] == {} and stats["persons"] == {"Bo": 2}
    assert sorted(p.path for p in project.catalog.photos()) == [
        (new / "a.jpg").as_posix(), (new / "b.jpg").as_posix()]


def test_read_only_project_is_refused_with_the_reason(tmp_path, monkeypatch, capsys):
    proj = tmp_path / "proj"
    Project.create(proj).close()
    real_open = os.open

    def read_only_disk(path, flags, *args):
        if ".facelab-write-probe" in str(path):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args)

    # Simulated: a read-only mount cannot be made without privileges, and chmod does not
    # stop root, who runs CI.
    monkeypatch.setattr(os, "open", read_only_disk)
    with pytest.raises(ProjectError, match="read-only disk"):
        Project.open(proj)
    assert cli_main(["import", str(proj), str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(proj) in err[0] and "read-only" in err[0]
    # Reading still works: stats opens the project read-only.
    assert cli_main(["stats", str(proj), "--json"]) == 0


def test_edited_photo_is_cropped_again(project, tmp_path):
    path = save(tmp_path / "p" / "a.png", gradient(64, 48, seed=5))
    import_paths(project, [path])
    crop_pending(project, HAAR)
    save(path, gradient(80, 60, seed=6))  # the user edited it in place
    report = import_paths(project, [path])
    assert report.added == 1
    assert project.catalog.photos()[0].status == "pending"
    crop_pending(project, HAAR)
    assert project.catalog.photos()[0].width == 80


def test_a_folder_name_that_cannot_name_a_person_imports_its_photos_unlabelled(project,
                                                                                tmp_path):
    odd = tmp_path / "photos" / "two\nlines"
    save(odd / "a.jpg", gradient(64, 48, seed=3))
    save(tmp_path / "photos" / "Ann" / "b.jpg", gradient(64, 48, seed=4))
    report = import_paths(project, [tmp_path / "photos"], labels_from_folders=True)
    assert report.added == 2
    assert [p.name for p in project.catalog.persons()] == ["Ann"]  # the engine's name rule


def test_importing_only_paths_that_do_not_exist_is_an_error(project, tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="do not exist"):
        import_paths(project, [tmp_path / "no" / "such", tmp_path / "typo.jpg"])
    project.close()

    assert cli_main(["import", str(project.root), str(tmp_path / "no" / "such")]) == 1
    err = capsys.readouterr().err
    assert "Nothing was imported" in err and str(tmp_path / "no" / "such") in err


def test_stats_lists_skipped_files_on_lines_of_their_own(project, tmp_path, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "empty.jpg").write_bytes(b"")
    save(tmp_path / "in" / "a.jpg", gradient(seed=8))
    import_paths(project, [tmp_path / "in"])
    project.close()
    capsys.readouterr()

    assert cli_main(["stats", str(project.root)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert any(line.endswith("waiting to be cropped") for line in out)
    assert "1 file(s) skipped:" in out
    assert any(line.startswith("  ") and "empty.jpg" in line for line in out)
