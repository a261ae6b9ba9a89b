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
from pytest_ragft.model import Case, CaseRecord, Outcome
from pytest_ragft.records import Diagnosed, make_record
from pytest_ragft.report.fmt import diagnosis_path
from pytest_ragft.state import get_state
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
        self.evaluation: Evaluation | None = None
        self.case_record: CaseRecord | None = None
        self.add_marker(case.kind)
        self.add_marker("ragft")
        if case.skip:
            self.add_marker(pytest.mark.skip(reason=case.skip))
        if case.xfail:
            self.add_marker(pytest.mark.xfail(reason=case.xfail, strict=False))

    def runtest(self) -> None:
        evaluation = get_runner(self.config).submit(self.case).result()
        self.evaluation = evaluation
        override = None
        if evaluation.outcome in ("failed", "error"):
            override = diagnose_override(
                self.config, self.case, evaluation.result, evaluation.failures
            )
        self.case_record = evaluation.record(override)
        if self.case_record.outcome != "passed":
            raise CaseFailed(self.case_record)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailed):
            return describe_failure(excinfo.value.record)
        return str(super().repr_failure(excinfo))

    def record(self, report: pytest.TestReport) -> CaseRecord | None:
        """This case's record for one phase's report: the evaluation at ``call``; at setup, a
        skipped (or errored) case; a crash of the runner itself is an error, never a pass."""
        case = self.case
        record: CaseRecord | None = None
        if report.when == "call":
            record = self.case_record
            if record is None:
                record = _bare(case, ("error", 0.0), messages=[crash_message(report)])
        elif report.when == "setup" and (report.skipped or report.failed):
            outcome: Outcome = "skipped" if report.skipped else "error"
            record = _bare(case, (outcome, None), skip_reason=case.skip or crash_message(report))
        if record is not None and hasattr(report, "wasxfail"):
            record = replace(record, outcome="skipped", skip_reason=f"xfail: {report.wasxfail}")
        return record

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, max(self.case.line - 1, 0), f"{self.case.kind} case {self.case.id}"


def _bare(
    case: Case,
    decided: tuple[Outcome, float | None],
    messages: list[str] | None = None,
    skip_reason: str | None = None,
) -> CaseRecord:
    """The record of a case whose evaluation never ran or never reported."""
    error = Diagnosed("error", None, "error") if decided[0] == "error" and messages else None
    record = make_record(
        case,
        [],
        min_pass_ratio=1.0,
        decided=decided,
        diagnosed=error,
        messages=messages or [],
        skip_reason=skip_reason,
    )
    return replace(record, facts=[])


def describe_failure(record: CaseRecord) -> str:
    """The text pytest shows for a failed case: what failed, the pass ratio, the diagnosis."""
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
                lines.append(prefix + message)
                shown.add(message)
    for message in record.messages:
        if message.startswith("counterfactual"):
            lines.append("  " + message)
    diag = f"  diagnosis: {record.diagnosis}"
    if record.counterfactual is not None:
        diag += f" ({diagnosis_path(str(record.static_diagnosis), record.counterfactual)})"
    lines.append(diag)
    return "\n".join(lines)
