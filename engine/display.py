"""How the engine's numbers read to a student: one place, for the CLI and the app."""

from __future__ import annotations

import math


def confidence_text(probability: float, decimals: int = 0) -> str:
    """A model's probability as a percent that never claims more than it is: a model
    99.6% sure reads "99.6%", not "100%" (students read "100%" as certain), and a chance
    under what the last digit shows reads "<1%", not "0%". Otherwise rounded to
    ``decimals`` places."""
    percent = probability * 100
    text = f"{percent:.{decimals}f}"
    if float(text) >= 100 and percent < 100:
        # one more digit, cut (never rounded) so it stays under 100
        digits = decimals + 1
        return f"{math.floor(percent * 10 ** digits) / 10 ** digits:.{digits}f}%"
    if float(text) == 0 and percent > 0:
        return f"<{10 ** -decimals:g}%"
    return f"{text}%"


def size_text(num_bytes: int) -> str:
    """A file size as a student reads it: "44.7 MB" (decimal units, like the browser's
    download bar), "830 kB" under a megabyte."""
    if num_bytes < 1_000_000:
        return f"{num_bytes / 1000:.0f} kB" if num_bytes >= 1000 else f"{num_bytes} bytes"
    if num_bytes < 1_000_000_000:
        return f"{num_bytes / 1_000_000:.1f} MB"
    return f"{num_bytes / 1_000_000_000:.2f} GB"
