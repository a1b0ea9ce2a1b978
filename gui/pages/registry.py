"""The pages of a project window, in sidebar order.

To add a page: write a QWidget whose constructor takes a :class:`PageContext`, and
put its :class:`PageSpec` here (replacing the placeholder). The main window only
assembles what this list names; ``Ctrl+1`` … follow the order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from PySide6.QtWidgets import QWidget

from gui.pages.page_context import PageContext
from gui.pages.placeholder import ComingSoonPage


@dataclass(frozen=True)
class PageSpec:
    key: str                                    # stable id: settings, tests, switching
    title: str
    icon: str                                   # a glyph name in gui/icons.py
    factory: Callable[[PageContext], QWidget]   # builds the page for an open project


def _library(context: PageContext) -> QWidget:
    from gui.pages.library import LibraryPage

    return LibraryPage(context)


def _evaluate(context: PageContext) -> QWidget:
    from gui.pages.evaluate import EvaluatePage

    return EvaluatePage(context)


def _train(context: PageContext) -> QWidget:
    from gui.pages.train import TrainPage

    return TrainPage(context)


def _coming(title: str, promise: str) -> Callable[[PageContext], QWidget]:
    return lambda context: ComingSoonPage(title, promise)


PAGES: tuple[PageSpec, ...] = (
    PageSpec("library", "Library", "library", _library),
    PageSpec("train", "Train", "train", _train),
    PageSpec("evaluate", "Evaluate", "evaluate", _evaluate),
    PageSpec("webcam", "Webcam", "webcam", _coming(
        "Webcam", "Point a camera at someone and see a trained model name them live.")),
)
