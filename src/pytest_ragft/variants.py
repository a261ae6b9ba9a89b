"""Variants against the main pipeline: per category, on the cases both ran, is the variant
better, no worse, worse, or can this suite not tell yet?

Pure: records in, a frozen :class:`Comparison` out, so the run summary and ``ragft compare``
judge two pipelines by the same rules. The tests, for each category:

- pass rates with Wilson intervals (:func:`stats.wilson_interval`);
- superiority: the exact one-sided McNemar test on the shared cases (H1: the variant passes
  more), its p-value adjusted by Holm's step-down method across the variants of one run;
- the paired difference (variant rate - main rate) with Newcombe's hybrid score interval for
  paired proportions (Newcombe 1998, method 10: Wilson intervals of both rates combined with the
  phi correlation of the pairs; phi is 0 when a margin of the 2x2 table is empty);
- non-inferiority, one-sided at ``alpha``: the lower end of the ``1 - 2 alpha`` interval above
  ``-margin``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from pytest_ragft import stats
from pytest_ragft.model import CaseRecord, RepeatRecord
from pytest_ragft.wording import percent, plural

Verdict = Literal["better", "no worse", "worse", "not enough cases to tell"]
VERDICTS: tuple[Verdict, ...] = ("better", "no worse", "worse", "not enough cases to tell")
ROLES = ("prompt", "rag", "finetune")


@dataclass(frozen=True)
class Variant:
    """One variant's records and what it was declared to be."""

    name: str
    records: Sequence[CaseRecord]
    role: str | None = None
    target: str | None = None  # the category it is meant to improve


@dataclass(frozen=True)
class CaseChange:
    """A shared case the variant fixes (main failed, variant passed) or breaks (the reverse),
    with the diagnosis of the side that failed."""

    id: str
    category: str
    main: str  # the main pipeline's outcome
    variant: str
    diagnosis: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "category": self.category,
            "main": self.main,
            "variant": self.variant,
            "diagnosis": self.diagnosis,
        }

    @classmethod
    def from_json(cls, data: Any) -> CaseChange:
        data = data if isinstance(data, Mapping) else {}
        diagnosis = data.get("diagnosis")
        return cls(
            id=str(data.get("id") or ""),
            category=str(data.get("category") or ""),
            main=str(data.get("main") or ""),
            variant=str(data.get("variant") or ""),
            diagnosis=None if diagnosis is None else str(diagnosis),
        )


@dataclass(frozen=True)
class CategoryComparison:
    """One category of one variant against the main pipeline on their shared cases."""

    category: str
    shared: int
    main_passed: int
    variant_passed: int
    main_ci: tuple[float, float]
    variant_ci: tuple[float, float]
    wins: int  # main failed, variant passed
    losses: int  # main passed, variant failed
    difference: float  # variant rate - main rate
    difference_ci: tuple[float, float]  # two-sided 1 - alpha, Newcombe
    p_better: float  # exact one-sided McNemar, H1: the variant passes more
    p_adjusted: float  # p_better after Holm across the run's variants
    p_worse: float  # exact one-sided McNemar, H1: the variant passes less
    noninferiority_low: float  # lower end of the 1 - 2 alpha interval
    verdict: Verdict
    cases_needed: int  # shared cases that would settle "not enough cases to tell"
    detail: str
    fixed: tuple[CaseChange, ...] = ()
    broken: tuple[CaseChange, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            name: getattr(self, name)
            for name in (
                "category",
                "shared",
                "main_passed",
                "variant_passed",
                "wins",
                "losses",
                "difference",
                "p_better",
                "p_adjusted",
                "p_worse",
                "noninferiority_low",
                "verdict",
                "cases_needed",
                "detail",
            )
        }
        data["main_ci"] = list(self.main_ci)
        data["variant_ci"] = list(self.variant_ci)
        data["difference_ci"] = list(self.difference_ci)
        data["fixed"] = [c.to_json() for c in self.fixed]
        data["broken"] = [c.to_json() for c in self.broken]
        return data

    @classmethod
    def from_json(cls, data: Any) -> CategoryComparison:
        data = data if isinstance(data, Mapping) else {}
        verdict = data.get("verdict")
        return cls(
            category=str(data.get("category") or ""),
            shared=int(data.get("shared") or 0),
            main_passed=int(data.get("main_passed") or 0),
            variant_passed=int(data.get("variant_passed") or 0),
            main_ci=_pair(data.get("main_ci")),
            variant_ci=_pair(data.get("variant_ci")),
            wins=int(data.get("wins") or 0),
            losses=int(data.get("losses") or 0),
            difference=float(data.get("difference") or 0.0),
            difference_ci=_pair(data.get("difference_ci")),
            p_better=float(data.get("p_better", 1.0)),
            p_adjusted=float(data.get("p_adjusted", 1.0)),
            p_worse=float(data.get("p_worse", 1.0)),
            noninferiority_low=float(data.get("noninferiority_low") or 0.0),
            verdict=verdict if verdict in VERDICTS else "not enough cases to tell",
            cases_needed=int(data.get("cases_needed") or 0),
            detail=str(data.get("detail") or ""),
            fixed=tuple(CaseChange.from_json(c) for c in data.get("fixed") or ()),
            broken=tuple(CaseChange.from_json(c) for c in data.get("broken") or ()),
        )


@dataclass(frozen=True)
class VariantComparison:
    """One variant: its categories, and whether it may replace the main pipeline."""

    name: str
    role: str | None
    target: str | None
    categories: Mapping[str, CategoryComparison]
    replaces: bool
    reason: str
    latency_s: tuple[float | None, float | None] = (None, None)  # mean per call: main, variant
    # Means per case (of each case's mean per call, as costs.spent measures it): main, variant.
    tokens_per_case: tuple[float | None, float | None] = (None, None)
    cost_per_case: tuple[float | None, float | None] = (None, None)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "target": self.target,
            "categories": {k: c.to_json() for k, c in self.categories.items()},
            "replaces": self.replaces,
            "reason": self.reason,
            "latency_s": {"main": self.latency_s[0], "variant": self.latency_s[1]},
            "tokens_per_case": {
                "main": self.tokens_per_case[0],
                "variant": self.tokens_per_case[1],
            },
            "cost_per_case": {"main": self.cost_per_case[0], "variant": self.cost_per_case[1]},
        }

    @classmethod
    def from_json(cls, data: Any) -> VariantComparison:
        data = data if isinstance(data, Mapping) else {}
        cats = data.get("categories") if isinstance(data.get("categories"), Mapping) else {}
        latency = _both(data.get("latency_s"))
        return cls(
            name=str(data.get("name") or ""),
            role=_opt(data.get("role")),
            target=_opt(data.get("target")),
            categories={str(k): CategoryComparison.from_json(v) for k, v in cats.items()},
            replaces=bool(data.get("replaces")),
            reason=str(data.get("reason") or ""),
            latency_s=latency,
            tokens_per_case=_both(data.get("tokens_per_case")),
            cost_per_case=_both(data.get("cost_per_case")),
        )


@dataclass(frozen=True)
class MatrixRow:
    """A case across the pipelines: "main" and each variant's name -> its cell."""

    id: str
    category: str
    cells: Mapping[str, str]

    @property
    def differs(self) -> bool:
        return len(set(self.cells.values())) > 1

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "category": self.category, "cells": dict(self.cells)}

    @classmethod
    def from_json(cls, data: Any) -> MatrixRow:
        data = data if isinstance(data, Mapping) else {}
        cells = data.get("cells") if isinstance(data.get("cells"), Mapping) else {}
        return cls(
            id=str(data.get("id") or ""),
            category=str(data.get("category") or ""),
            cells={str(k): str(v) for k, v in cells.items()},
        )


@dataclass(frozen=True)
class Comparison:
    """Every variant of a run (or the second of two stored runs) against the main pipeline."""

    variants: tuple[VariantComparison, ...] = ()
    margin: float = 0.05
    alpha: float = 0.05
    holm: bool = False  # whether Holm's correction was applied (more than one variant)
    note: str = ""
    rows: tuple[MatrixRow, ...] = ()  # every main case, across the pipelines

    def to_json(self) -> dict[str, Any]:
        return {
            "margin": self.margin,
            "alpha": self.alpha,
            "holm": self.holm,
            "note": self.note,
            "variants": [v.to_json() for v in self.variants],
            "rows": [r.to_json() for r in self.rows],
        }

    @classmethod
    def from_json(cls, data: Any) -> Comparison:
        data = data if isinstance(data, Mapping) else {}
        return cls(
            variants=tuple(VariantComparison.from_json(v) for v in data.get("variants") or ()),
            margin=float(data.get("margin", 0.05)),
            alpha=float(data.get("alpha", 0.05)),
            holm=bool(data.get("holm")),
            note=str(data.get("note") or ""),
            rows=tuple(MatrixRow.from_json(r) for r in data.get("rows") or ()),
        )


def _pair(value: Any) -> tuple[float, float]:
    if isinstance(value, list | tuple) and len(value) == 2:
        return (float(value[0]), float(value[1]))
    return (0.0, 1.0)


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _optf(value: Any) -> float | None:
    return None if value is None else float(value)


def _both(value: Any) -> tuple[float | None, float | None]:
    """``{"main": ..., "variant": ...}`` as a pair; a missing side is None."""
    value = value if isinstance(value, Mapping) else {}
    return (_optf(value.get("main")), _optf(value.get("variant")))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given: the i-th smallest of m is
    multiplied by m - i + 1, made monotone and capped at 1."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def paired_difference_interval(
    both: int, main_only: int, variant_only: int, neither: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Newcombe's hybrid score interval (method 10) for variant rate - main rate on paired
    cases: ``both`` passed by both, ``main_only`` by the main pipeline alone, and so on."""
    n = both + main_only + variant_only + neither
    if n == 0:
        return (-1.0, 1.0)
    p_variant, p_main = (both + variant_only) / n, (both + main_only) / n
    l1, u1 = stats.wilson_interval(both + variant_only, n, confidence)
    l2, u2 = stats.wilson_interval(both + main_only, n, confidence)
    margins = (
        (both + main_only)
        * (variant_only + neither)
        * (both + variant_only)
        * (main_only + neither)
    )
    phi = (both * neither - main_only * variant_only) / math.sqrt(margins) if margins else 0.0
    diff = p_variant - p_main
    low_sq = (p_variant - l1) ** 2 - 2 * phi * (p_variant - l1) * (u2 - p_main) + (u2 - p_main) ** 2
    high_sq = (
        (u1 - p_variant) ** 2 - 2 * phi * (u1 - p_variant) * (p_main - l2) + (p_main - l2) ** 2
    )
    low = diff - math.sqrt(max(0.0, low_sq))
    high = diff + math.sqrt(max(0.0, high_sq))
    return (max(-1.0, low), min(1.0, high))


def pair(
    main: Sequence[CaseRecord], other: Sequence[CaseRecord]
) -> list[tuple[CaseRecord, CaseRecord]]:
    """The cases both ran and judged, by node id, in the main pipeline's order; a case skipped
    on either side is left out."""
    theirs = {r.nodeid: r for r in other if r.outcome != "skipped"}
    return [(r, theirs[r.nodeid]) for r in main if r.outcome != "skipped" and r.nodeid in theirs]


def compare(
    main: Sequence[CaseRecord],
    variants: Sequence[Variant],
    *,
    margin: float = 0.05,
    alpha: float = 0.05,
    power: float = 0.8,
) -> Comparison:
    """Every variant against the main pipeline, per category of the shared cases; Holm's
    correction is applied per category across the variants that ran cases in it."""
    paired = {v.name: pair(main, v.records) for v in variants}
    adjusted: dict[tuple[str, str], float] = {}
    for cat in sorted({m.kind for pairs in paired.values() for m, _ in pairs}):
        names = [v.name for v in variants if _in(paired[v.name], cat)]
        raw = [_p_better(_in(paired[n], cat)) for n in names]
        adjusted.update(((n, cat), p) for n, p in zip(names, holm(raw), strict=True))
    judged = tuple(
        _variant(v, paired[v.name], adjusted, margin=margin, alpha=alpha, power=power)
        for v in variants
    )
    holm_applied = len(variants) > 1
    note = (
        f"p-values adjusted by Holm's method across {plural(len(variants), 'variant')}"
        if holm_applied
        else ""
    )
    return Comparison(
        variants=judged,
        margin=margin,
        alpha=alpha,
        holm=holm_applied,
        note=note,
        rows=_matrix(main, variants),
    )


def _in(
    pairs: Sequence[tuple[CaseRecord, CaseRecord]], category: str
) -> list[tuple[CaseRecord, CaseRecord]]:
    return [(m, v) for m, v in pairs if m.kind == category]


def _passed(record: CaseRecord) -> bool:
    return record.outcome == "passed"


def _table(pairs: Sequence[tuple[CaseRecord, CaseRecord]]) -> tuple[int, int, int, int]:
    """Both passed, main only, variant only, neither."""
    both = sum(_passed(m) and _passed(v) for m, v in pairs)
    main_only = sum(_passed(m) and not _passed(v) for m, v in pairs)
    variant_only = sum(_passed(v) and not _passed(m) for m, v in pairs)
    return both, main_only, variant_only, len(pairs) - both - main_only - variant_only


def _p_better(pairs: Sequence[tuple[CaseRecord, CaseRecord]]) -> float:
    _, losses, wins, _ = _table(pairs)
    return stats.mcnemar_exact_one_sided(wins, losses)


def _variant(
    variant: Variant,
    pairs: Sequence[tuple[CaseRecord, CaseRecord]],
    adjusted: Mapping[tuple[str, str], float],
    *,
    margin: float,
    alpha: float,
    power: float,
) -> VariantComparison:
    cats = {
        cat: judge(
            cat,
            _in(pairs, cat),
            adjusted[(variant.name, cat)],
            margin=margin,
            alpha=alpha,
            power=power,
        )
        for cat in sorted({m.kind for m, _ in pairs})
    }
    replaces, reason = may_replace(cats, variant.target)
    mains, theirs = [m for m, _ in pairs], [v for _, v in pairs]
    return VariantComparison(
        name=variant.name,
        role=variant.role,
        target=variant.target,
        categories=cats,
        replaces=replaces,
        reason=reason,
        latency_s=(_latency(mains), _latency(theirs)),
        tokens_per_case=(_per_case(mains, _tokens), _per_case(theirs, _tokens)),
        cost_per_case=(_per_case(mains, _cost), _per_case(theirs, _cost)),
    )


def _latency(records: Sequence[CaseRecord]) -> float | None:
    calls = [r.latency_s for record in records for r in record.repeats]
    return round(sum(calls) / len(calls), 6) if calls else None


def _tokens(repeat: RepeatRecord) -> float | None:
    counts = [t for t in (repeat.prompt_tokens, repeat.completion_tokens) if t is not None]
    return float(sum(counts)) if counts else None


def _cost(repeat: RepeatRecord) -> float | None:
    return repeat.cost


def _per_case(
    records: Sequence[CaseRecord], measure: Callable[[RepeatRecord], float | None]
) -> float | None:
    """The mean over the cases that reported ``measure`` of each one's mean per call (the
    calls that ran), as ``costs.spent`` and ``costs.usage_of`` take tokens and cost per case."""
    means = []
    for record in records:
        found = [
            v for r in record.repeats if r.outcome != "skipped" and (v := measure(r)) is not None
        ]
        if found:
            means.append(sum(found) / len(found))
    return round(sum(means) / len(means), 6) if means else None


def judge(
    category: str,
    pairs: Sequence[tuple[CaseRecord, CaseRecord]],
    p_adjusted: float,
    *,
    margin: float,
    alpha: float,
    power: float = 0.8,
) -> CategoryComparison:
    """One category's comparison; ``p_adjusted`` is its superiority p-value after Holm."""
    both, losses, wins, neither = _table(pairs)
    n = len(pairs)
    main_passed, variant_passed = both + losses, both + wins
    diff = (wins - losses) / n if n else 0.0
    ci = paired_difference_interval(both, losses, wins, neither, 1.0 - alpha)
    ni_low = paired_difference_interval(both, losses, wins, neither, 1.0 - 2 * alpha)[0]
    p_worse = stats.mcnemar_exact_one_sided(losses, wins)
    verdict = _verdict(n, diff, p_adjusted, p_worse, ni_low, margin=margin, alpha=alpha)
    needed = 0
    if verdict == "not enough cases to tell":
        needed = needed_cases(
            n, diff, ni_low, wins + losses, margin=margin, alpha=alpha, power=power
        )
    result = CategoryComparison(
        category=category,
        shared=n,
        main_passed=main_passed,
        variant_passed=variant_passed,
        main_ci=_rounded(stats.wilson_interval(main_passed, n, 1.0 - alpha)),
        variant_ci=_rounded(stats.wilson_interval(variant_passed, n, 1.0 - alpha)),
        wins=wins,
        losses=losses,
        difference=round(diff, 6),
        difference_ci=_rounded(ci),
        p_better=stats.mcnemar_exact_one_sided(wins, losses),
        p_adjusted=p_adjusted,
        p_worse=p_worse,
        noninferiority_low=round(ni_low, 6),
        verdict=verdict,
        cases_needed=needed,
        detail="",
        fixed=tuple(_change(m, v, m) for m, v in pairs if _passed(v) and not _passed(m)),
        broken=tuple(_change(m, v, v) for m, v in pairs if _passed(m) and not _passed(v)),
    )
    return _with_detail(result, margin)


def _rounded(pair_: tuple[float, float]) -> tuple[float, float]:
    return (round(pair_[0], 4), round(pair_[1], 4))


def _change(main: CaseRecord, variant: CaseRecord, failed: CaseRecord) -> CaseChange:
    return CaseChange(main.id, main.kind, main.outcome, variant.outcome, failed.diagnosis)


def _verdict(
    n: int,
    diff: float,
    p_adjusted: float,
    p_worse: float,
    ni_low: float,
    *,
    margin: float,
    alpha: float,
) -> Verdict:
    """Better when the adjusted superiority test passes; no worse when non-inferiority is shown;
    worse when the observed loss passes the margin or is significant; else the suite is too
    small to tell."""
    if n == 0:
        return "not enough cases to tell"
    if diff > 0 and p_adjusted < alpha:
        return "better"
    if ni_low > -margin:
        return "no worse"
    if diff < -margin or p_worse < alpha:
        return "worse"
    return "not enough cases to tell"


def needed_cases(
    n: int,
    diff: float,
    ni_low: float,
    discordant: int,
    *,
    margin: float,
    alpha: float,
    power: float = 0.8,
) -> int:
    """Shared cases that would show non-inferiority if the observed rates held: the larger of
    the paired power computation (Wald, for a one-sided test at ``alpha`` with ``power``, from
    the observed share of discordant cases) and the size at which the observed interval's lower
    end, shrinking as 1/sqrt(n), would clear ``-margin``; always more than ``n``."""
    gap = diff + margin
    if gap <= 0:
        return n + 1
    z = stats.normal_quantile(1.0 - alpha) + stats.normal_quantile(power)
    share = discordant / n if n else 0.5
    by_power = z * z * share / (gap * gap)
    by_interval = n * ((diff - ni_low) / gap) ** 2 if n else 0.0
    return max(n + 1, math.ceil(max(by_power, by_interval) - 1e-9))


def _with_detail(c: CategoryComparison, margin: float) -> CategoryComparison:
    if not c.shared:
        detail = f"{c.category}: no shared cases"
    else:
        detail = (
            f"{c.category} {percent(c.variant_passed / c.shared)} vs main "
            f"{percent(c.main_passed / c.shared)} on {plural(c.shared, 'shared case')} "
            f"({_points(c.difference)} points, {_ci(c.difference_ci)}); "
            f"{c.wins} fixed, {c.losses} broken; McNemar exact {_p(c.p_better)}"
        )
        if c.p_adjusted != c.p_better:
            detail += f" (Holm-adjusted {_p(c.p_adjusted)})"
        detail += f": {c.verdict}"
        if c.verdict == "not enough cases to tell":
            detail += (
                f" ({c.cases_needed} shared cases needed to show it within {margin * 100:g} points)"
            )
        elif c.verdict in ("no worse", "worse"):
            detail += f" (margin {margin * 100:g} points)"
    return replace(c, detail=detail)


def _points(delta: float) -> str:
    points = delta * 100
    return "0.0" if abs(points) < 0.05 else f"{points:+.1f}"


def _ci(ci: tuple[float, float]) -> str:
    return f"interval {_points(ci[0])} to {_points(ci[1])}"


def _p(p_value: float) -> str:
    return "p < 0.0001" if p_value < 0.0001 else f"p = {p_value:.4f}"


def may_replace(cats: Mapping[str, CategoryComparison], target: str | None) -> tuple[bool, str]:
    """A variant may replace the main pipeline only when better on its target category (any
    category without one) and no worse than the margin on every other."""
    better = [k for k, c in cats.items() if c.verdict == "better"]
    if target is not None and target not in better:
        shown = cats[target].verdict if target in cats else "not run"
        return False, f"not better on its target {target} ({shown})"
    if not better:
        return False, "better on no category"
    held = [k for k, c in cats.items() if c.verdict not in ("better", "no worse")]
    if held:
        return False, "; ".join(f"{k}: {cats[k].verdict}" for k in held)
    return True, "better on " + ", ".join(better) + ", no worse on the rest"


def _matrix(main: Sequence[CaseRecord], variants: Sequence[Variant]) -> tuple[MatrixRow, ...]:
    """Each main case's cell per pipeline: "passed", or the outcome with its diagnosis."""
    by_name = {v.name: {r.nodeid: r for r in v.records} for v in variants}
    rows = []
    for record in main:
        cells = {"main": _cell(record)}
        for name, records in by_name.items():
            if record.nodeid in records:
                cells[name] = _cell(records[record.nodeid])
        rows.append(MatrixRow(record.id, record.kind, cells))
    return tuple(rows)


def _cell(record: CaseRecord) -> str:
    if record.outcome in ("passed", "skipped") or not record.diagnosis:
        return record.outcome
    return f"{record.outcome} ({record.diagnosis})"
