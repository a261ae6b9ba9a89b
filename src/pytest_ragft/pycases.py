"""Eval cases written in Python: the ``ragft`` marker and the ``ragft`` fixture."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

from pytest_ragft import costs, diagnosis
from pytest_ragft.model import (
    KINDS,
    CallError,
    Case,
    CaseRecord,
    CheckOutcome,
    Outcome,
    RepeatRecord,
    Result,
    input_text,
)
from pytest_ragft.records import Diagnosed, make_record
from pytest_ragft.report.escape import truncate
from pytest_ragft.state import item_state
from pytest_ragft.worker import VARIANT_RECORD, crash_message, diagnose_override

if TYPE_CHECKING:
    from pytest_ragft.runner import Runner

MARKER_KEYS = {
    "kind",
    "facts",
    "tags",
    "volatile",
    "repeats",
    "min_pass_ratio",
    "gold_contexts",
    "gold_sources",
}


class PipelineCallError(Exception):
    """``ragft.ask`` got no usable answer: the pipeline raised, timed out or returned a bad type."""


class Ragft:
    """The ``ragft`` fixture: calls the pipeline and keeps the last result for the diagnosis."""

    def __init__(self, runner: Runner | None, case: Case | None) -> None:
        self.runner = runner
        self.case = case
        self.result: Result | None = None
        self.error: CallError | None = None
        self.last_input = ""  # what the case asked, for the record and the training audit
        # While the test body runs again for a variant: its callable and vars.
        self.variant: tuple[Callable[..., Any], Mapping[str, Any]] | None = None

    def ask(self, input: Any, **vars: Any) -> Result:
        """Call the pipeline with ``input`` and ``vars``; raise PipelineCallError on failure."""
        __tracebackhide__ = True  # a failure shows the test's own line, not this frame
        if self.runner is None:
            raise pytest.UsageError(
                "ragft.ask needs pytest-ragft active: add a [tool.ragft] table to pyproject.toml "
                "or run with --ragft"
            )
        self.last_input = input_text(input)
        fn, merged = None, vars
        if self.variant is not None:
            fn, merged = self.variant[0], {**vars, **self.variant[1]}
        outcome = self.runner.ask(input, merged, fn)
        if isinstance(outcome, CallError):
            self.error = outcome
            raise PipelineCallError(outcome.message)
        self.error = None
        self.result = outcome
        return outcome


class MarkerError(Exception):
    """A ``@pytest.mark.ragft`` with arguments that cannot make a case: that test's error."""


def marker_case(item: pytest.Item) -> Case | None:
    """The Case a ``@pytest.mark.ragft(kind=...)`` test stands for; None when unmarked."""
    marker = item.get_closest_marker("ragft")
    if marker is None or not isinstance(item, pytest.Function):
        return None
    kwargs: Mapping[str, Any] = marker.kwargs
    where = f"{item.nodeid}: @pytest.mark.ragft"
    unknown = set(kwargs) - MARKER_KEYS
    if unknown:
        raise MarkerError(
            f"{where} has unknown argument(s) {', '.join(sorted(unknown))}; "
            f"expected some of {', '.join(sorted(MARKER_KEYS))}"
        )
    kind = kwargs.get("kind", marker.args[0] if marker.args else None)
    if kind not in KINDS:
        raise MarkerError(f"{where} needs kind='knowledge' or kind='behavior', got {kind!r}")
    repeats = kwargs.get("repeats")
    if repeats is not None and (
        not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1
    ):
        raise MarkerError(f"{where}: repeats must be a whole number >= 1, got {repeats!r}")
    ratio = kwargs.get("min_pass_ratio")
    if ratio is not None and (
        isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 < ratio <= 1
    ):
        raise MarkerError(f"{where}: min_pass_ratio must be a number in (0, 1], got {ratio!r}")
    if not isinstance(kwargs.get("volatile", False), bool | None):
        raise MarkerError(f"{where}: volatile must be True, False or None")
    return Case(
        id=case_id(item),
        kind=kind,
        facts=_strings(kwargs.get("facts", ()), "facts", where),
        tags=_strings(kwargs.get("tags", ()), "tags", where),
        volatile=kwargs.get("volatile"),
        gold_contexts=_strings(kwargs.get("gold_contexts", ()), "gold_contexts", where),
        gold_sources=_strings(kwargs.get("gold_sources", ()), "gold_sources", where),
        repeats=repeats,
        min_pass_ratio=ratio,
        source=item.nodeid.split("::")[0],
        line=(item.reportinfo()[1] or 0) + 1,
        path=item.path,
    )


def _strings(value: Any, name: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise MarkerError(f"{where}: {name} must be a string or a list of strings, got {value!r}")


def case_id(item: pytest.Item) -> str:
    """The test's node id without the ``[rN]`` repeat parameter."""
    nodeid = item.nodeid
    if nodeid.endswith("]") and "[r" in nodeid:
        base, _, param = nodeid.rpartition("[")
        if param[1:-1].isdigit() and param.startswith("r"):
            return base
    return nodeid


def record_for(
    item: pytest.Item, case: Case, report: pytest.TestReport, min_pass_ratio: float
) -> CaseRecord | None:
    """A Python case's record (one repeat per item) for the phase that decides it: ``call``,
    or a setup that failed or skipped. The diagnose hook has its say on a failure.

    At ``call``, with variants picked, the test body runs again once per variant with
    ``ragft.ask`` calling that variant (its vars merged over the call's), and each variant's
    record of the case goes on the report beside the main one."""
    if not (report.when == "call" or (report.when == "setup" and not report.passed)):
        return None
    fixture = item_state(item).fixture
    error = fixture.error if fixture else None
    outcome = _outcome(report, error)
    # The message as pytest gives it (the reports escape it), cut to one line's worth.
    message = truncate(crash_message(report), 300) if outcome in ("failed", "error") else ""
    ran = (outcome, message, report.duration)
    record = _record(item, case, fixture, ran, min_pass_ratio, hook=True)
    if report.when == "call" and outcome != "skipped":
        for name, variant in variant_records(item, case, min_pass_ratio).items():
            report.user_properties.append((VARIANT_RECORD, {"variant": name, **variant.to_dict()}))
    return record


def _record(
    item: pytest.Item,
    case: Case,
    fixture: Ragft | None,
    ran: tuple[Outcome, str, float],
    min_pass_ratio: float,
    *,
    hook: bool = False,
) -> CaseRecord:
    """The record of one run of the test body: ``ran`` is its outcome, its one-line message
    and its duration; the call's result and error are the fixture's. With ``hook`` the
    diagnose hook has its say on a failure (each pipeline's, as a file case's)."""
    outcome, message, duration = ran
    result = fixture.result if fixture else None
    error = fixture.error if fixture else None
    repeat = RepeatRecord(
        repeat=_repeat_number(item),
        outcome=outcome,
        messages=[message] if message else [],
        answer=result.answer[:2000] if result else None,
        contexts=list(result.contexts) if result else [],
        sources=list(result.sources) if result else [],
        latency_s=round(duration, 6),
        error=error.message if error else None,
        **(costs.usage(result.metadata) if result else {}),
    )
    failures = [CheckOutcome("assert", False, message)] if outcome == "failed" else []
    diagnosed = Diagnosed()
    evidence = None
    if outcome == "error":
        diagnosed = Diagnosed("error", None, "error")
    elif outcome == "failed":
        static = diagnosis.static_diagnosis(case, result, failures, False)
        diagnosed = Diagnosed(static, None, static)
        if result is not None:
            evidence = diagnosis.evidence(case, result, "python")
    if hook and outcome in ("failed", "error"):
        override = diagnose_override(item.config, case, result, failures)
        if override is not None:
            diagnosed = replace(diagnosed, final=override)
    ratio = case.min_pass_ratio if case.min_pass_ratio is not None else min_pass_ratio
    return make_record(
        case,
        [repeat],
        min_pass_ratio=ratio,
        diagnosed=diagnosed,
        messages=[message] if message else [],
        nodeid=item.nodeid,
        input=fixture.last_input if fixture else "",
        python=True,
        decided=(outcome, None if outcome == "skipped" else float(outcome == "passed")),
        evidence=evidence,
    )


def variant_records(item: pytest.Item, case: Case, min_pass_ratio: float) -> dict[str, CaseRecord]:
    """Each picked variant's record of a Python case: the test body run again (same item, same
    fixtures) with ``ragft.ask`` calling the variant through the same slots. Nothing when no
    variant is picked or the test does not call the pipeline through the ``ragft`` fixture."""
    fixture = item_state(item).fixture
    runner = fixture.runner if fixture is not None else None
    if fixture is None or runner is None or not runner.variants:
        return {}
    saved = (fixture.result, fixture.error, fixture.last_input)
    found = {}
    try:
        for name, pipeline in runner.variants.items():
            fixture.variant = pipeline
            fixture.result, fixture.error, fixture.last_input = None, None, ""
            ran = _run_again(item, fixture)
            found[name] = _record(item, case, fixture, ran, min_pass_ratio, hook=True)
    finally:
        fixture.variant = None
        fixture.result, fixture.error, fixture.last_input = saved
    return found


def _run_again(item: pytest.Item, fixture: Ragft) -> tuple[Outcome, str, float]:
    """Run the test body once more: its outcome, one-line message and duration."""
    start = time.perf_counter()
    outcome: Outcome = "passed"
    message = ""
    try:
        item.runtest()
    except (KeyboardInterrupt, pytest.exit.Exception):
        raise
    except (pytest.skip.Exception, pytest.xfail.Exception):
        outcome = "skipped"
    except (Exception, pytest.fail.Exception) as exc:
        outcome = "error" if fixture.error is not None else "failed"
        first = str(exc).strip().splitlines()
        message = truncate(
            f"{type(exc).__name__}: {first[0]}" if first else type(exc).__name__, 300
        )
    return outcome, message, time.perf_counter() - start


def _outcome(report: pytest.TestReport, error: CallError | None) -> Outcome:
    if report.skipped:
        return "skipped"
    if report.passed:
        return "passed"
    if error is not None or report.when != "call":
        return "error"
    return "failed"


def _repeat_number(item: pytest.Item) -> int:
    callspec = getattr(item, "callspec", None)
    return int(callspec.params.get("ragft_repeat", 1)) if callspec is not None else 1
