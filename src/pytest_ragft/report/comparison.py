"""Plain-text lines of a variants comparison, for ``ragft compare`` and the terminal summary.

A renderer: it reads the comparison's values and the sentences made with them, and computes
nothing.
"""

from __future__ import annotations

from pytest_ragft.variants import Comparison, VariantComparison


def headline(variant: VariantComparison) -> str:
    """One line per variant: its verdict per category and whether it may replace main."""
    verdicts = ", ".join(f"{k} {c.verdict}" for k, c in variant.categories.items())
    role = f" ({variant.role})" if variant.role else ""
    decision = "may replace main" if variant.replaces else f"keeps main: {variant.reason}"
    return f"{variant.name}{role}: {verdicts or 'no shared cases'}; {decision}"


def comparison_lines(comparison: Comparison, *, cases: bool = True) -> list[str]:
    """The headline of each variant, its categories' details and, with ``cases``, the cases
    it fixes and breaks with their diagnoses."""
    lines = [
        f"margin {comparison.margin * 100:g} points, one-sided at alpha {comparison.alpha:g}"
        + (f"; {comparison.note}" if comparison.note else "")
    ]
    for variant in comparison.variants:
        lines.append(headline(variant))
        for cat in variant.categories.values():
            lines.append(f"  {cat.detail}")
            if not cases:
                continue
            for label, changes in (("fixed", cat.fixed), ("broken", cat.broken)):
                for change in changes:
                    why = f" ({change.diagnosis})" if change.diagnosis else ""
                    lines.append(f"    {label}: {change.id}{why}")
    return lines
