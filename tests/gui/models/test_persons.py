"""The person list model: Qt's model tester, number keys, in-place count updates."""

from __future__ import annotations

from gui.models.persons import COUNT_ROLE, SHORTCUT_ROLE, PersonListModel
from gui.project_session import PersonRow


def _rows(n: int) -> list[PersonRow]:
    return [PersonRow(i, f"Person {i:02d}", i * 2, i if i <= 9 else None)
            for i in range(1, n + 1)]


def test_model_passes_qt_model_tester(qtmodeltester):
    model = PersonListModel()
    model.set_persons(_rows(12))
    qtmodeltester.check(model, force_py=True)


def test_number_keys_are_the_persons_own_not_their_row():
    model = PersonListModel()
    rows = [PersonRow(i, f"Person {i:02d}", i * 2, (10 - i) if i < 10 else None)
            for i in range(1, 13)]
    model.set_persons(rows)
    assert model.person_for_number_key(1).name == "Person 09"
    assert model.person_for_number_key(9).name == "Person 01"
    assert model.person_for_number_key(10) is None
    assert model.index(0).data(SHORTCUT_ROLE) == "9" and model.index(9).data(SHORTCUT_ROLE) is None
    assert model.display_name(rows[0]) == "9  Person 01"


def test_count_changes_update_rows_in_place(qtbot):
    model = PersonListModel()
    model.set_persons(_rows(3))
    resets, changed = [], []
    model.modelReset.connect(lambda: resets.append(True))
    model.dataChanged.connect(lambda first, last, roles: changed.append(first.row()))
    rows = _rows(3)
    rows[1] = PersonRow(rows[1].id, rows[1].name, 99)
    model.set_persons(rows)
    assert changed == [1] and not resets and model.index(1).data(COUNT_ROLE) == 99
    model.set_persons(rows[:2])  # a person went away: the list resets
    assert resets == [True] and model.rowCount() == 2
