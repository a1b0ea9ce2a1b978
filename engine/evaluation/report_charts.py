"""The lab report's pictures as PNG bytes: confusion matrix, training curves, the
scoreboard's grouped bars, and plain images (face crops, Grad-CAM overlays).

Matplotlib's object API on the Agg canvas only (no pyplot): no global figure state,
no GUI toolkit, so it runs on a server, in the CLI and on a GUI worker thread alike.
"""

from __future__ import annotations

import io
from typing import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from engine.catalog.runs import EpochRecord
from engine.evaluation.metrics import EvaluationReport
from engine.evaluation.scoreboard import ScoreboardRow

DPI = 110
# The scoreboard's four metrics, in the lab's order, with colourblind-safe colours.
SCORE_METRICS = (("Accuracy", "accuracy", "#4C72B0"), ("Precision", "macro_precision", "#DD8452"),
                 ("Recall", "macro_recall", "#55A868"), ("F1", "macro_f1", "#C44E52"))


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def image_png(image: np.ndarray, max_side: int | None = None) -> bytes:
    """An RGB uint8 array as PNG, shrunk to ``max_side`` when larger."""
    picture = Image.fromarray(np.asarray(image, dtype=np.uint8))
    if max_side and max(picture.size) > max_side:
        picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def confusion_png(report: EvaluationReport) -> bytes:
    """Counts in every cell; colour by row share (the person's recall), so a person
    with few test faces shows its mistakes as clearly as a frequent one."""
    matrix = np.asarray(report.confusion_matrix, dtype=np.float64)
    names = list(report.persons)
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    side = max(4.0, 0.7 * len(names) + 2.2)
    figure = Figure(figsize=(side + 0.8, side))
    axes = figure.add_subplot()
    image = axes.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="share of the row")
    axes.set_xticks(range(len(names)), names, rotation=40, ha="right")
    axes.set_yticks(range(len(names)), names)
    axes.set_xlabel("Predicted person")
    axes.set_ylabel("True person")
    for i in range(len(names)):
        for j in range(len(names)):
            count = int(matrix[i, j])
            axes.text(j, i, str(count), ha="center", va="center", fontsize=10,
                      color="white" if share[i, j] > 0.55 else ("#1a1a1a" if count else "#9a9a9a"))
    axes.set_title("Confusion matrix (test faces)")
    return _png(figure)


def curves_png(epochs: Sequence[EpochRecord]) -> bytes:
    """Loss and accuracy per epoch, training and validation side by side."""
    figure = Figure(figsize=(9.0, 3.4))
    loss_axes, acc_axes = figure.subplots(1, 2)
    x = [e.epoch for e in epochs]
    loss_axes.plot(x, [e.train_loss for e in epochs], "o-", label="training")
    loss_axes.plot(x, [e.val_loss for e in epochs], "o-", label="validation")
    loss_axes.set_title("Loss")
    acc_axes.plot(x, [e.train_acc for e in epochs], "o-", label="training")
    acc_axes.plot(x, [e.val_acc for e in epochs], "o-", label="validation")
    acc_axes.set_title("Accuracy")
    acc_axes.set_ylim(0.0, 1.02)
    for axes in (loss_axes, acc_axes):
        axes.set_xlabel("Epoch")
        axes.grid(alpha=0.3)
        axes.legend()
        if x:
            axes.set_xticks(x if len(x) <= 12 else x[:: max(1, len(x) // 10)])
    return _png(figure)


def scoreboard_png(rows: Sequence[ScoreboardRow], highlight_run: str | None = None) -> bytes:
    """The lab's scoreboard: accuracy, precision, recall and F1 grouped per run, each
    bar labelled with its value."""
    count = max(1, len(rows))
    figure = Figure(figsize=(min(14.0, 2.2 + 1.9 * count), 3.8))
    axes = figure.add_subplot()
    width = 0.2
    centres = np.arange(len(rows), dtype=np.float64)
    for k, (title, attribute, colour) in enumerate(SCORE_METRICS):
        values = [getattr(row, attribute) for row in rows]
        offsets = centres + (k - 1.5) * width
        bars = axes.bar(offsets, values, width * 0.92, label=title, color=colour)
        axes.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=7, padding=2,
                       rotation=90 if count > 4 else 0)
    labels = [f"#{row.rank} {row.label}" + ("\n(this run)" if row.run_id == highlight_run else "")
              for row in rows]
    axes.set_xticks(centres, labels, rotation=15 if count > 3 else 0,
                    ha="right" if count > 3 else "center")
    axes.set_ylim(0.0, 1.15)  # room above 100% for the value labels, no tick there
    ticks = np.linspace(0.0, 1.0, 6)
    axes.set_yticks(ticks, [f"{v:.0%}" for v in ticks])
    axes.set_ylabel("Score")
    axes.set_title("Scoreboard: runs scored on the same test faces")
    axes.legend(ncols=4, loc="upper center", bbox_to_anchor=(0.5, -0.18 if count <= 3 else -0.3),
                frameon=False)
    axes.grid(axis="y", alpha=0.3)
    return _png(figure)
