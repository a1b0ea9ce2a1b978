"""Type-to-search: prefix matches first, a "new person" row only for a new name."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from gui.models.persons import PersonListModel
from gui.project_session import PersonRow
from gui.widgets.person_search import PersonSearchBar


def _bar(qtbot):
    persons = PersonListModel()
    persons.set_persons([PersonRow(1, "Alice", 3), PersonRow(2, "Malik", 1),
                         PersonRow(3, "Bob", 0)])
    bar = PersonSearchBar(persons)
    qtbot.addWidget(bar)
    return bar


def _rows(bar):
    return [bar.matches.item(i).text() for i in range(bar.matches.count())]


def test_prefix_matches_come_first_and_new_names_can_be_created(qtbot):
    bar = _bar(qtbot)
    bar.start("ali")
    assert _rows(bar)[:2] == ["Alice   (3)", "Malik   (1)"]
    assert _rows(bar)[-1] == "New person “ali”"
    bar.line_edit.setText("bob")
    assert _rows(bar) == ["Bob   (0)"]  # an exact name: nothing to create


def test_arrows_choose_and_enter_emits_the_person(qtbot):
    bar = _bar(qtbot)
    bar.start("ali")
    QTest.keyClick(bar.line_edit, Qt.Key.Key_Down)
    with qtbot.waitSignal(bar.person_chosen) as chosen:
        QTest.keyClick(bar.line_edit, Qt.Key.Key_Return)
    assert chosen.args == [2] and not bar.isVisible()


def test_escape_closes_without_choosing(qtbot):
    bar = _bar(qtbot)
    bar.start("x")
    with qtbot.assertNotEmitted(bar.new_person_named), qtbot.waitSignal(bar.closed):
        QTest.keyClick(bar.line_edit, Qt.Key.Key_Escape)


def test_matches_show_the_number_key_of_keyed_persons(qtbot):
    persons = PersonListModel()
    persons.set_persons([PersonRow(1, "Alice", 3, 2), PersonRow(2, "Alfred", 1)])
    bar = PersonSearchBar(persons)
    qtbot.addWidget(bar)
    bar.start("al")
    assert _rows(bar)[:2] == ["2  Alice   (3)", "Alfred   (1)"]
