"""The ``ragft`` section of pytest's terminal summary (SPEC 7), as plain lines."""

from __future__ import annotations

from pytest_ragft.report import fmt
from pytest_ragft.report.escape import escape_terminal
from pytest_ragft.runsummary import Category, RunSummary

_HEADER = ("category", "pass", "rate", "95% CI", "threshold", "baseline", "change")
# Minimum column widths (text plus gap) of the documented layout; wider values widen a column.
_MIN_WIDTHS = (11, 8, 7, 14, 11, 10, 0)


def _category_row(name: str, cat: Category) -> tuple[str, ...]:
    threshold = fmt.threshold_pct(cat.threshold)
    if cat.below_threshold:
        threshold += "  FAIL"
    change = fmt.points(cat.change)
    if cat.regression is not None:
        change += "  REGRESSION"
    return (
        escape_terminal(name, limit=40),
        f"{cat.passed}/{cat.total}",
        fmt.pct(cat.rate),
        fmt.ci_text(cat.ci),
        threshold,
        fmt.pct(cat.baseline),
        change,
    )


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [
        max(minimum, *(len(row[i]) + 2 for row in rows)) for i, minimum in enumerate(_MIN_WIDTHS)
    ]
    return ["".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def _categories(summary: RunSummary) -> list[str]:
    cats = fmt.categories(summary)
    if not cats:
        return ["no eval cases ran"]
    lines = _table([_HEADER, *(_category_row(name, cat) for name, cat in cats)])
    for name, cat in cats:
        if cat.power_note is not None and cat.power_note.strip():
            note = escape_terminal(cat.power_note.strip(), limit=300)
            lines.append(f"note: {note}" if note.startswith(name) else f"note: {name}: {note}")
    return lines


def _diagnosis(summary: RunSummary) -> list[str]:
    lines = []
    counts = fmt.diagnosis_text(summary)
    if counts:
        lines.append(f"failures diagnosed: {counts}")
    cf = fmt.counterfactual_text(summary.counterfactual)
    if cf:
        lines.append(f"counterfactual: {cf}")
    for text in fmt.disagreement_texts(summary.disagreements):
        lines.append(f"disagreement: {escape_terminal(text, limit=200)}")
    return lines


def _changes(summary: RunSummary) -> list[str]:
    """One line of counts against the baseline run, and the first few newly failing ids."""
    counts = fmt.changes_text(summary.changes)
    if counts is None:
        return []
    changes = summary.changes
    line = f"changes vs {fmt.short_run(changes.against or '')}: {counts}"
    if changes.newly_failing:
        shown = ", ".join(escape_terminal(i, limit=80) for i in changes.newly_failing[:5])
        more = (
            f" and {len(changes.newly_failing) - 5} more" if len(changes.newly_failing) > 5 else ""
        )
        line += f" (newly failing: {shown}{more})"
    return [line]


def _checklist(summary: RunSummary) -> list[str]:
    if not summary.checklist:
        return []
    parts = []
    for answer in summary.checklist:
        part = f"{answer.question} {fmt.answer_word(answer.answer)}"
        note = fmt.checklist_note(answer)
        if note:
            part += f" ({escape_terminal(note, limit=60)})"
        parts.append(part)
    return ["checklist: " + "  ".join(parts)]


def _usage(summary: RunSummary) -> list[str]:
    """The run's latency, tokens and cost, one line."""
    rows = dict(fmt.usage_rows(summary))
    return [f"usage: {escape_terminal(rows['all'], limit=300)}"] if "all" in rows else []


def _judge(summary: RunSummary) -> list[str]:
    """The judge's calls, only when a check was LLM-judged."""
    text = fmt.judge_text(summary)
    return [] if text is None else [f"judge: {text}"]


def _retrieval(summary: RunSummary) -> list[str]:
    """Each category's retrieval quality with its intervals, a line each."""
    rows = fmt.retrieval_rows(summary)
    return [f"retrieval: {g} {escape_terminal(t, limit=400)}" for g, t in rows]


def _gains(summary: RunSummary) -> list[str]:
    """What fixing retrieval and a fine-tune can win, a line each when there is something."""
    found = (
        ("retrieval gain", fmt.retrieval_gain_text(summary.gains)),
        ("fine-tune gain", fmt.finetune_gain_text(summary.gains)),
    )
    return [f"{name}: {escape_terminal(text, limit=400)}" for name, text in found if text]


def _notices(summary: RunSummary) -> list[str]:
    """Flaky cases, then the gate events that only inform, then the verdict."""
    lines = []
    flaky = summary.flaky
    if flaky:
        shown = ", ".join(
            f"{escape_terminal(f.id, limit=80)} ({escape_terminal(f.detail, limit=120)})"
            for f in flaky[:10]
        )
        more = f" and {len(flaky) - 10} more" if len(flaky) > 10 else ""
        lines.append(f"flaky: {shown}{more}")
    left_out = fmt.left_out_text(summary)
    if left_out:
        lines.append(f"note: {escape_terminal(left_out, limit=400)}")
    gate = summary.gate
    for event in gate.with_action("comment"):
        lines.append(f"notice: {escape_terminal(fmt.event_text(event), limit=300)}")
    for event in gate.with_action("warn"):
        lines.append(f"warning: {escape_terminal(fmt.event_text(event), limit=300)}")
    verdict = "FAIL" if gate.verdict == "fail" else "PASS"
    reason = escape_terminal(fmt.gate_reason(gate), limit=300)
    lines.append(f"gate: {verdict} ({reason})" if reason else f"gate: {verdict}")
    return lines


def _variants(summary: RunSummary) -> list[str]:
    """One line per variant against the main pipeline, and how p-values were corrected."""
    from pytest_ragft.report.comparison import headline, spending

    comparison = summary.variants
    if comparison is None:
        return []
    lines = []
    for v in comparison.variants:
        lines.append(f"variant {escape_terminal(headline(v), limit=400)}")
        if spent := spending(v):
            lines.append(f"  {escape_terminal(spent, limit=300)}")
    if comparison.note:
        lines.append(f"note: {escape_terminal(comparison.note, limit=200)}")
    return lines


def terminal_lines(summary: RunSummary) -> list[str]:
    """The lines under pytest's ``ragft`` heading: the summary decides, this only words it."""
    rec = fmt.recommendation_text(summary.recommendation)
    placed = fmt.placed_text(summary.recommendation)
    if placed:
        rec += f" ({placed})"
    return [
        *_categories(summary),
        *_diagnosis(summary),
        *_changes(summary),
        *_usage(summary),
        *_retrieval(summary),
        *_judge(summary),
        *_checklist(summary),
        *_variants(summary),
        "recommendation: " + escape_terminal(rec, limit=200),
        *_gains(summary),
        *_notices(summary),
    ]
