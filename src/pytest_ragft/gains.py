"""The gain each fix can buy, measured on this run's failures.

Fixing retrieval: the counterfactual re-run gave a failed case its gold passages; the cases
that then passed are what better retrieval can win, so the rate "if retrieval were fixed" is
the rate with them passing. A fine-tune: it addresses the behavior-bound failures (behavior
and hybrid), so at best every one of them passes, and ``fix_rate`` of them are expected to
(``expected_fix_rate``, or the rate a fine-tune variant measured on this run). Pure: records
in, a ``Gains`` out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pytest_ragft.diagnosis import BEHAVIOR_BOUND
from pytest_ragft.model import KINDS, CaseRecord
from pytest_ragft.records import outcome_counts
from pytest_ragft.runsummary import Gains, Lift


def lift(
    kind: str,
    records: Sequence[CaseRecord],
    addressed: Callable[[CaseRecord], bool],
    fixed: Callable[[CaseRecord], bool],
    fix_rate: float | None = None,
) -> Lift | None:
    """The lift of category ``kind`` from the failures ``addressed`` selects, of which
    ``fixed`` would pass; None when the fix addresses none of them."""
    counts = outcome_counts(records)
    failing = [r for r in records if r.outcome in ("failed", "error") and addressed(r)]
    total = counts["total"]
    if not failing or not total:
        return None
    passing = sum(fixed(r) for r in failing)
    expected = None
    if fix_rate is not None:
        expected = round((counts["passed"] + passing * fix_rate) / total, 6)
    return Lift(
        category=kind,
        passed=counts["passed"],
        total=total,
        fixed=passing,
        of=len(failing),
        rate=round(counts["passed"] / total, 6),
        rate_if=round((counts["passed"] + passing) / total, 6),
        expected_rate=expected,
    )


def gains(
    cases: Sequence[CaseRecord], fix_rate: float | None = None, fix_rate_from: str | None = None
) -> Gains:
    """Per category: what the gold passages showed retrieval can win, and what a fine-tune
    can win at best and as expected."""
    retrieval: list[Lift] = []
    finetune: list[Lift] = []
    for kind in KINDS:
        mine = [c for c in cases if c.kind == kind]
        rerun = lift(
            kind,
            mine,
            lambda c: c.counterfactual is not None,
            lambda c: c.counterfactual == "passed",
        )
        bound = lift(kind, mine, lambda c: c.diagnosis in BEHAVIOR_BOUND, lambda c: True, fix_rate)
        retrieval += [rerun] if rerun is not None else []
        finetune += [bound] if bound is not None else []
    return Gains(
        retrieval=tuple(retrieval),
        finetune=tuple(finetune),
        fix_rate=fix_rate if finetune else None,
        fix_rate_from=fix_rate_from if finetune and fix_rate is not None else None,
    )
