import pytest

from engine.display import confidence_text


@pytest.mark.parametrize("probability, decimals, text", [
    (0.0, 0, "0%"), (0.001, 0, "<1%"), (0.0049, 0, "<1%"), (0.006, 0, "1%"),
    (0.5, 0, "50%"), (0.874, 0, "87%"), (0.994, 0, "99%"), (0.995, 0, "99.5%"),
    (0.996, 0, "99.6%"), (0.99999, 0, "99.9%"), (1.0, 0, "100%"),
    (0.8745, 1, "87.5%"), (0.9996, 1, "99.96%"), (0.0004, 1, "<0.1%"), (1.0, 1, "100.0%"),
])
def test_confidence_never_reads_certain_unless_it_is(probability, decimals, text):
    assert confidence_text(probability, decimals) == text
