"""Readers of other eval tools' files, so a team brings the suite it already has.

Each module turns one tool's records into native case mappings and hands them to
``CaseBuilder``, so imported cases get the same validation and ``file:line`` errors as ours.
What a format holds that pytest-ragft cannot run is named (a skip reason or an error),
never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_ragft.model import KINDS

if TYPE_CHECKING:
    from pytest_ragft.cases import CaseBuilder

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


def open_file(
    path: Path,
    rootdir: Path,
    *,
    fmt: str,
    kind: str | None,
    check_names: Collection[str],
    where_kind: str = "",
) -> tuple[str, str, CaseBuilder]:
    """Every importer's opening: the file's display name, its text, and a builder whose
    missing-kind hint names where a kind may be given (``where_kind``, then the setting)."""
    from pytest_ragft.cases import CaseBuilder, display_path, read_text

    display = display_path(path, rootdir)
    text = read_text(path, display)
    builder = CaseBuilder(
        path,
        rootdir,
        check_names=check_names,
        default_kind=kind,
        kind_hint=where_kind + kind_setting_hint(fmt, display),
        skipped_need_checks=False,
    )
    return display, text, builder


def no_kind(builder: CaseBuilder, records: str) -> None:
    """Say once for the whole file that its ``records`` carry no kind, instead of once per
    record, and go on as knowledge so the rest of the file is still checked."""
    from pytest_ragft.cases import Problem

    message = f"{records} carry no kind: {builder.kind_hint}"
    builder.problems.append(Problem(None, "kind", message))
    builder.default_kind = "knowledge"
