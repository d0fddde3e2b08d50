"""Durations as people type them: ``90``, ``90s``, ``30m``, ``8h``, ``2d``."""

from __future__ import annotations

import math

from fleetwarden.errors import InputError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, *, option: str, minimum: int = 1, maximum: int) -> int:
    """Whole seconds; ``option`` names the setting in the one-line error."""
    value = text.strip().lower()
    factor = _UNITS.get(value[-1:], 0) if value else 0
    number = value[:-1] if factor else value
    try:
        amount = float(number)
        if not math.isfinite(amount):
            raise ValueError(number)
        seconds = int(amount * (factor or 1))
    except (ValueError, OverflowError):
        raise InputError(f"{option} {text[:32]!r}: use seconds or a number with s, m, h or d"
                         ) from None
    if not minimum <= seconds <= maximum:
        raise InputError(f"{option} {text[:32]!r}: must be between {describe(minimum)} and "
                         f"{describe(maximum)}")
    return seconds


def describe(seconds: int) -> str:
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit[:-1] if n == 1 else unit}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"
