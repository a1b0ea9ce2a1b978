import pytest
from PIL import Image

from engine.cli import main as cli_main
from engine.ingest.crop import project_crop_settings
from engine.ingest import CropSettings, crop_pending, import_paths
from tests.imagegen import gradient, save

FORMATS = [("jpg", "JPEG", "RGB"), ("png", "PNG", "RGBA"), ("gif", "GIF", "P"),
           ("bmp", "BMP", "RGB"), ("pgm", "PPM", "L"), ("ppm", "PPM", "RGB"),
           ("tif", "TIFF", "CMYK"), ("webp", "WEBP", "RGB")]


def test_every_supported_format_imports_and_crops(project, tmp_path):
    folder = tmp_path / "formats"
    for i, (ext, fmt, mode) in enumerate(FORMATS):
        save(folder / f"photo.{ext}", Image.fromarray(gradient(40, 30, seed=i)).convert(mode),
             fmt)
    report = import_paths(project, [folder])
    assert report.added == len(FORMATS) and report.skipped == {}
    crop = crop_pending(project, CropSettings(detector="haar"))
    assert crop.errors == {}
    assert {p.format for p in project.catalog.photos()} == {"JPEG", "PNG", "GIF", "BMP", "PPM",
                                                            "TIFF", "WEBP"}
    assert project.catalog.stats()["faces"] == len(FORMATS)


def test_without_facenet_the_haar_cascade_is_used_and_the_user_told(project, tmp_path,
                                                                    monkeypatch, capsys):
    import engine.ingest.detect as detect

    monkeypatch.setattr(detect, "mtcnn_available", lambda: False)
    save(tmp_path / "in" / "a.jpg", gradient(seed=3))
    import_paths(project, [tmp_path / "in"])
    report = crop_pending(project)
    assert report.detector == "haar" and "Haar cascade" in report.notice
    save(tmp_path / "in" / "b.jpg", gradient(seed=4))
    # The project now records the detector its faces were found with (Haar), and keeps
    # it; asking for "auto" again says why it is still Haar.
    assert project_crop_settings(project).detector == "haar"
    assert cli_main(["import", str(project.root), str(tmp_path / "in"), "--crop",
                     "--detector", "auto"]) == 0
    assert "note: facenet-pytorch is not installed" in capsys.readouterr().err
    with pytest.raises(RuntimeError, match="facenet-pytorch"):
        detect.make_detector("mtcnn")
