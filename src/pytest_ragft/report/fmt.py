"""Formatting shared by the renderers (terminal, Markdown, HTML): numbers, labels, one-line texts.

Kept in one place so the terminal summary, the PR comment and the HTML page word the same facts
the same way. Every helper reads a piece of the typed run summary and computes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from pytest_ragft.checklist import HEADLINES, KEYS, TITLES
from pytest_ragft.model import ContextEvidence
from pytest_ragft.runsummary import (
    CHANGE_LISTS,
    Answer,
    Category,
    Changes,
    CounterfactualCounts,
    Gains,
    Gate,
    GateEvent,
    Recommendation,
    Retrieval,
    RunSummary,
    Usage,
)
from pytest_ragft.wording import percent, plural

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
CHANGE_LABELS = {
    "newly_failing": "newly failing",
    "newly_passing": "newly passing",
    "still_failing": "still failing",
    "new": "new",
    "removed": "removed",
}
MAX_CHANGED_IDS = 30  # per list in the Markdown and HTML; the JSON report has them all
# What became of the re-run with the gold passages (the counterfactual), and why there was none.
GOLD_TEXT: Mapping[str, str] = {
    "passed": "passed: given the gold passages the answer passes, so retrieval is what to fix",
    "failed": "failed: the answer fails even with the gold passages in hand",
    "error": "the re-run with the gold passages errored",
    "not-needed": "not re-run: no fact is missing from the answer",
    "off": 'not re-run: diagnose = "static"',
    "unsupported": "not re-run: the pipeline takes no contexts keyword",
    "no-gold": "not re-run: the case has no gold_contexts or facts",
    "python": "not re-run: a Python case keeps its static diagnosis",
}
# The checklist's wording of each cell, looked up by the plain string a report holds.
_HEADLINES: Mapping[str, str] = {str(cell): text for cell, text in HEADLINES.items()}


def number(value: float | None) -> float | None:
    """A finite number, or None: NaN or an infinity must not read as a rate."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def pct(value: float | None, digits: int = 1) -> str:
    """A share as a percentage (0.925 -> ``92.5%``); ``-`` when absent."""
    share = number(value)
    if share is None:
        return "-"
    return f"{share * 100:.{digits}f}%"


def threshold_pct(value: float | None) -> str:
    """A threshold without a needless decimal (0.9 -> ``90%``, 0.875 -> ``87.5%``)."""
    share = number(value)
    if share is None:
        return "-"
    return f"{share * 100:.1f}".removesuffix(".0") + "%"


def ci_text(value: tuple[float, float] | None) -> str:
    """A Wilson interval in percent, ``[81.2, 96.8]``; ``-`` when absent."""
    if value is None:
        return "-"
    low, high = number(value[0]), number(value[1])
    if low is None or high is None:
        return "-"
    return f"[{low * 100:.1f}, {high * 100:.1f}]"


def points(value: float | None) -> str:
    """A change in percentage points with its sign (-0.02 -> ``-2.0``); ``-`` when absent."""
    change = number(value)
    if change is None:
        return "-"
    text = f"{change * 100:+.1f}"
    return "+0.0" if text == "-0.0" else text


def arrows(text: str) -> str:
    """``a -> b`` as ``a → b``, for the renderers that are not plain terminals."""
    return text.replace(" -> ", " → ")


def sparkline(values: Iterable[float | None], width: int = 10) -> str:
    """The last ``width`` rates as bars on an absolute 0-100% scale (a gap for a missing run).

    Absolute, not min-max: a one-point wobble must not look like a collapse.
    """
    bars = []
    for value in list(values)[-width:]:
        if value is None or math.isnan(value):
            bars.append(" ")
        else:
            share = min(max(float(value), 0.0), 1.0)
            bars.append(SPARKS[round(share * (len(SPARKS) - 1))])
    return "".join(bars)


def categories(summary: RunSummary) -> list[tuple[str, Category]]:
    """The summary's categories in their usual order."""
    cats = summary.categories
    names = [c for c in CATEGORY_ORDER if c in cats] + sorted(
        c for c in cats if c not in CATEGORY_ORDER
    )
    return [(name, cats[name]) for name in names]


def event_text(event: GateEvent) -> str:
    """``below_threshold: behavior 77.5% < 85%``."""
    detail = event.detail.strip()
    return f"{event.event}: {detail}" if detail else event.event


def gate_reason(gate: Gate) -> str:
    """Why the gate decided as it did: its own reason, else the events that decided it."""
    if gate.reason.strip():
        return gate.reason.strip()
    deciding = gate.with_action("fail") if gate.verdict == "fail" else []
    return "; ".join(event_text(e) for e in deciding)


def diagnosis_counts(summary: RunSummary) -> list[tuple[str, int]]:
    """Non-zero diagnosis counts, behavior-bound first."""
    counts = summary.diagnosis
    return [(d, counts[d]) for d in DIAGNOSIS_ORDER if counts.get(d)]


def diagnosis_text(summary: RunSummary) -> str | None:
    """``behavior 5 · hybrid 3 · knowledge 3 · error 2``; None when nothing was diagnosed."""
    counts = diagnosis_counts(summary)
    return " · ".join(f"{d} {n}" for d, n in counts) if counts else None


def diagnosis_path(static: str, counterfactual: str) -> str:
    """How a case's diagnosis was reached, ``static knowledge, counterfactual passed``: the
    wording of every place that shows one case (pass the parts already escaped if need be)."""
    return f"static {static}, counterfactual {counterfactual}"


def gold_text(gold: str | None) -> str | None:
    """The gold-passage outcome of a failure's evidence, in words; None when not known."""
    return None if gold is None else GOLD_TEXT.get(gold, gold)


class Excerpt(NamedTuple):
    """A context's excerpt as shown: the text before the fact, the fact, the text after it, and
    whether the context goes on before and after what is shown."""

    before: str
    hit: str
    after: str
    cut_before: bool
    cut_after: bool


def excerpt(context: ContextEvidence, width: int | None = None) -> Excerpt:
    """A context's excerpt split around the fact it shows; ``width`` narrows it to that many
    characters around the fact (a terminal line)."""
    text = context.excerpt
    lo, hi = context.hit if context.hit else (0, 0)
    start, end = 0, len(text)
    if width is not None and len(text) > width:
        start = max(0, min(lo - width // 4, len(text) - width)) if context.hit else 0
        end = max(start + width, hi)
        start, end = _between_words(text, start, end, (lo, hi) if context.hit else None)
    lo, hi = max(lo, start), max(hi, start)
    return Excerpt(
        text[start:lo],
        text[lo:hi],
        text[hi:end],
        context.start + start > 0,
        context.start + end < context.length,
    )


def _between_words(
    text: str, start: int, end: int, keep: tuple[int, int] | None
) -> tuple[int, int]:
    """A cut moved to the nearest space within a few characters, never into ``keep``."""
    if start > 0:
        space = text.find(" ", start, start + 16)
        if space != -1 and (keep is None or space < keep[0]):
            start = space + 1
    if end < len(text):
        space = text.rfind(" ", end - 16, end)
        if space != -1 and (keep is None or space >= keep[1]) and space > start:
            end = space
    return start, end


def more_contexts(shown: int, total: int) -> str | None:
    """``...and 2 more contexts`` when the evidence kept fewer contexts than came back."""
    if total <= shown:
        return None
    return f"...and {plural(total - shown, 'more context')} not shown"


def question_title(answer: Answer) -> str:
    """A checklist answer's question: its own ``title``, else the checklist's wording for its
    ``key`` (or its number), else the key itself."""
    if answer.title.strip():
        return answer.title.strip()
    key, question = answer.key, answer.question
    if key not in TITLES and 1 <= question <= len(KEYS):
        key = KEYS[question - 1]
    if key in TITLES:
        return TITLES[key]
    return key or f"question {question}"


def answer_word(answer: str) -> str:
    """``yes`` stays quiet; ``NO`` stands out; ``unknown`` says so."""
    return {"yes": "yes", "no": "NO"}.get(answer, "unknown")


def checklist_note(answer: Answer, limit: int = 48) -> str | None:
    """The short parenthetical of a checklist answer: its ``note``, else (for an answer that is
    not yes) the start of its evidence."""
    if answer.note.strip():
        return answer.note.strip()
    if answer.answer == "yes":
        return None
    evidence = answer.evidence.strip()
    if not evidence:
        return None
    return evidence if len(evidence) <= limit else evidence[: limit - 1] + "…"


def recommendation_text(rec: Recommendation) -> str:
    """The summary's own ``summary`` (``behavior-bound, stable -> fine-tune (LoRA/QLoRA): not
    yet, question 3``); without one, only the headline of the chosen cell."""
    if rec.summary.strip():
        return rec.summary.strip()
    if rec.cell is None:
        return "nothing failed: no change recommended"
    return cell_headline(rec.cell)


def cell_headline(cell: str) -> str:
    """A matrix cell as the checklist words it (``knowledge-bound, volatile -> RAG``)."""
    return _HEADLINES.get(cell, cell)


def advice_text(rec: Recommendation) -> str | None:
    """The summary's advice on the recommendation, if it gave any."""
    return rec.advice.strip() or None


def cell_counts_text(rec: Recommendation) -> str:
    """Every cell's failure count, ``rag 2 · pretraining 1 · fine-tune 6 · prompt 2``."""
    counts = rec.counts
    names = [c for c in CELL_ORDER if c in counts] + sorted(
        c for c in counts if c not in CELL_ORDER
    )
    return " · ".join(f"{name} {counts[name]}" for name in names)


def disagreement_texts(disagreements: Mapping[str, Mapping[str, int]]) -> list[str]:
    """``4 knowledge cases failed for behavior reasons``, from ``{kind: {diagnosis: n}}``."""
    texts = []
    for kind, counts in disagreements.items():
        for diagnosis, count in counts.items():
            if count:
                texts.append(f"{plural(count, kind + ' case')} failed for {diagnosis} reasons")
    return texts


def counterfactual_text(counts: CounterfactualCounts) -> str | None:
    """``4 confirmed · 1 overturned``; None when no case was re-run."""
    if not (counts.confirmed or counts.overturned or counts.run):
        return None
    return f"{counts.confirmed} confirmed · {counts.overturned} overturned"


def changes_text(changes: Changes) -> str | None:
    """``2 newly failing · 1 newly passing · 3 still failing · 1 new · 0 removed``; None
    without a baseline run to compare with."""
    if changes.against is None:
        return None
    return " · ".join(f"{len(getattr(changes, n))} {CHANGE_LABELS[n]}" for n in CHANGE_LISTS)


def short_run(run_id: str) -> str:
    """A run id as ``ragft history`` shows it."""
    return run_id[:12]


def placed_text(rec: Recommendation) -> str | None:
    """``signal: 1 declared, 2 measured, 3 by default``; None when nothing was placed."""
    words = {"declaration": "declared", "evidence": "measured", "default": "by default"}
    placed = [f"{n} {words.get(how, how)}" for how, n in rec.placed.items() if n]
    return "signal: " + ", ".join(placed) if placed else None


def left_out_text(summary: RunSummary) -> str | None:
    """Why this run does not count toward later runs' baseline; None when it does."""
    if not summary.left_out:
        return None
    return "this run does not count toward the baseline: " + "; ".join(summary.left_out)


USAGE_ORDER = ("all", *CATEGORY_ORDER)


def seconds(value: float) -> str:
    """``1.25 s`` from a second on, ``840 ms`` below it."""
    return f"{value:.2f} s" if value >= 1 else f"{value * 1000:.3g} ms"


def amount(value: float) -> str:
    """A cost without an exponent: ``0.000079``, ``0.25``, ``1,234.50``."""
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.6f}".rstrip("0").rstrip(".") or "0"


def usage_text(usage: Usage) -> str:
    """``latency p50 840 ms, p95 1.32 s; 150 tokens/case (1,200 in all); cost 0.0012/case
    (0.0096 in all)``; empty when no case ran."""
    if not usage.cases or usage.latency_p50_s is None or usage.latency_p95_s is None:
        return ""
    parts = [f"latency p50 {seconds(usage.latency_p50_s)}, p95 {seconds(usage.latency_p95_s)}"]
    if usage.tokens_per_case is not None:
        parts.append(
            f"{usage.tokens_per_case:,.0f} tokens/case ({usage.tokens_total or 0:,} in all)"
        )
    if usage.cost_per_case is not None:
        total = amount(usage.cost_total or 0.0)
        parts.append(f"cost {amount(usage.cost_per_case)}/case ({total} in all)")
    return "; ".join(parts)


def judge_text(summary: RunSummary) -> str | None:
    """The judge line's text: None when no check was LLM-judged."""
    judge = summary.judge
    if judge is None:
        return None
    text = f"{plural(judge.calls, 'call')} made"
    return text + (f", {judge.saved} saved by the judge cache" if judge.saved else "")


def usage_rows(summary: RunSummary) -> list[tuple[str, str]]:
    """(group, text) for the run ("all") and each category with something to say."""
    rows = [
        (name, usage_text(summary.usage[name])) for name in USAGE_ORDER if name in summary.usage
    ]
    return [(name, text) for name, text in rows if text]


def retrieval_text(measured: Retrieval) -> str:
    """``hit@3 0.85 [0.58, 0.96] · recall@3 0.80 [0.61, 0.99] · MRR 0.71 [...] · nDCG@3 0.74
    [...] (13 cases) · fact recall 0.90 [...] (5 cases)``, each mean with its 95% interval;
    ``@k`` where the cases were cut at different lengths; empty with nothing."""
    at = "k" if measured.k is None else str(measured.k)
    parts = []
    if measured.cases:
        ranked = [
            (f"hit@{at}", measured.hit, measured.hit_ci),
            (f"recall@{at}", measured.recall, measured.recall_ci),
            ("MRR", measured.mrr, measured.mrr_ci),
            (f"nDCG@{at}", measured.ndcg, measured.ndcg_ci),
        ]
        shown = " · ".join(f"{name} {_share(v)}{_share_ci(ci)}" for name, v, ci in ranked)
        parts.append(f"{shown} ({plural(measured.cases, 'case')})")
    if measured.fact_cases:
        share = _share(measured.fact_recall) + _share_ci(measured.fact_recall_ci)
        parts.append(f"fact recall {share} ({plural(measured.fact_cases, 'case')})")
    return " · ".join(parts)


def _share_ci(ci: tuple[float, float] | None) -> str:
    return "" if ci is None else f" [{ci[0]:.2f}, {ci[1]:.2f}]"


def retrieval_rows(summary: RunSummary) -> list[tuple[str, str]]:
    """(category, text) for each category with retrieval measured."""
    rows = [
        (name, retrieval_text(summary.retrieval[name]))
        for name in CATEGORY_ORDER
        if name in summary.retrieval
    ]
    return [(name, text) for name, text in rows if text]


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def retrieval_gain_text(gains: Gains) -> str:
    """``with the gold passages 1 of 2 knowledge failures re-run pass: fixing retrieval can
    lift knowledge from 84.6% to 92.3%``; empty when no failure was re-run."""
    parts = []
    for lift in gains.retrieval:
        head = (
            f"with the gold passages {lift.fixed} of "
            f"{plural(lift.of, lift.category + ' failure')} re-run pass"
        )
        if lift.fixed:
            parts.append(
                f"{head}: fixing retrieval can lift {lift.category} from {percent(lift.rate)} "
                f"to {percent(lift.rate_if)}"
            )
        else:
            parts.append(
                f"{head}: fixing retrieval alone would not lift {lift.category} "
                f"({percent(lift.rate)})"
            )
    return "; ".join(parts)


def finetune_gain_text(gains: Gains) -> str:
    """``a fine-tune (fix rate 50.0%: expected_fix_rate) can lift behavior by up to 23.1 points
    (76.9% -> 100.0%, 3 behavior-bound failures), expected 11.5 (to 88.5%)``, behavior first;
    empty without behavior-bound failures."""
    lifts = sorted(gains.finetune, key=lambda lift: lift.category != "behavior")
    parts = []
    for lift in lifts:
        text = (
            f"{lift.category} by up to {_points(lift.rate_if - lift.rate)} points "
            f"({percent(lift.rate)} -> {percent(lift.rate_if)}, "
            f"{plural(lift.of, 'behavior-bound failure')})"
        )
        if lift.expected_rate is not None:
            text += (
                f", expected {_points(lift.expected_rate - lift.rate)} "
                f"(to {percent(lift.expected_rate)})"
            )
        parts.append(text)
    if not parts:
        return ""
    who = "a fine-tune"
    if gains.fix_rate is not None and gains.fix_rate_from:
        who += f" (fix rate {percent(gains.fix_rate)}: {gains.fix_rate_from})"
    return f"{who} can lift " + "; ".join(parts)


def _points(delta: float) -> str:
    return f"{delta * 100:.1f}"
