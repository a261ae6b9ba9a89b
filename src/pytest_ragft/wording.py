"""How messages word a value that came, the spelling that was likely meant, and a rate.

Settings, case files and deepeval specs all say "got a string ('x')" and "(did you mean 'x'?)"
the same way, and every evidence sentence writes a measured rate as 77.5%. Pure and standard
library only, so any module can import it for nothing.
"""

from __future__ import annotations

import datetime
import difflib
from collections.abc import Iterable

SHOWN_CHARS = 60  # a longer string is cut, so one bad value cannot flood a message


def suggest(word: object, options: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest option, or ``""``.

    Close means a similar spelling, or the start of exactly one option (``queries`` for
    ``queries_per_month``), since a shortened name is a common slip too.
    """
    text = str(word)
    choices = sorted(set(options))
    close = difflib.get_close_matches(text, choices, n=1, cutoff=0.6)
    if not close and len(text) >= 3:
        close = [o for o in choices if o.startswith(text)]
    return f" (did you mean {close[0]!r}?)" if len(close) == 1 else ""


def describe(value: object, *, toml: bool = False) -> str:
    """What came, by its type and, when it is a scalar, its value: ``a string ('x')``.

    ``toml`` names containers as TOML does (array, table) for settings read from
    ``pyproject.toml``; otherwise they are a list and a mapping, as in YAML and JSON.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"an integer ({_cut(str(value))})"
    if isinstance(value, float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({_cut(value)!r})"
    if isinstance(value, datetime.datetime):
        return f"a date-time ({value.isoformat()})"
    if isinstance(value, datetime.date):
        return f"a date ({value.isoformat()})"
    if isinstance(value, datetime.time):
        return f"a time ({value.isoformat()})"
    if isinstance(value, list | tuple):
        noun = "array" if toml else "list"
        return f"an empty {noun}" if not value else ("an " if toml else "a ") + noun
    if isinstance(value, dict):
        return "a table" if toml else "a mapping"
    name = type(value).__name__
    return ("an " if name[:1].lower() in "aeiou" else "a ") + name


def plural(count: int, noun: str, many: str | None = None) -> str:
    """A count with its noun in the right number: ``1 case``, ``2 cases``, ``0 cases``
    (``many`` for a plural that is not the noun plus ``s``: ``"diagnoses"``)."""
    return f"{count} {number_of(count, noun, many)}"


def number_of(count: int, noun: str, many: str | None = None) -> str:
    """The noun alone in the number ``count`` asks for, where the count is set apart."""
    return noun if count == 1 else many or noun + "s"


def percent(rate: float) -> str:
    """A measured rate, always with one decimal (0.775 -> ``77.5%``, 0.9 -> ``90.0%``), so
    rates side by side line up and a change of a tenth of a point shows."""
    return f"{rate * 100:.1f}%"


def _cut(text: str) -> str:
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."
