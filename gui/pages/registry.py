"""The pages of a project window, in sidebar order.

To add a page: write a QWidget whose constructor takes a :class:`PageContext`, and
put its :class:`PageSpec` here. The main window only assembles what this list names;
``Ctrl+1`` … follow the order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from PySide6.QtWidgets import QWidget

from gui.pages.page_context import PageContext


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


def _webcam(context: PageContext) -> QWidget:
    from gui.pages.webcam import WebcamPage

    return WebcamPage(context)


PAGES: tuple[PageSpec, ...] = (
    PageSpec("library", "Library", "library", _library),
    PageSpec("train", "Train", "train", _train),
    PageSpec("evaluate", "Evaluate", "evaluate", _evaluate),
    PageSpec("webcam", "Webcam", "webcam", _webcam),
)
