"""Whether a failure's signal is volatile or stable: declared by its case, measured from the
case's own history, or the matrix's default, and which of the three it was.

Evidence is the history of the case's expectations: they changed between stored runs within
the horizon, volatile; they stayed the same for the whole horizon with runs spanning it,
stable; otherwise there is no evidence and the default of ``[tool.ragft.matrix]`` applies.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

from pytest_ragft.checklist import Cell, matrix_cell
from pytest_ragft.diagnosis import BEHAVIOR_BOUND
from pytest_ragft.model import CaseRecord

if TYPE_CHECKING:
    from pytest_ragft.config import MatrixSettings

PLACED_BY = ("declaration", "evidence", "default")


def measured_volatility(
    contents: Collection[str], content: str | None, spans_horizon: bool
) -> bool | None:
    """True when the case's expectations took another form within the horizon (``contents``:
    the digests its stored runs since the horizon's start hold), False when they held for the
    whole of it (the stored runs reach back to its start), None without evidence."""
    if content is None or not contents:
        return None
    if any(other != content for other in contents):
        return True
    return False if spans_horizon else None


def place(
    case: CaseRecord,
    contents: Mapping[str, Collection[str]],
    spans_horizon: bool,
    matrix: MatrixSettings,
) -> tuple[Cell | None, str]:
    """A failure's cell and how its signal was known: declared, by evidence, or by default."""
    if case.volatile is not None:
        return matrix_cell(case.diagnosis, case.volatile), "declaration"
    measured = measured_volatility(contents.get(case.id, ()), case.content, spans_horizon)
    if measured is not None:
        return matrix_cell(case.diagnosis, measured), "evidence"
    if case.diagnosis == "knowledge":
        return matrix.knowledge, "default"
    if case.diagnosis in BEHAVIOR_BOUND:
        return matrix.behavior, "default"
    return None, "default"
