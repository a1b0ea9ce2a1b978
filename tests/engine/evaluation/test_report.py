"""The HTML lab report: one self-contained file with the run's metrics, every person,
and its pictures embedded; written atomically; also from the command line."""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser

import pytest
from PIL import Image

from engine.cli import main as cli_main
from engine.evaluation.report import ReportOptions, write_lab_report
from engine.evaluation.runs import stored_report
from engine.project import Project
from tests.trained_runs import tiny_arch_registered, trained_copy

pytestmark = pytest.mark.slow

VOID_TAGS = {"meta", "img", "br", "hr", "link", "input", "col", "source", "area", "base", "wbr"}
# Tags HTML lets a document leave open; the report closes its own anyway.
OPTIONAL_CLOSE = {"p", "li", "tr", "td", "th"}


class _StrictParser(HTMLParser):
    """Checks that every element the report opens is closed, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.images: list[str] = []
        self.text: list[str] = []
        self.doctype = False

    def handle_decl(self, decl: str) -> None:
        self.doctype = self.doctype or decl.lower() == "doctype html"

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "img":
            self.images.append(dict(attrs).get("src", ""))
        if tag not in VOID_TAGS:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        while self.stack and self.stack[-1] != tag and self.stack[-1] in OPTIONAL_CLOSE:
            self.stack.pop()
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def trained(cropped_5celeb, tmp_path_factory):
    with tiny_arch_registered():
        root = tmp_path_factory.mktemp("report") / "project"
        run_ids = trained_copy(cropped_5celeb, root)
        yield root, run_ids


def _parse(path) -> _StrictParser:
    parser = _StrictParser()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


def test_report_is_one_valid_html_file_with_metrics_persons_and_embedded_images(trained,
                                                                                tmp_path):
    root, run_ids = trained
    out = tmp_path / "hand-in" / "report.html"
    with Project.open(root) as project:
        report = stored_report(project, run_ids[-1])
        persons = [p.name for p in project.catalog.persons()]
        path = write_lab_report(project, run_ids[-1], out,
                                options=ReportOptions(samples_per_kind=3, gradcam_samples=2))

    assert path == out and out.is_file()
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]  # no temp file left
    parsed = _parse(out)
    assert parsed.doctype and parsed.problems == [] and parsed.stack == []
    text = " ".join(parsed.text)
    assert f"{report.accuracy:.1%}" in text
    for name in persons:
        assert name in text
    for section in ("Run configuration", "Metrics", "Confusion matrix", "Training curves",
                    "Scoreboard", "Sample predictions", "Grad-CAM"):
        assert section in text
    assert run_ids[-1] in text and "batch_size" in text
    assert "low" in text and "high evidence for the predicted person" in text  # the colour scale
    # Self-contained: every picture is an embedded PNG, none is a link.
    assert parsed.images and all(src.startswith("data:image/png;base64,")
                                 for src in parsed.images)
    # charts (confusion, curves, scoreboard) + 3 wrong + 3 right + 2 Grad-CAM at most
    assert 3 + 2 <= len(parsed.images) <= 3 + 6 + 2
    for src in parsed.images:
        data = base64.b64decode(src.split(",", 1)[1], validate=True)
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "PNG" and min(image.size) > 8
    assert not re.search(r'src="(?!data:)', out.read_text(encoding="utf-8"))


def test_report_replaces_an_older_file_whole(trained, tmp_path):
    root, run_ids = trained
    out = tmp_path / "report.html"
    out.write_text("old", encoding="utf-8")
    with Project.open(root) as project:
        write_lab_report(project, run_ids[0], out, options=ReportOptions(gradcam_samples=0))
    content = out.read_text(encoding="utf-8")
    assert content.startswith("<!DOCTYPE html>") and run_ids[0] in content
    assert "Grad-CAM: where" not in content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_cli_writes_the_report(trained, tmp_path, capsys):
    root, run_ids = trained
    out = tmp_path / "cli-report.html"
    code = cli_main(["report", str(root), "--run", run_ids[0], str(out), "--gradcam", "1",
                     "--samples", "2"])
    assert code == 0, capsys.readouterr().err
    assert out.is_file() and str(out) in capsys.readouterr().out
    assert _parse(out).problems == []


def test_cli_names_an_unknown_run(trained, tmp_path, capsys):
    root, _ = trained
    code = cli_main(["report", str(root), "--run", "no-such-run", str(tmp_path / "x.html")])
    assert code == 1
    assert "no-such-run" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()
