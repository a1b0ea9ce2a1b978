"""Which run the Evaluate page's picker chooses (issue 18: after training it kept an
older run instead of the one just trained)."""

from __future__ import annotations

from gui.widgets.run_picker import RunChoice, RunPicker


def _choice(n: int, accuracy: float | None = 0.5) -> RunChoice:
    return RunChoice(f"run-{n}", "customcnn1", "completed", 1_700_000_000.0 + n, accuracy)


def test_a_run_trained_since_the_last_fill_is_chosen(qtbot):
    picker = RunPicker()
    qtbot.addWidget(picker)
    picker.set_choices([_choice(2), _choice(1)])  # newest first
    assert picker.current_run_id() == "run-2"
    picker.select_run("run-1")  # the student looks at an older run, then trains again
    with qtbot.waitSignal(picker.run_chosen) as chosen:
        picker.set_choices([_choice(3, accuracy=None), _choice(2), _choice(1)])
    assert chosen.args == ["run-3"] and picker.current_run_id() == "run-3"
    # Its evaluation arriving is no new run: the choice stays.
    picker.select_run("run-1")
    picker.set_choices([_choice(3), _choice(2), _choice(1)])
    assert picker.current_run_id() == "run-1"


def test_the_newest_run_is_chosen_first_even_before_it_is_evaluated(qtbot):
    picker = RunPicker()
    qtbot.addWidget(picker)
    picker.set_choices([_choice(2, accuracy=None), _choice(1)])
    assert picker.current_run_id() == "run-2"
