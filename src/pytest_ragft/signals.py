"""Whether a failure's signal is volatile or stable: declared by its case, measured from the
case's own history, or the matrix's default, and which of the three it was.

Evidence is the history of the case's expectations: they changed between stored runs within
the horizon, volatile; they stayed the same for the whole horizon with runs spanning it,
stable; otherwise there is no evidence and the default of ``[tool.ragft.matrix]`` applies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from pytest_ragft.checklist import Cell, matrix_cell
from pytest_ragft.diagnosis import BEHAVIOR_BOUND
from pytest_ragft.flaky import Observation
from pytest_ragft.model import CaseRecord

if TYPE_CHECKING:
    from pytest_ragft.config import MatrixSettings

PLACED_BY = ("declaration", "evidence", "default")


def measured_volatility(
    seen: Sequence[Observation], content: str | None, horizon_start: str
) -> bool | None:
    """True when the case's expectations changed within the horizon, False when they held
    for the whole of it (the stored runs reach back to its start), None without evidence."""
    within = [o for o in seen if o.started_at >= horizon_start and o.content is not None]
    if any(o.content != content for o in within):
        return True
    spans = any(o.started_at and o.started_at <= horizon_start for o in seen)
    if spans and within:
        return False
    return None


def place(
    case: CaseRecord,
    history: Mapping[str, Sequence[Observation]],
    horizon_start: str,
    matrix: MatrixSettings,
) -> tuple[Cell | None, str]:
    """A failure's cell and how its signal was known: declared, by evidence, or by default."""
    if case.volatile is not None:
        return matrix_cell(case.diagnosis, case.volatile), "declaration"
    measured = measured_volatility(history.get(case.id, ()), case.content, horizon_start)
    if measured is not None:
        return matrix_cell(case.diagnosis, measured), "evidence"
    if case.diagnosis == "knowledge":
        return matrix.knowledge, "default"
    if case.diagnosis in BEHAVIOR_BOUND:
        return matrix.behavior, "default"
    return None, "default"
