"""Case files as ``pytest.File`` collectors and cases as ``pytest.Item``s.

An item waits for its case's evaluation (issued ahead by the runner) and reports it: one item
per case, however many repeats, so the output reads one line per case with its pass ratio.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_ragft.model import DIAGNOSES, Case, CaseRecord

if TYPE_CHECKING:
    from pytest_ragft.config import CaseSource
    from pytest_ragft.runner import Evaluation, Runner

# Ids seen so far in this process, for duplicate detection across files.
seen_ids_key = pytest.StashKey[dict[str, tuple[str, int]]]()
checks_key = pytest.StashKey[dict[str, Any]]()
runner_key: pytest.StashKey[Runner] = pytest.StashKey()


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
        from pytest_ragft.cases import load_case_file
        from pytest_ragft.session import registry

        names = {*registry(self.config), "deepeval"}
        cases = load_case_file(
            self.path,
            self.config.rootpath,
            fmt=self.source.format,
            kind=self.source.kind,
            check_names=names,
        )
        seen = self.config.stash.setdefault(seen_ids_key, {})
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
        self.add_marker(case.kind)
        self.add_marker("ragft")
        if case.skip:
            self.add_marker(pytest.mark.skip(reason=case.skip))
        if case.xfail:
            self.add_marker(pytest.mark.xfail(reason=case.xfail, strict=False))

    def runtest(self) -> None:
        runner = self.config.stash[runner_key]
        self.evaluation = runner.submit(self.case).result()
        apply_diagnose_hook(self.config, self.case, self.evaluation)
        record = self.evaluation.record
        if record.outcome != "passed":
            raise CaseFailed(record)

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
            if self.evaluation is not None:
                record = self.evaluation.record
            else:
                record = _bare(case, "error", 0.0, messages=[crash_message(report)])
                record.static_diagnosis = record.diagnosis = "error"
        elif report.when == "setup" and (report.skipped or report.failed):
            outcome = "skipped" if report.skipped else "error"
            record = _bare(case, outcome, None, skip_reason=case.skip or crash_message(report))
        if record is not None and hasattr(report, "wasxfail"):
            record.outcome, record.skip_reason = "skipped", f"xfail: {report.wasxfail}"
        return record

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, max(self.case.line - 1, 0), f"{self.case.kind} case {self.case.id}"


def apply_diagnose_hook(config: pytest.Config, case: Case, evaluation: Evaluation) -> None:
    """Let a ``pytest_ragft_diagnose`` implementation override the built-in diagnosis; a value
    it may not return stops the run once (a usage error), not once per case."""
    record = evaluation.record
    if record.outcome not in ("failed", "error"):
        return
    override = config.hook.pytest_ragft_diagnose(
        case=case, result=evaluation.result, failures=evaluation.failures
    )
    if override is None:
        return
    if override not in DIAGNOSES:
        pytest.exit(
            f"pytest_ragft_diagnose returned {override!r} for case {case.id!r}; "
            f"expected one of {', '.join(DIAGNOSES)} or None",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
    record.diagnosis = override


def _bare(case: Case, outcome: str, pass_ratio: float | None, **extra: Any) -> CaseRecord:
    return CaseRecord(
        case.id,
        f"{case.source}::{case.id}",
        case.kind,
        outcome,  # type: ignore[arg-type]
        pass_ratio,
        tags=list(case.tags),
        volatile=case.volatile,
        source=case.source,
        input=case.input_text,
        **extra,
    )


def crash_message(report: pytest.TestReport) -> str:
    """The one-line reason pytest gives for a failed or skipped phase."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)
    if isinstance(report.longrepr, tuple):  # a skip: (path, line, reason)
        return str(report.longrepr[2])
    lines = str(report.longrepr or "").strip().splitlines()
    return lines[-1] if lines else ""


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
        diag += f" (static {record.static_diagnosis}, counterfactual run {record.counterfactual})"
    lines.append(diag)
    return "\n".join(lines)
