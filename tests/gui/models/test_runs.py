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
