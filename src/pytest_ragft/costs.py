"""Latency, tokens and cost: what a case's calls spent, per group of cases, and the budget and
baseline-rise events of the gate.

Pure: records and settings in, values out. A pipeline reports its spending in the result's
``metadata`` under the documented names ``prompt_tokens``, ``completion_tokens`` and ``cost``;
anything else there is left alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard

from pytest_ragft.model import CaseRecord
from pytest_ragft.retrieval import baseline_keys
from pytest_ragft.runsummary import GateEvent, Usage
from pytest_ragft.wording import plural

if TYPE_CHECKING:
    from pytest_ragft.config import BudgetSettings

TOKEN_KEYS = ("prompt_tokens", "completion_tokens")
MEASURES = ("latency_s", "tokens", "cost")  # what a case's calls spent, per call


def usage(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The documented spending keys of a result's metadata, as ``RepeatRecord`` fields: token
    counts as non-negative whole numbers, cost as a non-negative finite number; a value of
    another shape is left out rather than guessed at."""
    found: dict[str, Any] = {}
    for key in TOKEN_KEYS:
        value = metadata.get(key)
        if _number(value) and float(value) >= 0 and float(value).is_integer():
            found[key] = int(value)
    cost = metadata.get("cost")
    if _number(cost) and cost >= 0:
        found["cost"] = float(cost)
    return found


def _number(value: Any) -> TypeGuard[int | float]:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100), linear between the closest ranks (numpy's default):
    rank ``(n - 1) * q / 100`` in the sorted values."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Spent:
    """One case's calls: the mean per call of each measure reported, and the totals."""

    calls: int
    per_call: Mapping[str, float]  # measure -> mean over the calls that reported it
    tokens_total: int | None
    cost_total: float | None


def spent(record: CaseRecord) -> Spent:
    """What a case's calls (its repeats that ran) spent."""
    calls = [r for r in record.repeats if r.outcome != "skipped"]
    tokens = [
        sum(t for t in (r.prompt_tokens, r.completion_tokens) if t is not None)
        for r in calls
        if r.prompt_tokens is not None or r.completion_tokens is not None
    ]
    costs = [r.cost for r in calls if r.cost is not None]
    per_call: dict[str, float] = {}
    if calls:
        per_call["latency_s"] = sum(r.latency_s for r in calls) / len(calls)
    if tokens:
        per_call["tokens"] = sum(tokens) / len(tokens)
    if costs:
        per_call["cost"] = sum(costs) / len(costs)
    return Spent(
        calls=len(calls),
        per_call=per_call,
        tokens_total=sum(tokens) if tokens else None,
        cost_total=sum(costs) if costs else None,
    )


def case_measures(records: Iterable[CaseRecord]) -> dict[str, dict[str, float]]:
    """Case id -> measure -> mean per call, and its retrieval measures under
    ``retrieval.*``, for the comparison with a later run."""
    found = {}
    for record in records:
        measures = {**spent(record).per_call, **baseline_keys(record.retrieval)}
        if measures:
            found[record.id] = measures
    return found


def usage_of(records: Sequence[CaseRecord]) -> Usage:
    """A group's latency percentiles over its cases, tokens and cost per case and in total."""
    spends = [spent(r) for r in records]
    latencies = [s.per_call["latency_s"] for s in spends if "latency_s" in s.per_call]
    tokens = [s.per_call["tokens"] for s in spends if "tokens" in s.per_call]
    costs = [s.per_call["cost"] for s in spends if "cost" in s.per_call]
    token_totals = [s.tokens_total for s in spends if s.tokens_total is not None]
    cost_totals = [s.cost_total for s in spends if s.cost_total is not None]
    return Usage(
        cases=len(latencies),
        calls=sum(s.calls for s in spends),
        latency_p50_s=_round(percentile(latencies, 50)) if latencies else None,
        latency_p95_s=_round(percentile(latencies, 95)) if latencies else None,
        tokens_per_case=_round(sum(tokens) / len(tokens)) if tokens else None,
        tokens_total=sum(token_totals) if token_totals else None,
        cost_per_case=_round(sum(costs) / len(costs)) if costs else None,
        cost_total=_round(sum(cost_totals)) if cost_totals else None,
    )


def _round(value: float) -> float:
    return round(value, 6)


_BUDGETS = (
    ("latency_p95_s", "latency_p95_s", "p95 latency", "s"),
    ("tokens_per_case", "tokens_per_case", "tokens per case", ""),
    ("cost_per_case", "cost_per_case", "cost per case", ""),
)


def budget_events(run: Usage, budgets: BudgetSettings) -> list[GateEvent]:
    """``over_budget`` for each limit the run's figure exceeds; a figure equal to its limit
    is within it, and a figure no case reported is not judged."""
    events = []
    for setting, figure, label, unit in _BUDGETS:
        limit: float | None = getattr(budgets, setting)
        value: float | None = getattr(run, figure)
        if limit is None or value is None or value <= limit:
            continue
        events.append(
            GateEvent(
                "over_budget",
                "",
                f"{label} {value:g}{unit} > budget {limit:g}{unit} "
                f"([tool.ragft.budgets] {setting})",
            )
        )
    return events


_LABELS = {"latency_s": "latency per case", "tokens": "tokens per case", "cost": "cost per case"}


def rise_events(
    records: Sequence[CaseRecord],
    baseline: Mapping[str, Mapping[str, float]],
    max_increase: float | None,
) -> list[GateEvent]:
    """``cost_regression`` for each measure whose mean on the cases both runs reported it for
    rose by more than ``max_increase`` (relative) over the baseline run's mean on the same
    cases; a rise equal to the limit is within it."""
    if max_increase is None or not baseline:
        return []
    now = case_measures(records)
    events = []
    for measure in MEASURES:
        shared = [
            (baseline[i][measure], m[measure])
            for i, m in now.items()
            if measure in m and measure in baseline.get(i, {})
        ]
        before = sum(b for b, _ in shared)
        if not shared or before <= 0:
            continue
        after = sum(a for _, a in shared)
        rise = round(after / before - 1, 6)
        if rise <= max_increase:
            continue
        n = len(shared)
        events.append(
            GateEvent(
                "cost_regression",
                "",
                f"{_LABELS[measure]} rose {rise * 100:.1f}% on {plural(n, 'shared case')} "
                f"({before / n:.4g} -> {after / n:.4g}), more than "
                f"max_increase {max_increase * 100:g}%",
            )
        )
    return events
