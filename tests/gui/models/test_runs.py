"""The runs table model: Qt's model tester, words for statuses, sorting keys, in-place
updates that keep the selection."""

from __future__ import annotations

from PySide6.QtCore import QSortFilterProxyModel, Qt

from gui.models.runs import (ARCH, RUN_ID_ROLE, SORT_ROLE, STATUS, TEST_ACC, VAL_ACC, RunListModel,
                             RunRow)


def _row(n: int, status: str = "completed", test_acc: float | None = 0.5) -> RunRow:
    return RunRow(f"run-{n}", "resnet18" if n % 2 else "customcnn1", status, "", 0.1 * n,
                  test_acc, n, 10, bool(n % 2), 1_700_000_000.0 + n)


def test_model_passes_qt_model_tester(qtmodeltester):
    model = RunListModel()
    model.set_runs([_row(n) for n in range(1, 6)])
    qtmodeltester.check(model, force_py=True)


def test_rows_read_as_a_student_reads_them():
    model = RunListModel()
    model.set_arch_labels({"resnet18": "ResNet-18"})
    model.set_runs([_row(1, "early_stopped", test_acc=None), _row(2, "running")])
    assert model.index(0, ARCH).data() == "ResNet-18 (pretrained)"
    assert model.index(1, ARCH).data() == "customcnn1"
    assert model.index(0, STATUS).data() == "stopped early"
    assert model.index(1, STATUS).data() == "training…"
    assert model.index(0, VAL_ACC).data() == "10.0 %" and model.index(0, TEST_ACC).data() == "—"
    assert model.index(1, 0).data(RUN_ID_ROLE) == "run-2"
    assert not model.run(0).resumable
    assert _row(3, "interrupted").resumable and _row(3, "cancelled").resumable


def test_sorting_by_test_accuracy_puts_unscored_runs_last():
    model = RunListModel()
    model.set_runs([_row(1, test_acc=0.7), _row(2, test_acc=None), _row(3, test_acc=0.9)])
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.setSortRole(SORT_ROLE)
    proxy.sort(TEST_ACC, Qt.SortOrder.DescendingOrder)
    assert [proxy.index(r, 0).data(RUN_ID_ROLE) for r in range(3)] == ["run-3", "run-1", "run-2"]


def test_a_status_change_updates_in_place(qtbot):
    model = RunListModel()
    model.set_runs([_row(1, "running"), _row(2)])
    resets, changed = [], []
    model.modelReset.connect(lambda: resets.append(True))
    model.dataChanged.connect(lambda first, last, roles: changed.append(first.row()))
    model.set_runs([_row(1, "cancelled"), _row(2)])
    assert changed == [0] and not resets
    model.set_runs([_row(1, "cancelled"), _row(2), _row(3)])
    assert resets == [True] and model.rowCount() == 3


def test_the_validation_column_says_which_accuracy_it_shows():
    """Issue 18: "Best val. acc." fell during a run: it is the accuracy of the epoch
    with the lowest validation loss (the kept model), and now says so."""
    model = RunListModel()
    header = model.headerData(VAL_ACC, Qt.Orientation.Horizontal)
    assert header == "Val. acc. (lowest loss)" and "Best" not in header
    tip = model.headerData(VAL_ACC, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert "lowest validation loss" in tip and "can fall" in tip


def test_a_test_accuracy_that_does_not_compare_is_marked_and_sorted_after():
    model = RunListModel()
    other = RunRow("run-9", "customcnn1", "completed", "", 0.5, 0.95, 3, 3, False,
                   1_700_000_009.0, test_note="trained on 5 persons, not 6")
    model.set_runs([_row(1, test_acc=0.7), other, _row(2, test_acc=None),
                    _row(3, test_acc=0.9)])
    assert model.index(1, TEST_ACC).data() == "95.0 % *"
    assert "trained on 5 persons, not 6" in model.index(1, TEST_ACC).data(
        Qt.ItemDataRole.ToolTipRole)
    assert model.index(0, TEST_ACC).data() == "70.0 %"
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.setSortRole(SORT_ROLE)
    proxy.sort(TEST_ACC, Qt.SortOrder.DescendingOrder)
    assert [proxy.index(r, 0).data(RUN_ID_ROLE) for r in range(4)] == \
        ["run-3", "run-1", "run-9", "run-2"]
