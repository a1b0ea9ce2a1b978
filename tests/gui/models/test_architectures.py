"""The checkable architecture list: Qt's model tester, checking, weights status."""

from __future__ import annotations

from PySide6.QtCore import Qt

from gui.models.architectures import (WEIGHTS_AVAILABLE, WEIGHTS_MISSING, WEIGHTS_NONE,
                                      WEIGHTS_STATE_ROLE, ArchitectureInfo, ArchitectureListModel)


def _archs() -> list[ArchitectureInfo]:
    return [ArchitectureInfo("customcnn1", "CustomCNN1", "The lab's CNN.", 224, None, False,
                             "no weights"),
            ArchitectureInfo("resnet18", "ResNet-18", "Residual.", 224, "ImageNet", True,
                             "found at /w/resnet18.pth"),
            ArchitectureInfo("vit_b_16", "ViT", "Patches.", 224, "ImageNet", False,
                             "put vit.pth in /w")]


def test_model_passes_qt_model_tester(qtmodeltester):
    model = ArchitectureListModel()
    model.set_architectures(_archs())
    model.set_checked(["resnet18"])
    qtmodeltester.check(model, force_py=True)


def test_checking_rows_builds_the_queue_in_list_order(qtbot):
    model = ArchitectureListModel()
    model.set_architectures(_archs())
    with qtbot.waitSignal(model.checked_changed):
        assert model.setData(model.index(2), Qt.CheckState.Checked.value,
                             Qt.ItemDataRole.CheckStateRole)
    model.toggle(0)
    assert [a.name for a in model.checked()] == ["customcnn1", "vit_b_16"]
    assert model.index(0).data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    model.toggle(0)
    assert [a.name for a in model.checked()] == ["vit_b_16"]
    model.set_architectures(_archs()[:2])  # vit went away (e.g. unregistered)
    assert model.checked() == []


def test_weights_status_is_shown_per_architecture():
    model = ArchitectureListModel()
    model.set_architectures(_archs())
    states = [model.index(r).data(WEIGHTS_STATE_ROLE) for r in range(3)]
    assert states == [WEIGHTS_NONE, WEIGHTS_AVAILABLE, WEIGHTS_MISSING]
    assert "not on this machine" in _archs()[2].weights_text
    assert "put vit.pth in /w" in model.index(2).data(Qt.ItemDataRole.ToolTipRole)


def test_the_automatic_row_needs_no_weights_and_says_what_it_picks():
    from gui.models.architectures import missing_weights_message

    auto = ArchitectureInfo("auto", "Automatic (best for this machine)",
                            "Picks Face ResNet, frozen.", 0, None, True,
                            "FaceLab chooses when the run starts", automatic=True)
    assert auto.weights_badge == "picks for you"
    assert auto.weights_text == "chooses the network and settings for this machine"
    assert not auto.can_download_weights
    # Checked with "Pretrained" starting weights, it is never refused for lacking a file.
    assert missing_weights_message([auto]) == ""
    assert "ViT" not in missing_weights_message([auto, _archs()[1]])
    model = ArchitectureListModel()
    model.set_architectures([auto, *_archs()])
    assert model.index(0).data(Qt.ItemDataRole.DisplayRole).startswith("Automatic")
    assert model.index(0).data(WEIGHTS_STATE_ROLE) == WEIGHTS_NONE
