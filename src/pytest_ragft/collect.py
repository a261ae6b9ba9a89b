"""Case files as ``pytest.File`` collectors and cases as ``pytest.Item``s.

An item waits for its case's evaluation (issued ahead by the runner) and reports it: one item
per case, however many repeats, so the output reads one line per case with its pass ratio.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_ragft.checks import check_names
from pytest_ragft.model import Case, CaseRecord, ContextEvidence, Evidence, Outcome
from pytest_ragft.records import Diagnosed, make_record
from pytest_ragft.report import fmt
from pytest_ragft.report.escape import escape_terminal
from pytest_ragft.state import get_state
from pytest_ragft.wording import number_of
from pytest_ragft.worker import crash_message, diagnose_override, get_runner, registry

if TYPE_CHECKING:
    from pytest_ragft.config import CaseSource
    from pytest_ragft.runner import Evaluation


class DuplicateCaseIds(Exception):
    """A case id already used by another file of the suite."""


class CaseFailed(Exception):
    """An eval case that did not pass: carries its record for the failure report."""

    def __init__(self, record: CaseRecord) -> None:
        super().__init__(record.id)
        self.record = record


class CaseFile(pytest.File):
    """A case file named by ``cases`` in [tool.ragft]."""

    source: CaseSource

    def collect(self) -> Iterator[pytest.Item]:
        from pytest_ragft.casefiles import load_case_file

        names = check_names(registry(self.config))
        cases = load_case_file(
            self.path,
            self.config.rootpath,
            fmt=self.source.format,
            kind=self.source.kind,
            check_names=names,
        )
        state = get_state(self.config)
        assert state is not None  # collected only when the plugin is active
        seen = state.seen_ids
        duplicates = []
        for case in cases:
            where = seen.get(case.id)
            if where is not None and where[0] != case.source:
                duplicates.append(
                    f"{case.source}:{case.line}: duplicate case id {case.id!r}: "
                    f"also at {where[0]}:{where[1]}; ids must be unique in the suite"
                )
        if duplicates:
            raise DuplicateCaseIds("\n".join(duplicates))
        for case in cases:
            seen[case.id] = (case.source, case.line)
            yield CaseItem.from_parent(self, name=case.id, case=case)

    def repr_failure(  # type: ignore[override]
        self, excinfo: pytest.ExceptionInfo[BaseException]
    ) -> str:
        from pytest_ragft.cases import CaseFileError

        if isinstance(excinfo.value, (CaseFileError, DuplicateCaseIds)):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))


class CaseItem(pytest.Item):
    """One eval case: waits for its evaluation and reports it."""

    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.case_record: CaseRecord | None = None
        self.variant_records: dict[str, CaseRecord] = {}  # the variants' records of this case
        self.add_marker(case.kind)
        self.add_marker("ragft")
        if case.skip:
            self.add_marker(pytest.mark.skip(reason=case.skip))
        if case.xfail:
            self.add_marker(pytest.mark.xfail(reason=case.xfail, strict=False))

    def runtest(self) -> None:
        runner = get_runner(self.config)
        future = runner.submit(self.case)
        if not future.done():
            state = get_state(self.config)
            if state is not None and state.window is not None:
                state.window.top_up()
        self.case_record = self._diagnosed(future.result())
        self.variant_records = {
            name: self._diagnosed(future.result())
            for name, future in runner.variant_futures(self.case).items()
        }
        runner.release(self.case)
        if self.case_record.outcome != "passed":
            raise CaseFailed(self.case_record)

    def _diagnosed(self, evaluation: Evaluation) -> CaseRecord:
        """The evaluation's record, a failure diagnosed by the project's
        ``pytest_ragft_diagnose`` where it has one: the main pipeline's and each variant's
        the same way."""
        override = None
        if evaluation.outcome in ("failed", "error"):
            override = diagnose_override(
                self.config, self.case, evaluation.result, evaluation.failures
            )
        return evaluation.record(override)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailed):
            return describe_failure(excinfo.value.record)
        return str(super().repr_failure(excinfo))

    def record(self, report: pytest.TestReport) -> CaseRecord | None:
        """This case's record for one phase's report: the evaluation at ``call``; at setup, a
        skipped (or errored) case; a crash of the runner itself is an error, never a pass."""
        case = self.case
        record: CaseRecord | None = None
        state = get_state(self.config)
        ratio = case.min_pass_ratio
        if ratio is None:
            ratio = state.settings.min_pass_ratio if state is not None else 1.0
        if report.when == "call":
            record = self.case_record
            if record is None:
                record = _bare(case, ratio, ("error", 0.0), messages=[crash_message(report)])
        elif report.when == "setup" and (report.skipped or report.failed):
            outcome: Outcome = "skipped" if report.skipped else "error"
            reason = case.skip or crash_message(report)
            record = _bare(case, ratio, (outcome, None), skip_reason=reason)
        if record is not None and hasattr(report, "wasxfail"):
            record = replace(record, outcome="skipped", skip_reason=f"xfail: {report.wasxfail}")
        return record

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, max(self.case.line - 1, 0), f"{self.case.kind} case {self.case.id}"


def _bare(
    case: Case,
    min_pass_ratio: float,
    decided: tuple[Outcome, float | None],
    messages: list[str] | None = None,
    skip_reason: str | None = None,
) -> CaseRecord:
    """The record of a case whose evaluation never ran or never reported."""
    error = Diagnosed("error", None, "error") if decided[0] == "error" and messages else None
    record = make_record(
        case,
        [],
        min_pass_ratio=min_pass_ratio,
        decided=decided,
        diagnosed=error,
        messages=messages or [],
        skip_reason=skip_reason,
    )
    return replace(record, facts=[])


def describe_failure(record: CaseRecord) -> str:
    """The text pytest shows for a failed case: what failed, the pass ratio, the evidence the
    diagnosis read, the diagnosis."""
    total = len(record.repeats)
    passed = sum(r.outcome == "passed" for r in record.repeats)
    head = f"{record.kind} case {record.id!r} {record.outcome}"
    if total > 1:
        head += f" ({passed}/{total} repeats passed)"
    lines = [head]
    shown: set[str] = set()
    for repeat in record.repeats:
        for message in repeat.messages:
            prefix = f"  [r{repeat.repeat}] " if total > 1 else "  "
            if message not in shown or total > 1:
                lines.append(prefix + escape_terminal(message))
                shown.add(message)
    for message in record.messages:
        if message.startswith("counterfactual"):
            lines.append("  " + escape_terminal(message))
    if record.evidence is not None:
        lines += evidence_lines(record.evidence)
    diag = f"  diagnosis: {record.diagnosis}"
    if record.counterfactual is not None:
        diag += f" ({fmt.diagnosis_path(str(record.static_diagnosis), record.counterfactual)})"
    lines.append(diag)
    return "\n".join(lines)


TERMINAL_EXCERPT = 110  # characters of a context shown on its line under a failure


def evidence_lines(evidence: Evidence) -> list[str]:
    """A failure's evidence, short: the facts in the answer, a line for each context kept that
    holds a fact (rank, source, which facts, an excerpt around one), one line naming the
    others, and the gold-passage outcome where there was a re-run to tell of."""
    facts = evidence.facts
    lines = []
    if facts:
        marks = [
            f"{'has' if found else 'lacks'} {_quoted(fact)}"
            for fact, found in zip(facts, evidence.answer, strict=False)
        ]
        lines.append("  answer: " + " · ".join(marks[:6]) + (" · ..." if len(marks) > 6 else ""))
    if not evidence.contexts_total:
        lines.append("  contexts: none came back")
    empty = []
    for context in evidence.contexts:
        held = [_quoted(f) for f, found in zip(facts, context.facts, strict=False) if found]
        if not held:
            empty.append(_where(context))
            continue
        part = fmt.excerpt(context, TERMINAL_EXCERPT)
        text = escape_terminal(part.before + part.hit + part.after)
        text = ("…" if part.cut_before else "") + text + ("…" if part.cut_after else "")
        lines.append(f"  context {_where(context)} holds {', '.join(held[:4])}: {text}")
    if empty:
        n = len(empty)
        noun, verb = number_of(n, "context"), "holds" if n == 1 else "hold"
        lines.append(f"  {noun} {', '.join(empty)} {verb} no fact")
    more = fmt.more_contexts(len(evidence.contexts), evidence.contexts_total)
    if more:
        lines.append(f"  {more}")
    gold = fmt.gold_text(evidence.gold)
    if gold and evidence.gold != "not-needed":
        lines.append(f"  gold passages: {gold}")
    return lines


def _where(context: ContextEvidence) -> str:
    source = "" if context.source is None else f" ({escape_terminal(context.source, limit=60)})"
    return f"{context.rank}{source}"


def _quoted(fact: str) -> str:
    return f"'{escape_terminal(fact, limit=60)}'"
