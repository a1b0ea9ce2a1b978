import pytest

from engine.display import confidence_text


@pytest.mark.parametrize("probability, text", [
    (0.0, "0%"), (0.001, "<1%"), (0.0049, "<1%"), (0.006, "1%"), (0.5, "50%"),
    (0.874, "87%"), (0.994, "99%"), (0.995, "99.5%"), (0.996, "99.6%"),
    (0.99999, "99.9%"), (1.0, "100%"),
])
def test_confidence_never_reads_certain_unless_it_is(probability, text):
    assert confidence_text(probability) == text
