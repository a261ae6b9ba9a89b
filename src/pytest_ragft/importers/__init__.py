"""Readers of other eval tools' files, so a team brings the suite it already has.

Each module turns one tool's records into native case mappings and hands them to
``CaseBuilder``, so imported cases get the same validation and ``file:line`` errors as ours.
What a format holds that pytest-ragft cannot run is named (a skip reason or an error),
never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pytest_ragft.model import KINDS

_NOT_ID = re.compile(r"[^A-Za-z0-9_.:-]+")


def slug(text: str) -> str:
    """Text made into a case id: runs of other characters become '-'."""
    return _NOT_ID.sub("-", text.strip()).strip("-.:")[:80].strip("-.:")


def unique(candidate: str, taken: set[str]) -> str:
    """``candidate``, or ``candidate-2``, ``-3``... when already taken; records the result."""
    result, n = candidate, 1
    while result in taken:
        n += 1
        result = f"{candidate}-{n}"
    taken.add(result)
    return result


def kind_from(metadata: Any) -> str | None:
    """A kind declared in a record's metadata: ``kind``, or a ``knowledge``/``behavior`` tag."""
    if not isinstance(metadata, Mapping):
        return None
    declared = metadata.get("kind")
    if isinstance(declared, str):
        return declared
    return kind_from_tags(metadata.get("tags"))


def kind_from_tags(tags: Any) -> str | None:
    if isinstance(tags, list):
        for tag in tags:
            if tag in KINDS:
                return str(tag)
    return None


def string_list(value: Any) -> list[str] | None:
    """A list of strings as is, else None (the caller reports it)."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def kind_setting_hint(fmt: str, display: str) -> str:
    return (
        f'set kind on its cases entry in [tool.ragft], e.g. cases = [{{path = "{display}", '
        f'format = "{fmt}", kind = "knowledge"}}]'
    )


def names(items: Iterable[str]) -> str:
    return ", ".join(repr(i) for i in items)
