"""Formatting shared by the Markdown and terminal renderers: numbers, labels, one-line texts.

Kept in one place so the terminal summary and the PR comment word the same facts the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

CATEGORY_ORDER = ("knowledge", "behavior")
# Behavior-bound first: those are the failures the fine-tuning question is about.
DIAGNOSIS_ORDER = ("behavior", "hybrid", "knowledge", "error")
CELL_ORDER = ("rag", "pretraining", "fine-tune", "prompt")
CELL_LABELS = {
    "rag": "knowledge-bound, volatile -> RAG",
    "pretraining": "knowledge-bound, stable -> continued pretraining (rare)",
    "fine-tune": "behavior-bound, stable -> fine-tune (LoRA/QLoRA)",
    "prompt": "behavior-bound, volatile -> prompt engineering + few-shot",
}
QUESTION_TITLES = {
    1: "An evaluation baseline that RAG + better prompts already fail",
    2: "A behavior problem, not a knowledge problem",
    3: "Hundreds of production-matched training examples ready",
    4: "Someone owns the adapter lifecycle for the next 12+ months",
    5: "The operational cost justifies the performance gain",
}
SPARKS = "▁▂▃▄▅▆▇█"


def pct(value: Any, digits: int = 1) -> str:
    """A share as a percentage (0.925 -> ``92.5%``); ``-`` when absent."""
    if not isinstance(value, int | float):
        return "-"
    return f"{value * 100:.{digits}f}%"


def threshold_pct(value: Any) -> str:
    """A threshold without a needless decimal (0.9 -> ``90%``, 0.875 -> ``87.5%``)."""
    if not isinstance(value, int | float):
        return "-"
    return f"{value * 100:.1f}".removesuffix(".0") + "%"


def ci_text(value: Any) -> str:
    """A Wilson interval in percent, ``[81.2, 96.8]``; ``-`` when absent."""
    if not isinstance(value, Sequence) or len(value) != 2:
        return "-"
    low, high = value
    if not isinstance(low, int | float) or not isinstance(high, int | float):
        return "-"
    return f"[{low * 100:.1f}, {high * 100:.1f}]"


def points(value: Any) -> str:
    """A change in percentage points with its sign (-0.02 -> ``-2.0``); ``-`` when absent."""
    if not isinstance(value, int | float):
        return "-"
    text = f"{value * 100:+.1f}"
    return "+0.0" if text == "-0.0" else text


def sparkline(values: Iterable[Any], width: int = 10) -> str:
    """The last ``width`` rates as bars on an absolute 0-100% scale (a gap for a missing run).

    Absolute, not min-max: a one-point wobble must not look like a collapse.
    """
    bars = []
    for value in list(values)[-width:]:
        if isinstance(value, int | float):
            share = min(max(float(value), 0.0), 1.0)
            bars.append(SPARKS[round(share * (len(SPARKS) - 1))])
        else:
            bars.append(" ")
    return "".join(bars)


def categories(report: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """The report's categories in their usual order."""
    cats = report.get("categories") or {}
    names = [c for c in CATEGORY_ORDER if c in cats] + sorted(
        c for c in cats if c not in CATEGORY_ORDER
    )
    return [(name, cats[name]) for name in names]


def events(report: Mapping[str, Any], action: str) -> list[Mapping[str, Any]]:
    """The gate events that carry ``action``, in the order the gate raised them."""
    gate = report.get("gate") or {}
    return [e for e in gate.get("events") or [] if e.get("action") == action]


def event_text(event: Mapping[str, Any]) -> str:
    """``below_threshold: behavior 77.5% < 85%``."""
    detail = str(event.get("detail") or "").strip()
    name = str(event.get("event", "event"))
    return f"{name}: {detail}" if detail else name


def gate_reason(report: Mapping[str, Any]) -> str:
    """Why the gate decided as it did: its own reason, else the events that decided it."""
    gate = report.get("gate") or {}
    reason = gate.get("reason")
    if isinstance(reason, str) and reason.strip():
        return reason.strip()
    deciding = events(report, "fail") if gate.get("verdict") == "fail" else []
    return "; ".join(event_text(e) for e in deciding)


def diagnosis_counts(report: Mapping[str, Any]) -> list[tuple[str, int]]:
    """Non-zero diagnosis counts, behavior-bound first."""
    counts = report.get("diagnosis") or {}
    return [(d, int(counts[d])) for d in DIAGNOSIS_ORDER if counts.get(d)]


def answer_word(answer: Any) -> str:
    """``yes`` stays quiet; ``NO`` stands out; ``unknown`` says so."""
    return {"yes": "yes", "no": "NO"}.get(str(answer), "unknown")


def checklist_note(item: Mapping[str, Any], limit: int = 48) -> str | None:
    """The short parenthetical of a checklist answer: its ``short`` (or ``note``) form, else (for
    an answer that is not yes) the start of its evidence."""
    for key in ("short", "note"):
        short = item.get(key)
        if isinstance(short, str) and short.strip():
            return short.strip()
    if item.get("answer") == "yes":
        return None
    evidence = str(item.get("evidence") or "").strip()
    if not evidence:
        return None
    return evidence if len(evidence) <= limit else evidence[: limit - 1] + "…"


def not_yet_text(not_yet: Sequence[Any]) -> str:
    """``question 3`` / ``questions 3, 5``."""
    numbers = ", ".join(str(n) for n in not_yet)
    return f"question{'s' if len(not_yet) > 1 else ''} {numbers}"


def recommendation_text(rec: Mapping[str, Any]) -> str:
    """``behavior-bound, stable -> fine-tune (LoRA/QLoRA): not yet, question 3``: the summary's
    own wording when it has one."""
    summary = rec.get("summary")
    if isinstance(summary, str) and summary.strip():
        return summary.strip()
    cell = rec.get("cell")
    if cell is None:
        return "nothing failed: no change recommended"
    label = CELL_LABELS.get(str(cell), str(cell))
    if cell == "fine-tune":
        not_yet = list(rec.get("not_yet") or [])
        if not_yet:
            return f"{label}: not yet, {not_yet_text(not_yet)}"
        return f"{label}: all five answers are yes"
    return label


def cell_counts_text(rec: Mapping[str, Any]) -> str:
    """Every cell's failure count, ``rag 2 · pretraining 1 · fine-tune 6 · prompt 2``."""
    counts = rec.get("counts") or {}
    names = [c for c in CELL_ORDER if c in counts] + sorted(
        c for c in counts if c not in CELL_ORDER
    )
    return " · ".join(f"{name} {counts[name]}" for name in names)


def disagreement_texts(disagreements: Any) -> list[str]:
    """``4 knowledge cases failed for behavior reasons``, from ``{kind: {diagnosis: n}}``
    (a plain string or ``{key: n}`` is shown as it comes)."""
    if not isinstance(disagreements, Mapping):
        return []
    texts = []
    for kind, value in disagreements.items():
        if isinstance(value, Mapping):
            for diagnosis, count in value.items():
                if isinstance(count, int) and count:
                    noun = "case" if count == 1 else "cases"
                    texts.append(f"{count} {kind} {noun} failed for {diagnosis} reasons")
        elif isinstance(value, str) and value.strip():
            texts.append(value.strip())
        elif isinstance(value, int) and not isinstance(value, bool) and value:
            texts.append(f"{kind}: {value}")
    return texts


def counterfactual_text(report: Mapping[str, Any]) -> str | None:
    """``4 confirmed · 1 overturned``; None when no case was re-run."""
    cf = report.get("counterfactual")
    if not isinstance(cf, Mapping):
        return None
    confirmed, overturned = cf.get("confirmed") or 0, cf.get("overturned") or 0
    if not (confirmed or overturned or cf.get("run")):
        return None
    return f"{confirmed} confirmed · {overturned} overturned"
