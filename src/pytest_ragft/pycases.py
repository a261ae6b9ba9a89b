"""Eval cases written in Python: the ``ragft`` marker and the ``ragft`` fixture."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pytest

from pytest_ragft.model import (
    KINDS,
    CallError,
    Case,
    CaseRecord,
    CheckOutcome,
    RepeatRecord,
    Result,
    input_text,
)

if TYPE_CHECKING:
    from pytest_ragft.runner import Runner

MARKER_KEYS = {"kind", "facts", "tags", "volatile", "repeats", "min_pass_ratio", "gold_contexts"}


class PipelineCallError(Exception):
    """``ragft.ask`` got no usable answer: the pipeline raised, timed out or returned a bad type."""


class Ragft:
    """The ``ragft`` fixture: calls the pipeline and keeps the last result for the diagnosis."""

    def __init__(self, runner: Runner | None, case: Case | None) -> None:
        self._runner = runner
        self.case = case
        self.result: Result | None = None
        self.error: CallError | None = None
        self.last_input = ""  # what the case asked, for the record and the training audit

    def ask(self, input: Any, **vars: Any) -> Result:
        """Call the pipeline with ``input`` and ``vars``; raise PipelineCallError on failure."""
        if self._runner is None:
            raise pytest.UsageError(
                "ragft.ask needs pytest-ragft active: add a [tool.ragft] table to pyproject.toml "
                "or run with --ragft"
            )
        self.last_input = input_text(input)
        outcome = self._runner.ask(input, vars)
        if isinstance(outcome, CallError):
            self.error = outcome
            raise PipelineCallError(outcome.message)
        self.error = None
        self.result = outcome
        return outcome


def marker_case(item: pytest.Item) -> Case | None:
    """The Case a ``@pytest.mark.ragft(kind=...)`` test stands for; None when unmarked."""
    marker = item.get_closest_marker("ragft")
    if marker is None or not isinstance(item, pytest.Function):
        return None
    kwargs: Mapping[str, Any] = marker.kwargs
    unknown = set(kwargs) - MARKER_KEYS
    where = f"{item.nodeid}: @pytest.mark.ragft"
    if unknown:
        raise pytest.UsageError(
            f"{where} has unknown argument(s) {', '.join(sorted(unknown))}; "
            f"expected some of {', '.join(sorted(MARKER_KEYS))}"
        )
    kind = kwargs.get("kind", marker.args[0] if marker.args else None)
    if kind not in KINDS:
        raise pytest.UsageError(f"{where} needs kind='knowledge' or kind='behavior', got {kind!r}")
    facts = kwargs.get("facts", ())
    tags = kwargs.get("tags", ())
    return Case(
        id=case_id(item),
        kind=kind,
        facts=(facts,) if isinstance(facts, str) else tuple(facts),
        tags=(tags,) if isinstance(tags, str) else tuple(tags),
        volatile=bool(kwargs.get("volatile", False)),
        gold_contexts=tuple(kwargs.get("gold_contexts", ())),
        repeats=kwargs.get("repeats"),
        min_pass_ratio=kwargs.get("min_pass_ratio"),
        source=item.nodeid.split("::")[0],
        line=(item.reportinfo()[1] or 0) + 1,
        path=item.path,
    )


def case_id(item: pytest.Item) -> str:
    """The test's node id without the ``[rN]`` repeat parameter."""
    nodeid = item.nodeid
    if nodeid.endswith("]") and "[r" in nodeid:
        base, _, param = nodeid.rpartition("[")
        if param[1:-1].isdigit() and param.startswith("r"):
            return base
    return nodeid


def record_for(
    case: Case,
    report: pytest.TestReport,
    fixture: Ragft | None,
    repeat: int,
    min_pass_ratio: float,
) -> CaseRecord:
    """A Python case's record from its test report (one repeat per item)."""
    from pytest_ragft import diagnosis
    from pytest_ragft.checks import shorten

    result = fixture.result if fixture else None
    error = fixture.error if fixture else None
    if report.skipped:
        outcome = "skipped"
    elif report.passed:
        outcome = "passed"
    elif error is not None or report.when != "call":
        outcome = "error"
    else:
        outcome = "failed"
    message = ""
    if outcome in ("failed", "error"):
        crash = getattr(report.longrepr, "reprcrash", None)
        message = crash.message if crash is not None else str(report.longrepr).splitlines()[-1]
        message = shorten(message, 300)
    repeat_record = RepeatRecord(
        repeat=repeat,
        outcome=outcome,  # type: ignore[arg-type]
        messages=[message] if message else [],
        answer=result.answer[:2000] if result else None,
        contexts=list(result.contexts) if result else [],
        latency_s=round(report.duration, 6),
        error=error.message if error else None,
    )
    record = CaseRecord(
        id=case.id,
        nodeid=report.nodeid,
        kind=case.kind,
        outcome=outcome,  # type: ignore[arg-type]
        pass_ratio=None if outcome == "skipped" else float(outcome == "passed"),
        tags=list(case.tags),
        volatile=case.volatile,
        source=case.source,
        input=fixture.last_input if fixture else "",
        facts=list(case.effective_facts),
        repeats=[repeat_record],
        messages=[message] if message else [],
        python=True,
        min_pass_ratio=case.min_pass_ratio if case.min_pass_ratio is not None else min_pass_ratio,
    )
    if outcome == "error":
        record.static_diagnosis = record.diagnosis = "error"
    elif outcome == "failed":
        failures = [CheckOutcome("assert", False, message)]
        static = diagnosis.static_diagnosis(case, result, failures, False)
        record.static_diagnosis = record.diagnosis = static
    return record
