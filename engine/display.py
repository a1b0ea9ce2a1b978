"""How the engine's numbers read to a student: one place, for the CLI and the app."""

from __future__ import annotations

import math


def confidence_text(probability: float) -> str:
    """A model's probability as a whole percent that never claims more than it is: a
    model 99.6% sure reads "99.6%", not "100%" (students read "100%" as certain), and a
    chance under half a percent reads "<1%", not "0%"."""
    percent = probability * 100
    whole = f"{percent:.0f}"
    if whole == "100" and percent < 100:
        return f"{math.floor(percent * 10) / 10:.1f}%"
    if whole == "0" and percent > 0:
        return "<1%"
    return f"{whole}%"
