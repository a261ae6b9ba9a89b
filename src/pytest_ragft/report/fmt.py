"""Formatting shared by the renderers (terminal, Markdown, HTML): numbers, labels, one-line texts.

Kept in one place so the terminal summary, the PR comment and the HTML page word the same facts
the same way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pytest_ragft.checklist import HEADLINES, KEYS, TITLES

CATEGORY_ORDER = ("knowledge", "behavior")
# Behavior-bound first: those are the failures the fine-tuning question is about.
DIAGNOSIS_ORDER = ("behavior", "hybrid", "knowledge", "error")
CELL_ORDER = ("rag", "pretraining", "fine-tune", "prompt")
# The decision matrix: rows are the failure type, columns the signal (stable, volatile).
MATRIX = (
    ("knowledge-bound", ("pretraining", "rag")),
    ("behavior-bound", ("fine-tune", "prompt")),
)
SPARKS = "▁▂▃▄▅▆▇█"
# The checklist's wording of each cell, looked up by the plain string a report holds.
_HEADLINES: Mapping[str, str] = {str(cell): text for cell, text in HEADLINES.items()}


def number(value: Any) -> float | None:
    """A finite number, or None: a malformed value (a bool, NaN) must not read as a rate."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def pct(value: Any, digits: int = 1) -> str:
    """A share as a percentage (0.925 -> ``92.5%``); ``-`` when absent."""
    share = number(value)
    if share is None:
        return "-"
    return f"{share * 100:.{digits}f}%"


def threshold_pct(value: Any) -> str:
    """A threshold without a needless decimal (0.9 -> ``90%``, 0.875 -> ``87.5%``)."""
    share = number(value)
    if share is None:
        return "-"
    return f"{share * 100:.1f}".removesuffix(".0") + "%"


def ci_text(value: Any) -> str:
    """A Wilson interval in percent, ``[81.2, 96.8]``; ``-`` when absent."""
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        return "-"
    low, high = number(value[0]), number(value[1])
    if low is None or high is None:
        return "-"
    return f"[{low * 100:.1f}, {high * 100:.1f}]"


def points(value: Any) -> str:
    """A change in percentage points with its sign (-0.02 -> ``-2.0``); ``-`` when absent."""
    change = number(value)
    if change is None:
        return "-"
    text = f"{change * 100:+.1f}"
    return "+0.0" if text == "-0.0" else text


def arrows(text: str) -> str:
    """``a -> b`` as ``a → b``, for the renderers that are not plain terminals."""
    return text.replace(" -> ", " → ")


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


def question_title(item: Mapping[str, Any]) -> str:
    """A checklist answer's question: its own ``title``, else the checklist's wording for its
    ``key`` (or its number), else the key itself."""
    title = item.get("title")
    if isinstance(title, str) and title.strip():
        return title.strip()
    key = item.get("key")
    question = item.get("question")
    if key not in TITLES and isinstance(question, int) and 1 <= question <= len(KEYS):
        key = KEYS[question - 1]
    if isinstance(key, str) and key in TITLES:
        return TITLES[key]
    return str(key or f"question {question}")


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


def recommendation_text(rec: Mapping[str, Any]) -> str:
    """The summary's own ``summary`` (``behavior-bound, stable -> fine-tune (LoRA/QLoRA): not
    yet, question 3``); without one, only the headline of the chosen cell."""
    summary = rec.get("summary")
    if isinstance(summary, str) and summary.strip():
        return summary.strip()
    cell = rec.get("cell")
    if cell is None:
        return "nothing failed: no change recommended"
    return cell_headline(str(cell))


def cell_headline(cell: str) -> str:
    """A matrix cell as the checklist words it (``knowledge-bound, volatile -> RAG``)."""
    return _HEADLINES.get(cell, cell)


def advice_text(rec: Mapping[str, Any]) -> str | None:
    """The summary's advice on the recommendation, if it gave any."""
    advice = rec.get("advice")
    return advice.strip() if isinstance(advice, str) and advice.strip() else None


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
