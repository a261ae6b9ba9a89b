"""The ``ragft`` section of pytest's terminal summary (SPEC 7), as plain lines."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_ragft.report import fmt
from pytest_ragft.report.escape import escape_terminal

_HEADER = ("category", "pass", "rate", "95% CI", "threshold", "baseline", "change")
# Minimum column widths (text plus gap) of the documented layout; wider values widen a column.
_MIN_WIDTHS = (11, 8, 7, 14, 11, 10, 0)


def _category_row(name: str, cat: Mapping[str, Any]) -> tuple[str, ...]:
    threshold = fmt.threshold_pct(cat.get("threshold"))
    if cat.get("below_threshold"):
        threshold += "  FAIL"
    change = fmt.points(cat.get("change"))
    if cat.get("regression"):
        change += "  REGRESSION"
    return (
        escape_terminal(name, limit=40),
        f"{cat.get('passed', 0)}/{cat.get('total', 0)}",
        fmt.pct(cat.get("rate")),
        fmt.ci_text(cat.get("ci")),
        threshold,
        fmt.pct(cat.get("baseline")),
        change,
    )


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [
        max(minimum, *(len(row[i]) + 2 for row in rows)) for i, minimum in enumerate(_MIN_WIDTHS)
    ]
    return ["".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def terminal_lines(report: Mapping[str, Any]) -> list[str]:
    """The lines under pytest's ``ragft`` heading: the summary decides, this only words it."""
    lines: list[str] = []
    cats = fmt.categories(report)
    if cats:
        lines += _table([_HEADER, *(_category_row(name, cat) for name, cat in cats)])
    else:
        lines.append("no eval cases ran")
    for name, cat in cats:
        note = cat.get("power_note")
        if isinstance(note, str) and note.strip():
            note = escape_terminal(note.strip(), limit=300)
            lines.append(f"note: {note}" if note.startswith(name) else f"note: {name}: {note}")

    counts = fmt.diagnosis_counts(report)
    if counts:
        lines.append("failures diagnosed: " + " · ".join(f"{d} {n}" for d, n in counts))
    cf = fmt.counterfactual_text(report)
    if cf:
        lines.append(f"counterfactual: {cf}")
    for text in fmt.disagreement_texts(report.get("disagreements")):
        lines.append(f"disagreement: {escape_terminal(text, limit=200)}")

    checklist = report.get("checklist") or []
    if checklist:
        parts = []
        for item in checklist:
            part = f"{item.get('question')} {fmt.answer_word(item.get('answer'))}"
            note = fmt.checklist_note(item)
            if note:
                part += f" ({escape_terminal(note, limit=60)})"
            parts.append(part)
        lines.append("checklist: " + "  ".join(parts))
    rec = report.get("recommendation") or {}
    lines.append("recommendation: " + escape_terminal(fmt.recommendation_text(rec), limit=200))

    flaky = report.get("flaky") or []
    if flaky:
        shown = ", ".join(escape_terminal(str(c), limit=80) for c in flaky[:10])
        more = f" and {len(flaky) - 10} more" if len(flaky) > 10 else ""
        lines.append(f"flaky: {shown}{more}")
    for event in fmt.events(report, "comment"):
        lines.append(f"notice: {escape_terminal(fmt.event_text(event), limit=300)}")
    for event in fmt.events(report, "warn"):
        lines.append(f"warning: {escape_terminal(fmt.event_text(event), limit=300)}")

    gate = report.get("gate") or {}
    verdict = "FAIL" if gate.get("verdict") == "fail" else "PASS"
    reason = escape_terminal(fmt.gate_reason(report), limit=300)
    lines.append(f"gate: {verdict} ({reason})" if reason else f"gate: {verdict}")
    return lines
