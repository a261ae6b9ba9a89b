"""Plain-text lines of a variants comparison, for ``ragft compare`` and the terminal summary.

A renderer: it reads the comparison's values and the sentences made with them, and computes
nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from pytest_ragft.report.fmt import amount, seconds
from pytest_ragft.variants import Comparison, VariantComparison


def headline(variant: VariantComparison) -> str:
    """One line per variant: its verdict per category, with the shared cases it fixes and
    breaks there, and whether it may replace main."""
    verdicts = ", ".join(
        f"{k} {c.verdict} ({c.wins} fixed, {c.losses} broken)"
        for k, c in variant.categories.items()
    )
    role = f" ({variant.role})" if variant.role else ""
    decision = "may replace main" if variant.replaces else f"keeps main: {variant.reason}"
    return f"{variant.name}{role}: {verdicts or 'no shared cases'}; {decision}"


def spending(variant: VariantComparison) -> str:
    """What the variant spends against main on the shared cases: ``per case: 180 tokens vs
    main 120, cost 0.0018 vs 0.0012; latency 52.1 ms vs 50.3 ms per call``; empty when
    neither side measured anything."""
    parts = []
    tokens, cost, latency = variant.tokens_per_case, variant.cost_per_case, variant.latency_s
    if tokens != (None, None):
        parts.append(f"{_side(tokens[1], _count)} tokens vs main {_side(tokens[0], _count)}")
    if cost != (None, None):
        parts.append(f"cost {_side(cost[1], amount)} vs {_side(cost[0], amount)}")
    text = "per case: " + ", ".join(parts) if parts else ""
    if latency != (None, None):
        said = f"latency {_side(latency[1], seconds)} vs {_side(latency[0], seconds)} per call"
        text = f"{text}; {said}" if text else said
    return text


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _side(value: float | None, shown: Callable[[float], str]) -> str:
    return "-" if value is None else shown(value)


def comparison_lines(comparison: Comparison, *, cases: bool = True) -> list[str]:
    """The headline of each variant, its categories' details and, with ``cases``, the cases
    it fixes and breaks with their diagnoses."""
    lines = [
        f"margin {comparison.margin * 100:g} points, one-sided at alpha {comparison.alpha:g}"
        + (f"; {comparison.note}" if comparison.note else "")
    ]
    for variant in comparison.variants:
        lines.append(headline(variant))
        if spent := spending(variant):
            lines.append(f"  {spent}")
        for cat in variant.categories.values():
            lines.append(f"  {cat.detail}")
            if not cases:
                continue
            for label, changes in (("fixed", cat.fixed), ("broken", cat.broken)):
                for change in changes:
                    why = f" ({change.diagnosis})" if change.diagnosis else ""
                    lines.append(f"    {label}: {change.id}{why}")
    return lines
