"""Load any case file: pytest-ragft's own formats through ``cases``, another tool's through
its importer (``importers/``), so neither imports the other."""

from __future__ import annotations

import importlib
from collections.abc import Collection
from pathlib import Path

from pytest_ragft.cases import (
    BUILTIN_CHECK_NAMES,
    IMPORT_FORMATS,
    CaseFileError,
    Problem,
    check_kind,
    display_path,
    load_native,
)
from pytest_ragft.model import Case
from pytest_ragft.wording import suggest


def load_case_file(
    path: Path,
    rootdir: Path,
    *,
    fmt: str | None = None,
    kind: str | None = None,
    check_names: Collection[str] = BUILTIN_CHECK_NAMES,
) -> list[Case]:
    """The cases of one file; ``fmt`` names another tool's format, ``kind`` is the default kind."""
    if fmt is None:
        return load_native(path, rootdir, kind=kind, check_names=check_names)
    display = display_path(path, rootdir)
    check_kind(kind, display)
    module_name = IMPORT_FORMATS.get(fmt)
    if module_name is None:
        message = f"unknown case file format {fmt!r}{suggest(fmt, IMPORT_FORMATS)}; "
        message += f"formats: {', '.join(IMPORT_FORMATS)}"
        raise CaseFileError(display, [Problem(None, "format", message)])
    importer = importlib.import_module(f"pytest_ragft.importers.{module_name}")
    cases: list[Case] = importer.load(path, rootdir, kind=kind, check_names=check_names)
    return cases
