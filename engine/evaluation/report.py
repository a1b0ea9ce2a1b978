"""The lab report: one self-contained HTML file a student can hand in.

Everything the lab asks for about one run, on one page: its settings, the metrics
and per-person table, the confusion matrix, the training curves, the scoreboard of
the runs on the same split, sample predictions (right and wrong, with confidence)
and a few Grad-CAM heat maps. Every picture is embedded as a base64 PNG, so the file
opens anywhere, offline, and can be mailed or uploaded alone. No Qt: the CLI
(`facelab report`) and the app's worker threads both call :func:`write_lab_report`.
"""

from __future__ import annotations

import base64
import datetime
import html
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from engine.evaluation import report_charts as charts
from engine.evaluation.metrics import EvaluationReport, SamplePrediction
from engine.project import Project
from engine.storage import atomic_write_bytes
from engine.tasks import Stage, TaskContext, null_context

log = logging.getLogger(__name__)

STAGE = Stage.REPORT
SAMPLE_IMAGE_MAX = 160  # pixels stored per sample face (shown at 112: sharp on HiDPI)
# Config keys a reader needs first; the rest follow in the table's second part.
_KEY_SETTINGS = ("arch", "epochs", "batch_size", "lr", "optimizer", "augment", "pretrained",
                 "freeze_epochs", "input_size", "early_stopping_patience", "seed")


@dataclass(frozen=True)
class ReportOptions:
    samples_per_kind: int = 8   # correct and wrong predictions shown, each
    gradcam_samples: int = 4    # faces explained with Grad-CAM (wrong ones first)


def write_lab_report(project: Project, run_id: str, out_path: str | os.PathLike, *,
                     options: ReportOptions = ReportOptions(),
                     ctx: TaskContext | None = None) -> Path:
    """Write the HTML lab report of ``run_id`` to ``out_path`` (atomically) and return
    the path. A run without a stored evaluation is evaluated first."""
    ctx = ctx or null_context()
    text = lab_report_html(project, run_id, options=options, ctx=ctx)
    path = atomic_write_bytes(Path(out_path), text.encode("utf-8"))
    log.info("wrote the lab report of run %s to %s", run_id, path)
    return path


def lab_report_html(project: Project, run_id: str, *, options: ReportOptions = ReportOptions(),
                    ctx: TaskContext | None = None) -> str:
    from engine.evaluation.runs import current_report, run_standing

    ctx = ctx or null_context()
    steps = 6
    ctx.report(STAGE, 0, steps, "evaluating")
    record = project.catalog.runs.get(run_id)
    # A stored evaluation older than the test set is scored again: a report is about
    # the project as it is when it is written.
    report = current_report(project, run_id, ctx=ctx)
    ctx.check()
    ctx.report(STAGE, 1, steps, "charts")
    standing = run_standing(project, run_id)
    rows = standing.standings.rows
    epochs = project.catalog.runs.epochs(run_id)
    sections = [_header(project, record, report, standing.notes),
                _config_section(record.config),
                _metrics_section(report),
                _figure("Confusion matrix", charts.confusion_png(report),
                        "Rows: the true person; columns: the person predicted. The diagonal "
                        "holds the correct predictions.")]
    ctx.check()
    ctx.report(STAGE, 2, steps, "training curves")
    if epochs:
        sections.append(_figure("Training curves", charts.curves_png(epochs),
                                "Loss and accuracy per epoch on the training and validation "
                                "faces. Validation loss rising while training loss falls means "
                                "over-fitting."))
    if rows:
        sections.append(_figure("Scoreboard", charts.scoreboard_png(rows, run_id),
                                "Every evaluated run scored on the same test faces, ranked "
                                "by accuracy; macro-averaged precision, recall and F1."))
    sections.append(_not_comparable_section(standing.standings.not_comparable))
    ctx.check()
    ctx.report(STAGE, 3, steps, "sample predictions")
    sections.append(_samples_section(project, report, options.samples_per_kind))
    ctx.check()
    ctx.report(STAGE, 4, steps, "Grad-CAM")
    sections.append(_gradcam_section(project, run_id, report, options.gradcam_samples, ctx))
    ctx.report(STAGE, steps, steps, "done")
    title = f"FaceLab lab report: {record.arch} ({run_id})"
    return _PAGE.format(title=html.escape(title), body="\n".join(s for s in sections if s))


# ------------------------------------------------------------------ sections
def _header(project: Project, record, report: EvaluationReport, notes: Sequence[str]) -> str:
    low, high = report.accuracy_ci
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    remarks = "".join(f"<p class=note>{_e(note)}</p>" for note in notes)
    return (f"<h1>Lab report: {_e(_arch_name(record.arch))}</h1>"
            f"<p class=meta>Project <b>{_e(project.root.name)}</b> · run <code>{_e(record.id)}"
            f"</code> · status {_e(record.status)} · written {when}</p>"
            f"<p class=headline>Test accuracy <b>{report.accuracy:.1%}</b> "
            f"<span class=ci>(95% interval {low:.1%} – {high:.1%}, "
            f"{len(report.samples)} test faces, {len(report.persons)} persons)</span></p>"
            + remarks)


def _not_comparable_section(left_out) -> str:
    if not left_out:
        return ""
    items = "".join(f"<li><b>{_e(_arch_name(n.label))}</b> <code>{_e(n.run_id)}</code> "
                    f"({n.accuracy:.1%}): {_e(n.reason)}</li>" for n in left_out)
    return ("<h3>Runs not ranked with this one</h3><p>Their accuracies were measured on other "
            f"test faces, so they do not compare:</p><ul class=left-out>{items}</ul>")


def _config_section(config: dict) -> str:
    keys = [k for k in _KEY_SETTINGS if k in config] + \
        sorted(k for k in config if k not in _KEY_SETTINGS)
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{_e(_plain(config[k]))}</td></tr>" for k in keys)
    return f"<h2>Run configuration</h2><table class=config>{cells}</table>"


def _metrics_section(report: EvaluationReport) -> str:
    low, high = report.accuracy_ci
    total = sum(m.support for m in report.per_person.values())
    rows = [f"<tr><th>{_e(name)}</th><td>{m.precision:.3f}</td><td>{m.recall:.3f}</td>"
            f"<td>{m.f1:.3f}</td><td>{m.support}</td></tr>"
            for name, m in report.per_person.items()]
    rows.append(f"<tr class=sum><th>accuracy</th><td></td><td></td><td>{report.accuracy:.3f}"
                f"<br><small>95% CI {low:.3f}–{high:.3f}</small></td><td>{total}</td></tr>")
    rows.append(f"<tr class=sum><th>macro avg</th><td>{report.macro_precision:.3f}</td>"
                f"<td>{report.macro_recall:.3f}</td><td>{report.macro_f1:.3f}</td>"
                f"<td>{total}</td></tr>")
    return ("<h2>Metrics</h2><table class=metrics><tr><th>Person</th><th>Precision</th>"
            "<th>Recall</th><th>F1</th><th>Support</th></tr>" + "".join(rows) + "</table>"
            f"<p>Accuracy {report.accuracy:.1%} · macro precision "
            f"{report.macro_precision:.1%} · macro recall {report.macro_recall:.1%} · macro F1 "
            f"{report.macro_f1:.1%}</p>")


def _samples_section(project: Project, report: EvaluationReport, per_kind: int) -> str:
    wrong = report.misclassified()[:per_kind]
    right = sorted((s for s in report.samples if s.correct), key=lambda s: -s.confidence)
    right = right[:per_kind]
    if not report.samples:
        return ""
    parts = ["<h2>Sample predictions</h2>"]
    for heading, samples in (("Wrong (most confident mistakes first)", wrong),
                             ("Correct (most confident first)", right)):
        if not samples:
            parts.append(f"<h3>{heading}</h3><p>None.</p>")
            continue
        figures = "".join(_sample_figure(project, s) for s in samples)
        parts.append(f"<h3>{heading}</h3><div class=gallery>{figures}</div>")
    return "".join(parts)


def _sample_figure(project: Project, sample: SamplePrediction, image_png: bytes | None = None,
                   note: str = "") -> str:
    if image_png is None:
        image_png = _crop_png(project, sample.sample_id)
    verdict = "right" if sample.correct else "wrong"
    caption = (f"true <b>{_e(sample.true_person)}</b><br>predicted "
               f"<b>{_e(sample.predicted_person)}</b><br>{sample.confidence:.0%} sure{note}")
    image = _img(image_png, f"face {sample.sample_id}") if image_png else "<div class=missing>?</div>"
    return f"<figure class={verdict}>{image}<figcaption>{caption}</figcaption></figure>"


def _gradcam_section(project: Project, run_id: str, report: EvaluationReport, count: int,
                     ctx: TaskContext) -> str:
    if count <= 0 or not report.samples:
        return ""
    chosen = _gradcam_choice(report, count)
    try:
        overlays = _gradcam_overlays(project, run_id, chosen, ctx)
    except Exception as exc:  # a report without heat maps beats no report
        log.warning("Grad-CAM left out of the report of %s: %s", run_id, exc)
        return f"<h2>Grad-CAM</h2><p>Grad-CAM could not be computed: {_e(str(exc))}</p>"
    from engine.evaluation.heatmap import FLAT_MESSAGE, colour_scale_stops

    flat_note = "<br><i>flat map: no region stands out</i>"
    figures = "".join(_sample_figure(project, s, png, flat_note if flat else "")
                      for s, (png, flat) in zip(chosen, overlays))
    gradient = ", ".join(f"{colour} {position:.0%}" for position, colour in colour_scale_stops())
    legend = ("<p class=legend>low <span class=scale style=\"background: linear-gradient(to "
              f"right, {gradient})\"></span> high evidence for the predicted person</p>")
    flats = sum(flat for _, flat in overlays)
    flat_text = (f"<p>{flats} of these maps are flat. {_e(FLAT_MESSAGE)}</p>" if flats else "")
    return ("<h2>Grad-CAM: where the model looks</h2><p>The warmer and more opaque the "
            "colour, the more that part of the face raised the score of the predicted "
            f"person.</p>{legend}{flat_text}<div class=gallery>{figures}</div>")


def _gradcam_choice(report: EvaluationReport, count: int) -> list[SamplePrediction]:
    wrong = report.misclassified()[: (count + 1) // 2]
    right = [s for s in sorted(report.samples, key=lambda s: -s.confidence) if s.correct]
    return (wrong + right)[:count]


def _gradcam_overlays(project: Project, run_id: str, samples: Sequence[SamplePrediction],
                      ctx: TaskContext) -> list[tuple[bytes, bool]]:
    """One (PNG, flat) per sample: the map blended over the face, and whether it is flat."""
    from engine.data.cache import face_model_image
    from engine.evaluation.gradcam import gradcam_overlay
    from engine.evaluation.runs import run_checkpoint
    from engine.training.config import run_alignment
    from engine.training.inference import load_trained_model

    # Its own model instance: Grad-CAM hooks the model, and the app may be explaining
    # faces with the shared cached one (engine.evaluation.explain) at the same time.
    trained = load_trained_model(run_checkpoint(project, run_id), device="cpu")
    spec = trained.spec
    pngs = []
    for sample in samples:
        ctx.check()
        # The face as the model saw it (its crop, or its aligned chip).
        image = face_model_image(project, sample.sample_id, spec.input_size,
                                 run_alignment(trained.config))
        result = gradcam_overlay(trained.model, spec.name, image, spec.mean, spec.std)
        pngs.append((charts.image_png(result.overlay, SAMPLE_IMAGE_MAX), result.flat))
    return pngs


# ------------------------------------------------------------------- helpers
def _crop_png(project: Project, face_id: int) -> bytes | None:
    try:
        face = project.catalog.face(face_id)
        with Image.open(project.resolve_inside(face.crop_path)) as crop:
            crop = crop.convert("RGB")
            crop.thumbnail((SAMPLE_IMAGE_MAX, SAMPLE_IMAGE_MAX), Image.Resampling.LANCZOS)
            return charts.image_png(np.asarray(crop))
    except Exception as exc:  # a deleted face or a missing crop file: shown as "?"
        log.info("no picture of face %s for the report: %s", face_id, exc)
        return None


def _arch_name(arch: str) -> str:
    try:
        from engine.models import get_spec

        return get_spec(arch).display_name
    except Exception:  # a run of an architecture this FaceLab no longer has
        return arch


def _figure(title: str, png: bytes, caption: str) -> str:
    return (f"<h2>{_e(title)}</h2><figure class=chart>{_img(png, title)}"
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _plain(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="FaceLab">
<title>{title}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1000px;
       margin: 2em auto; padding: 0 1em; color: #1d1f22; line-height: 1.4; }}
h1 {{ margin-bottom: 0.2em; }} h2 {{ margin-top: 1.6em; border-bottom: 1px solid #ddd; }}
.meta, .ci, figcaption {{ color: #5b6068; }} .headline {{ font-size: 1.3em; }}
.note {{ border-left: 4px solid #DD8452; padding: 2px 10px; background: #fdf3ea; }}
table {{ border-collapse: collapse; margin: 0.5em 0; }}
th, td {{ padding: 4px 10px; border-bottom: 1px solid #e4e6ea; text-align: right; }}
th {{ text-align: left; }} table.config td {{ text-align: left; font-family: monospace; }}
tr.sum th, tr.sum td {{ border-top: 2px solid #bbb; font-weight: 600; }}
figure.chart img {{ max-width: 100%; }}
.gallery {{ display: flex; flex-wrap: wrap; gap: 10px; }}
.legend {{ display: flex; align-items: center; gap: 6px; font-size: 0.85em; color: #5b6068; }}
.legend .scale {{ display: inline-block; width: 160px; height: 10px; border-radius: 2px; }}
.gallery figure {{ margin: 0; width: 124px; font-size: 0.8em; text-align: center; }}
.gallery img {{ width: 112px; height: 112px; object-fit: cover; border-radius: 4px;
               border: 3px solid #55A868; }}
.gallery figure.wrong img {{ border-color: #C44E52; }}
.missing {{ width: 112px; height: 112px; background: #eee; line-height: 112px; }}
</style>
</head>
<body>
{body}
<p class=meta>Written by FaceLab.</p>
</body>
</html>
"""
