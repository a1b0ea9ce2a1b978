"""The architecture checklist: a click anywhere on a row, or Space, checks it; every
row paints its name, weights badge and description."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from gui.models.architectures import (ArchitectureInfo, ArchitectureListModel,
                                      missing_weights_message)
from gui.widgets.architecture_list import ArchitectureListView

ARCHS = [ArchitectureInfo("customcnn1", "CustomCNN1", "The lab's small CNN.", 224, None, False,
                          "CustomCNN1 has no pretrained weights."),
         ArchitectureInfo("resnet18", "ResNet-18", "A light residual network.", 224, "ImageNet",
                          False, "No pretrained weights for ResNet-18: put resnet18-f37072fd.pth "
                          "in /w."),
         ArchitectureInfo("facenet", "FaceNet", "Face embeddings.", 160, "VGGFace2", True,
                          "VGGFace2 weights found at /w/f.pt.")]


def _view(qtbot):
    model = ArchitectureListModel()
    model.set_architectures(ARCHS)
    view = ArchitectureListView()
    view.setModel(model)
    view.resize(420, 300)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    return view, model


def test_clicking_a_row_or_pressing_space_toggles_it(qtbot):
    view, model = _view(qtbot)
    rect = view.visualRect(model.index(1))
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert [a.name for a in model.checked()] == ["resnet18"]
    view.setCurrentIndex(model.index(2))
    QTest.keyClick(view, Qt.Key.Key_Space)
    assert [a.name for a in model.checked()] == ["resnet18", "facenet"]
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert [a.name for a in model.checked()] == ["facenet"]


def test_rows_are_tall_enough_for_name_and_two_lines_of_description(qtbot):
    view, model = _view(qtbot)
    line = view.fontMetrics().height()
    assert view.sizeHintForRow(0) >= 3 * line
    assert not view.grab().isNull()


def test_missing_weights_are_explained_per_architecture():
    assert missing_weights_message([ARCHS[2]]) == ""
    text = missing_weights_message(ARCHS[:2])
    assert "CustomCNN1 has no pretrained weights: it can only be trained from scratch" in text
    assert "resnet18-f37072fd.pth" in text and "Import weights" in text


def test_missing_weights_that_can_be_downloaded_point_to_the_download_button():
    from dataclasses import replace

    downloadable = replace(ARCHS[1], weights_downloadable=True)
    assert downloadable.can_download_weights and not ARCHS[1].can_download_weights
    assert not replace(ARCHS[2], weights_downloadable=True).can_download_weights  # present
    assert "Download weights" in missing_weights_message([downloadable])
    assert "Download weights" not in missing_weights_message(ARCHS[:2])
