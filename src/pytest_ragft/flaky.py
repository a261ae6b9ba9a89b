"""Flaky cases: an outcome that alternates while nothing changed.

A case is flaky when its repeats disagree within this run, when it passed and failed at the
same git commit with its own content unchanged (a re-run), or when its outcome flipped back
and forth (at least two flips) over the recent runs with its content unchanged. One change of
outcome after a change is a fix or a regression, reported as a change, never as flakiness.

Pure: the history of each case is handed in.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pytest_ragft.model import CaseRecord

MIN_FLIPS = 2


@dataclass(frozen=True)
class Observation:
    """One earlier (or this) run's outcome of a case: where it ran and what the case held."""

    run_id: str
    sha: str | None
    content: str | None  # the case's expectations' digest (``CaseRecord.content``)
    passed: bool
    started_at: str = ""  # ISO 8601, for the signal's horizon


@dataclass(frozen=True)
class FlakyCase:
    """A flaky case, the rule that found it, and the runs that show it."""

    id: str
    rule: str  # "repeats", "same_commit" or "alternating"
    detail: str
    runs: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "rule": self.rule, "detail": self.detail, "runs": list(self.runs)}


def flaky_cases(
    cases: Sequence[CaseRecord],
    history: Mapping[str, Sequence[Observation]],
    *,
    run_id: str,
    sha: str | None,
) -> list[FlakyCase]:
    """The flaky cases among ``cases``; ``history`` holds each case's earlier observations,
    oldest first."""
    found = []
    for case in cases:
        why = within_run(case)
        if why is None and case.outcome != "skipped":
            this = Observation(run_id, sha, case.content, case.outcome == "passed")
            seen = [*history.get(case.id, ()), this]
            why = same_commit(case.id, seen) or alternating(case.id, seen)
        if why is not None:
            found.append(why)
    return sorted(found, key=lambda f: f.id)


def within_run(case: CaseRecord) -> FlakyCase | None:
    """Repeats of this run that disagree."""
    counted = [r for r in case.repeats if r.outcome != "skipped"]
    passed = sum(r.outcome == "passed" for r in counted)
    if 0 < passed < len(counted):
        return FlakyCase(
            case.id, "repeats", f"repeats disagree in this run: {passed} of {len(counted)} passed"
        )
    return None


def same_commit(case_id: str, seen: Sequence[Observation]) -> FlakyCase | None:
    """Passed and failed at one commit with the case's content unchanged: a re-run."""
    by_commit: dict[tuple[str, str | None], list[Observation]] = {}
    for obs in seen:
        if obs.sha:
            by_commit.setdefault((obs.sha, obs.content), []).append(obs)
    for (commit, _), group in by_commit.items():
        if len({o.passed for o in group}) > 1:
            runs = tuple(o.run_id for o in group)
            detail = (
                f"passed and failed at commit {commit[:12]} with the case unchanged "
                f"({len(group)} runs)"
            )
            return FlakyCase(case_id, "same_commit", detail, runs)
    return None


def alternating(case_id: str, seen: Sequence[Observation]) -> FlakyCase | None:
    """At least ``MIN_FLIPS`` changes of outcome over the latest runs in which the case's
    content stayed as it is now."""
    if not seen:
        return None
    now = seen[-1].content
    unchanged: list[Observation] = []
    for obs in reversed(seen):
        if obs.content != now:
            break
        unchanged.append(obs)
    unchanged.reverse()
    flips = sum(a.passed != b.passed for a, b in itertools.pairwise(unchanged))
    if flips < MIN_FLIPS:
        return None
    pattern = "".join("P" if o.passed else "F" for o in unchanged)
    detail = (
        f"{flips} flips over the last {len(unchanged)} runs with the case unchanged ({pattern})"
    )
    return FlakyCase(case_id, "alternating", detail, tuple(o.run_id for o in unchanged))
