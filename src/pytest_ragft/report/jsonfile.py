"""The JSON report: written atomically, read back checked against the shipped schema.

Other tools build on this file, and ``ragft comment`` / ``ragft merge`` read it from other jobs,
so a report that breaks its own schema is refused on both sides rather than half-used.
"""

from __future__ import annotations

import json
import os
import tempfile
from functools import cache, partial
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from jsonschema.protocols import Validator


class ReportError(ValueError):
    """A report that cannot be written or read: says which file and what is wrong in it."""


def schema_text() -> str:
    """The shipped report schema (``ragft schema report``)."""
    return (resources.files("pytest_ragft") / "schemas" / "report.schema.json").read_text("utf-8")


@cache
def _validator() -> Validator:
    import jsonschema

    schema = json.loads(schema_text())
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


SAMPLED_CASES = 25


def schema_problem(report: Any) -> str | None:
    """The first (most relevant) schema violation as ``at KEY.PATH: message``; None if valid."""
    from jsonschema.exceptions import best_match

    error = best_match(_validator().iter_errors(report))
    if error is None:
        return None
    where = ".".join(str(p) for p in error.absolute_path) or "the top level"
    message = error.message if len(error.message) <= 300 else error.message[:299] + "…"
    return f"at {where}: {message}"


def encode(report: Mapping[str, Any]) -> str:
    """The report's text: its top-level keys indented, each item of a top-level list (the
    cases, the changes) on a line of its own. It reads and diffs case by case, and json's C
    encoder writes it: indented all the way down, json encodes in Python, several times
    slower, which at thousands of cases cost more than the rest of the finish."""
    dump = partial(json.dumps, ensure_ascii=False, allow_nan=False)
    members = []
    for key, value in report.items():
        if isinstance(value, list) and value:
            text = "[\n    " + ",\n    ".join(dump(item) for item in value) + "\n  ]"
        else:
            text = dump(value, indent=2).replace("\n", "\n  ")
        members.append(f"  {dump(key)}: {text}")
    return "{\n" + ",\n".join(members) + "\n}\n"


def write_json(report: Mapping[str, Any], path: Path) -> None:
    """Validate, then write a temporary file and rename it: readers never see half a report.

    Every case record comes from the same code, so a sample of them is checked: validating
    thousands of records on every run would cost more than the rest of the summary."""
    cases = report.get("cases")
    sample = {**report, "cases": cases[:SAMPLED_CASES]} if isinstance(cases, list) else report
    problem = schema_problem(sample)
    if problem is not None:
        raise ReportError(
            f"pytest-ragft built a report that does not match its own schema ({problem}); "
            f"{path} was not written. This is a bug in pytest-ragft: please report it."
        )
    try:
        text = encode(report)
    except ValueError as exc:
        raise ReportError(f"{path} was not written: the report holds {exc}") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_report(path: Path) -> dict[str, Any]:
    """A report written by ``write_json`` (perhaps in another job), checked against the schema."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file (was the report artifact downloaded?)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot be read: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(
            f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}); "
            "is it a truncated or different file?"
        ) from None
    problem = schema_problem(data)
    if problem is not None:
        raise ReportError(
            f"{path}: not a pytest-ragft report ({problem}); see `ragft schema report`"
        )
    assert isinstance(data, dict)  # the schema requires an object
    return data
