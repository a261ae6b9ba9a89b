"""Case records: the pass rule, the one place a record is made from its repeats, and the merge
of a Python case's repeat items into one case.

Pure: no pytest, files or network. File cases (the runner), Python cases (one item per repeat)
and the summary all go through these functions, so a case passes by the same rule everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from pytest_ragft.model import (
    Case,
    CaseRecord,
    Evidence,
    Outcome,
    RepeatRecord,
    expectations_digest,
)
from pytest_ragft.retrieval import case_measures


@dataclass(frozen=True)
class Diagnosed:
    """A failed case's diagnosis: static, the counterfactual re-run's outcome, and the final
    one (after the re-run and the ``pytest_ragft_diagnose`` hook)."""

    static: str | None = None
    counterfactual: str | None = None
    final: str | None = None


def pass_rule(
    repeats: Sequence[RepeatRecord], min_pass_ratio: float
) -> tuple[Outcome, float | None]:
    """A case passes when passed repeats / repeats >= ``min_pass_ratio`` (SPEC 7); skipped
    repeats do not count; a case that did not pass failed if any repeat failed, else errored."""
    counted = [r for r in repeats if r.outcome != "skipped"]
    if not counted:
        return "skipped", None
    ratio = sum(r.outcome == "passed" for r in counted) / len(counted)
    if ratio >= min_pass_ratio:
        return "passed", round(ratio, 6)
    if any(r.outcome == "failed" for r in counted):
        return "failed", round(ratio, 6)
    return "error", round(ratio, 6)


def make_record(
    case: Case,
    repeats: Sequence[RepeatRecord],
    *,
    min_pass_ratio: float,
    diagnosed: Diagnosed | None = None,
    messages: Sequence[str] = (),
    nodeid: str | None = None,
    input: str | None = None,
    python: bool = False,
    decided: tuple[Outcome, float | None] | None = None,
    skip_reason: str | None = None,
    evidence: Evidence | None = None,
) -> CaseRecord:
    """A case's record from its repeats. ``decided`` (outcome and pass ratio) is given only
    where no repeat ran to judge (a skipped case, a crashed phase); a passing case carries no
    messages, diagnosis or evidence. ``min_pass_ratio`` is the one the case was judged by,
    recorded for every case."""
    outcome, ratio = decided or pass_rule(repeats, min_pass_ratio)
    diagnosed = diagnosed or Diagnosed()
    passed = outcome in ("passed", "skipped")
    return CaseRecord(
        id=case.id,
        nodeid=nodeid or f"{case.source}::{case.id}",
        kind=case.kind,
        outcome=outcome,
        pass_ratio=ratio,
        tags=list(case.tags),
        volatile=case.volatile,
        source=case.source,
        input=case.input_text if input is None else input,
        facts=list(case.effective_facts),
        repeats=list(repeats),
        messages=[] if passed else list(messages),
        static_diagnosis=None if passed else diagnosed.static,
        counterfactual=None if passed else diagnosed.counterfactual,
        diagnosis=None if passed else diagnosed.final,
        python=python,
        skip_reason=skip_reason,
        min_pass_ratio=min_pass_ratio,
        content=expectations_digest(case),
        evidence=None if passed else evidence,
        retrieval=case_measures(case, repeats),
        gold_sources=list(case.gold_sources),
    )


def outcome_counts(records: Iterable[CaseRecord]) -> dict[str, int]:
    """Passed, failed, error and skipped cases, and the total a rate is taken over."""
    counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    for record in records:
        counts[record.outcome] += 1
    counts["total"] = counts["passed"] + counts["failed"] + counts["error"]
    return counts


def merge_records(records: Iterable[CaseRecord]) -> list[CaseRecord]:
    """One record per case: a Python case with repeats arrives as one record per repeat item
    (under xdist in any order), merged here in repeat order and judged by the pass rule."""
    merged: dict[str, CaseRecord] = {}
    copied: set[str] = set()  # the records merged into, copies: the ones given stay as given
    ordered = sorted(records, key=lambda r: (r.id if r.python else r.nodeid, _first_repeat(r)))
    for record in ordered:
        key = record.id if record.python else record.nodeid
        into = merged.get(key)
        if into is None:
            merged[key] = record if record.nodeid == key else replace(record, nodeid=key)
            continue
        if key not in copied:
            into = merged[key] = replace(
                into, repeats=list(into.repeats), messages=list(into.messages)
            )
            copied.add(key)
        into.repeats.extend(record.repeats)
        into.static_diagnosis = into.static_diagnosis or record.static_diagnosis
        into.diagnosis = into.diagnosis or record.diagnosis
        into.evidence = into.evidence or record.evidence
        into.retrieval = into.retrieval or record.retrieval
        into.messages.extend(m for m in record.messages if m not in into.messages)
    for key, into in merged.items():
        if into.python and len(into.repeats) > 1:
            merged[key] = _judged(into)
    return sorted(merged.values(), key=lambda r: (r.source, r.nodeid))


def _first_repeat(record: CaseRecord) -> int:
    return record.repeats[0].repeat if record.repeats else 0


def _judged(record: CaseRecord) -> CaseRecord:
    """A merged Python case judged again over all its repeats by the one pass rule."""
    repeats = sorted(record.repeats, key=lambda r: r.repeat)
    needed = 1.0 if record.min_pass_ratio is None else record.min_pass_ratio
    outcome, ratio = pass_rule(repeats, needed)
    if outcome in ("passed", "skipped"):
        return replace(
            record,
            repeats=repeats,
            outcome=outcome,
            pass_ratio=ratio,
            messages=[] if outcome == "passed" else record.messages,
            diagnosis=None if outcome == "passed" else record.diagnosis,
            static_diagnosis=None if outcome == "passed" else record.static_diagnosis,
            evidence=None if outcome == "passed" else record.evidence,
        )
    return replace(record, repeats=repeats, outcome=outcome, pass_ratio=ratio)
