"""The Markdown report, which is also the sticky PR comment and the job summary (SPEC 11).

Everything from a case (ids, inputs, answers, check messages) is untrusted and goes through
``escape``; the whole text never exceeds ``limit`` characters, however large the suite.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Sequence

from pytest_ragft.model import CaseRecord, ContextEvidence, Evidence
from pytest_ragft.report import fmt
from pytest_ragft.report.comparison import headline, spending
from pytest_ragft.report.escape import escape_html, escape_md
from pytest_ragft.runsummary import GateEvent, RunSummary
from pytest_ragft.variants import CaseChange, VariantComparison
from pytest_ragft.wording import plural

MARKER_PREFIX = "<!-- ragft:report suite="
DEFAULT_LIMIT = 65_000
_SUITE_SAFE = frozenset(string.ascii_letters + string.digits + "_.:/+-")
_SAFE_URL = re.compile(r"https?://[^\s<>()\[\]\"'`\\]+")
_ANSWER_ICON = {"yes": "✅ yes", "no": "❌ no"}
_DIAGNOSIS_MEANING = {
    "behavior": "every fact is in the answer and a check still failed",
    "hybrid": "retrieval held the facts and the model did not use them",
    "knowledge": "a fact is missing from the answer and from every retrieved context",
    "error": "the pipeline raised, timed out or returned the wrong type",
}
_MAX_MESSAGES = 5
_MESSAGE_CHARS = 300
_EXCERPT_CHARS = 400
_EXCERPT_LINES = 12
_TEXT_CHARS = 500
_FACT_CHARS = 60
_MAX_FACTS = 6
_CONTEXT_CHARS = 320
_MARK = {True: "✅", False: "❌"}


def report_marker(suite: str) -> str:
    """The hidden first line that identifies this suite's comment.

    The name is escaped, not reduced: every character outside ``[A-Za-z0-9_.:/+-]`` becomes
    ``%XX`` (its UTF-8 bytes), so two suites never share a marker (``team a`` is ``team%20a``,
    ``team_a`` stays) and no name can close the HTML comment or spell another marker. A name
    escaped to over 200 characters keeps 150 and a ``~`` with a hash of the whole name.
    """
    name = "".join(
        ch if ch in _SUITE_SAFE else "".join(f"%{b:02X}" for b in _utf8(ch)) for ch in suite
    )
    if len(name) > 200:
        digest = hashlib.sha256(_utf8(suite)).hexdigest()[:16]
        name = f"{name[:150]}~{digest}"
    return f"{MARKER_PREFIX}{name or '%'} -->"


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate still gets its own bytes


def _category_table(summary: RunSummary) -> list[str]:
    cats = fmt.categories(summary)
    if not cats:
        return ["No eval cases ran."]
    lines = [
        "| category | pass | rate | 95% CI | threshold | baseline | change | trend |",
        "|---|--:|--:|:-:|--:|--:|--:|---|",
    ]
    for name, cat in cats:
        threshold = fmt.threshold_pct(cat.threshold)
        if cat.below_threshold:
            threshold += " ❌"
        change = fmt.points(cat.change)
        if cat.regression is not None:
            change += " 📉 regression"
        trend = fmt.sparkline(cat.trend)
        cells = [
            escape_md(name, limit=60),
            f"{cat.passed}/{cat.total}",
            fmt.pct(cat.rate),
            fmt.ci_text(cat.ci),
            threshold,
            fmt.pct(cat.baseline),
            change,
            f"`{trend}`" if trend.strip() else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    notes = []
    for name, cat in cats:
        note = cat.power_note
        if note is not None and note.strip():
            text = escape_md(note.strip(), limit=_TEXT_CHARS)
            notes.append(
                f"- ℹ️ {text}" if note.startswith(name) else f"- ℹ️ {escape_md(name)}: {text}"
            )
    if notes:
        lines += ["", *notes]
    return lines


def _tag_table(summary: RunSummary) -> list[str]:
    tags = summary.tags
    if not tags:
        return []
    lines = [
        "<details><summary>By tag</summary>",
        "",
        "| tag | pass | rate | 95% CI |",
        "|---|--:|--:|:-:|",
    ]
    names = sorted(tags)
    for name in names[:30]:
        cat = tags[name]
        lines.append(
            f"| {escape_md(name, limit=60)} | {cat.passed}/{cat.total} "
            f"| {fmt.pct(cat.rate)} | {fmt.ci_text(cat.ci)} |"
        )
    if len(names) > 30:
        lines += ["", f"...and {plural(len(names) - 30, 'more tag')} (see the JSON report)"]
    return [*lines, "", "</details>"]


def _usage(summary: RunSummary) -> list[str]:
    """Latency, tokens and cost of the run and of each category, a line each."""
    rows = fmt.usage_rows(summary)
    if not rows:
        return []
    return ["**Latency, tokens and cost**", "", *(f"- {g}: {escape_md(t)}" for g, t in rows)]


def _retrieval(summary: RunSummary) -> list[str]:
    """Each category's retrieval quality, a line each."""
    rows = fmt.retrieval_rows(summary)
    if not rows:
        return []
    return ["**Retrieval**", "", *(f"- {g}: {escape_md(t)}" for g, t in rows)]


def _judge(summary: RunSummary) -> list[str]:
    """The judge's calls made and saved, only when a check was LLM-judged."""
    text = fmt.judge_text(summary)
    return [] if text is None else [f"**Judge**: {escape_md(text)}"]


def _event_line(icon: str, event: GateEvent) -> str:
    detail = escape_md(event.detail, limit=_TEXT_CHARS)
    return f"- {icon} **{escape_md(event.event)}**: {detail}"


def _gate(summary: RunSummary) -> list[str]:
    """The verdict, headed by the events that decided it or that the team must see."""
    gate = summary.gate
    failed = gate.verdict == "fail"
    suite = escape_md(summary.suite, limit=100)
    verdict = "❌ ragft gate: FAIL" if failed else "✅ ragft gate: PASS"
    lines = [f"## {verdict} · {suite}", ""]
    heading = [_event_line("❌", e) for e in gate.with_action("fail")[:20]]
    heading += [_event_line("💬", e) for e in gate.with_action("comment")[:20]]
    lines += heading
    reason = gate.reason.strip()
    deciding = "; ".join(fmt.event_text(e) for e in gate.with_action("fail"))
    if reason and reason != deciding:
        if heading:
            lines.append("")
        lines.append(f"**Why:** {escape_md(reason, limit=_TEXT_CHARS)}")
    elif not heading:
        lines.append("No gate event fired.")
    non_eval = gate.non_eval_failed
    if non_eval:
        lines += ["", f"{plural(non_eval, 'non-eval test')} failed."]
    warnings = gate.with_action("warn")
    if warnings:
        lines += ["", "⚠️ Warnings:", ""]
        lines += [_event_line("⚠️", e) for e in warnings[:20]]
    left_out = fmt.left_out_text(summary)
    if left_out:
        lines += ["", f"ℹ️ {escape_md(left_out.capitalize(), limit=_TEXT_CHARS)}"]
    return lines


def _diagnosis(summary: RunSummary) -> list[str]:
    lines = []
    counts = fmt.diagnosis_text(summary)
    if counts:
        lines.append(f"**Failures diagnosed:** {counts}")
    cf = fmt.counterfactual_text(summary.counterfactual)
    if cf:
        lines.append(f"**Counterfactual re-runs:** {cf}")
    for text in fmt.disagreement_texts(summary.disagreements):
        lines.append(f"**Kind vs diagnosis:** {escape_md(text, limit=_TEXT_CHARS)}")
    return [line + "  " if i < len(lines) - 1 else line for i, line in enumerate(lines)]


def _checklist(summary: RunSummary) -> list[str]:
    if not summary.checklist:
        return []
    lines = [
        "### Fine-tuning readiness",
        "",
        "| # | question | answer | evidence |",
        "|--:|---|---|---|",
    ]
    for item in summary.checklist:
        title = fmt.question_title(item)
        answer = _ANSWER_ICON.get(item.answer, "❔ unknown")
        evidence = escape_md(item.evidence, limit=_TEXT_CHARS)
        lines.append(f"| {item.question} | {escape_md(title, limit=200)} | {answer} | {evidence} |")
    return lines


def _recommendation(summary: RunSummary) -> list[str]:
    rec = summary.recommendation
    text = escape_md(fmt.arrows(fmt.recommendation_text(rec)), limit=300)
    lines = [f"**Recommendation:** {text}"]
    counts = fmt.cell_counts_text(rec)
    if counts:
        placed = fmt.placed_text(rec)
        lines.append(f"Failures per cell: {escape_md(counts, limit=300)}")
        if placed:
            lines[-1] += f" ({escape_md(placed, limit=200)})"
    advice = fmt.advice_text(rec)
    if advice:
        lines.append(escape_md(advice, limit=1000))
    for name, gain in (
        ("Retrieval gain", fmt.retrieval_gain_text(summary.gains)),
        ("Fine-tune gain", fmt.finetune_gain_text(summary.gains)),
    ):
        if gain:
            lines.append(f"**{name}:** {escape_md(fmt.arrows(gain), limit=600)}")
    return [line + "  " if i < len(lines) - 1 else line for i, line in enumerate(lines)]


def _changes(summary: RunSummary) -> list[str]:
    """Newly failing cases first (with their diagnosis), then newly passing, each bounded."""
    counts = fmt.changes_text(summary.changes)
    if counts is None:
        return []
    changes = summary.changes
    by_id = {c.id: c for c in summary.cases}
    lines = [
        f"### Changes against the baseline run {escape_md(fmt.short_run(changes.against or ''))}",
        "",
        counts,
    ]
    for name, ids in (
        ("newly_failing", changes.newly_failing),
        ("newly_passing", changes.newly_passing),
    ):
        if not ids:
            continue
        lines += ["", f"**{fmt.CHANGE_LABELS[name].capitalize()}** ({len(ids)}):", ""]
        for case_id in ids[: fmt.MAX_CHANGED_IDS]:
            case = by_id.get(case_id)
            diagnosis = f" · {escape_md(case.diagnosis)}" if case and case.diagnosis else ""
            kind = f" · {escape_md(case.kind)}" if case else ""
            lines.append(f"- **{escape_md(case_id, limit=200)}**{kind}{diagnosis}")
        if len(ids) > fmt.MAX_CHANGED_IDS:
            lines.append(f"- ...and {len(ids) - fmt.MAX_CHANGED_IDS} more (see the JSON report)")
    return lines


def _variants(summary: RunSummary) -> list[str]:
    """Each variant against the main pipeline, per category, and the cases it fixes and
    breaks (bounded)."""
    comparison = summary.variants
    if comparison is None or not comparison.variants:
        return []
    lines = ["### Variants against the main pipeline", ""]
    if comparison.note:
        lines += [escape_md(comparison.note, limit=_TEXT_CHARS), ""]
    for variant in comparison.variants:
        lines += [f"**{escape_md(headline(variant), limit=_TEXT_CHARS)}**", ""]
        lines += [
            "| category | main | variant | difference | p | verdict |",
            "|---|--:|--:|:-:|--:|---|",
        ]
        for name, cat in variant.categories.items():
            lines.append(
                f"| {escape_md(name, limit=60)} | {cat.main_passed}/{cat.shared} "
                f"| {cat.variant_passed}/{cat.shared} | {fmt.points(cat.difference)} "
                f"{fmt.ci_text(cat.difference_ci)} | {cat.p_adjusted:.4f} | {cat.verdict} |"
            )
        if spent := spending(variant):
            lines += ["", escape_md(spent, limit=_TEXT_CHARS)]
        for label, changes in _fixed_and_broken(variant):
            shown = ", ".join(
                f"**{escape_md(c.id, limit=100)}**"
                + (f" ({escape_md(c.diagnosis)})" if c.diagnosis else "")
                for c in changes[: fmt.MAX_CHANGED_IDS]
            )
            more = (
                f" ...and {len(changes) - fmt.MAX_CHANGED_IDS} more"
                if len(changes) > fmt.MAX_CHANGED_IDS
                else ""
            )
            lines += ["", f"{label}: {shown}{more}"]
        lines.append("")
    return lines


def _fixed_and_broken(variant: VariantComparison) -> list[tuple[str, list[CaseChange]]]:
    fixed = [c for cat in variant.categories.values() for c in cat.fixed]
    broken = [c for cat in variant.categories.values() for c in cat.broken]
    return [(label, found) for label, found in (("Fixed", fixed), ("Broken", broken)) if found]


def _flaky(summary: RunSummary) -> list[str]:
    flaky = summary.flaky
    if not flaky:
        return []
    lines = ["**Flaky cases** (the outcome alternates with nothing changed):", ""]
    lines += [
        f"- **{escape_md(f.id, limit=100)}**: {escape_md(f.detail, limit=_TEXT_CHARS)}"
        for f in flaky[:30]
    ]
    if len(flaky) > 30:
        lines.append(f"- ...and {len(flaky) - 30} more")
    return lines


def _footer(summary: RunSummary) -> str:
    git = summary.git
    parts = [f"suite {escape_md(summary.suite, limit=100)}"]
    parts.append(f"run {escape_md(summary.run_id, limit=80)}")
    sha = git.get("sha")
    if sha:
        where = f"commit {escape_md(str(sha)[:12])}"
        if git.get("branch"):
            where += f" on {escape_md(str(git['branch']), limit=100)}"
        parts.append(where)
    elif git.get("branch"):
        parts.append(f"branch {escape_md(str(git['branch']), limit=100)}")
    url = summary.ci.get("run_url")
    if isinstance(url, str) and url:
        parts.append(f"[CI run]({url})" if _SAFE_URL.fullmatch(url) else escape_md(url, limit=200))
    version = summary.plugin_version
    tool = f"pytest-ragft {escape_md(version, limit=40)}" if version else "pytest-ragft"
    return "\n---\n" + f"{tool} · " + " · ".join(parts) + "\n"


def _pass_text(case: CaseRecord) -> str:
    ratio = case.pass_ratio
    repeats = case.repeats
    text = f"pass ratio {fmt.pct(ratio, 0)}" if ratio is not None else "no pass ratio"
    if len(repeats) > 1:
        text += f" over {len(repeats)} repeats"
    return text


def _case_block(case: CaseRecord) -> str:
    """One failed case: id, kind, outcome, pass ratio, the diagnosis path, messages, an excerpt."""
    head = (
        f"**{escape_md(case.id, limit=200)}** · {escape_md(case.kind)}"
        f" · {escape_md(case.outcome)} · {_pass_text(case)}"
    )
    if case.counterfactual:
        path = fmt.diagnosis_path(
            escape_md(str(case.static_diagnosis)), escape_md(case.counterfactual)
        )
        head += f" · {path}"
    lines = [head + "  "]
    if case.source:
        lines[0] = f"{head} · {escape_md(case.source, limit=200)}  "
    if case.input.strip():
        lines.append(f"Input: {escape_md(case.input, limit=200)}")
    messages = case.messages
    if messages:
        lines.append("")
        lines += [
            f"- {escape_md(m, limit=_MESSAGE_CHARS, block_start=True)}"
            for m in messages[:_MAX_MESSAGES]
        ]
        if len(messages) > _MAX_MESSAGES:
            lines.append(f"- ...and {plural(len(messages) - _MAX_MESSAGES, 'more message')}")
    last = case.repeats[-1] if case.repeats else None
    error, answer = (last.error, last.answer) if last is not None else (None, None)
    if error is not None and error.strip():
        excerpt = escape_html(error.strip(), limit=_EXCERPT_CHARS, max_lines=_EXCERPT_LINES)
        lines += ["", f"<pre>error: {excerpt}</pre>"]
    if answer is not None and answer.strip():
        excerpt = escape_html(answer.strip(), limit=_EXCERPT_CHARS, max_lines=_EXCERPT_LINES)
        lines += ["", f"<pre>{excerpt}</pre>"]
    if case.evidence is not None:
        lines += ["", *_evidence(case.evidence)]
    return "\n".join(lines) + "\n\n"


def _marks(facts: Sequence[str], found: Sequence[bool]) -> str:
    marks = [
        f"{_MARK[hit]} {escape_md(fact, limit=_FACT_CHARS)}"
        for fact, hit in zip(facts, found, strict=False)
    ]
    more = len(marks) - _MAX_FACTS
    return " · ".join(marks[:_MAX_FACTS]) + (f" · +{more}" if more > 0 else "")


def _excerpt(context: ContextEvidence) -> str:
    """A context's window, the fact it shows in bold, the cuts marked with an ellipsis."""
    part = fmt.excerpt(context)
    before = escape_md(part.before, limit=_CONTEXT_CHARS)
    after = escape_md(part.after, limit=max(_CONTEXT_CHARS - len(part.before), 1))
    hit = escape_md(part.hit, limit=_CONTEXT_CHARS).strip()
    text = before + (f"**{hit}**" if hit else "") + after
    return ("…" if part.cut_before else "") + text + ("…" if part.cut_after else "")


def _evidence(evidence: Evidence) -> list[str]:
    """What the diagnosis read: the facts in the answer, the contexts kept (rank, source, the
    facts each holds, a window of it), and the gold-passage outcome."""
    lines = []
    if evidence.facts:
        lines.append(f"Facts in the answer: {_marks(evidence.facts, evidence.answer)}  ")
    if evidence.contexts:
        lines += [
            "",
            "| context | source | facts | excerpt |",
            "|--:|---|---|---|",
        ]
        for context in evidence.contexts:
            source = "" if context.source is None else escape_md(context.source, limit=80)
            marks = _marks(evidence.facts, context.facts) if evidence.facts else ""
            lines.append(f"| {context.rank} | {source} | {marks} | {_excerpt(context)} |")
        more = fmt.more_contexts(len(evidence.contexts), evidence.contexts_total)
        if more:
            lines += ["", more]
        lines.append("")
    elif not evidence.contexts_total:
        lines.append("No contexts came back.  ")
    gold = fmt.gold_text(evidence.gold)
    if gold:
        lines.append(f"Gold passages: {escape_md(gold)}")
    return lines


def _group_open(diagnosis: str, count: int) -> str:
    meaning = _DIAGNOSIS_MEANING.get(diagnosis, "not diagnosed")
    counted = plural(count, "case")
    return f"<details><summary>{escape_html(diagnosis)}: {counted} ({meaning})</summary>\n\n"


_GROUP_CLOSE = "</details>\n\n"


def _failed_cases(failing: Sequence[CaseRecord], budget: int) -> str:
    """The failed and errored cases grouped by diagnosis, as many as fit in ``budget``."""
    if not failing:
        return ""
    groups: dict[str, list[CaseRecord]] = {}
    for case in failing:
        groups.setdefault(case.diagnosis or "undiagnosed", []).append(case)
    order = [d for d in fmt.DIAGNOSIS_ORDER if d in groups] + sorted(
        d for d in groups if d not in fmt.DIAGNOSIS_ORDER
    )
    title = f"### Failed cases ({len(failing)})\n\n"
    reserve = 120  # room for the "...and N more" line
    out, used, shown, full = [title], len(title), 0, False
    for diagnosis in order:
        opening = _group_open(diagnosis, len(groups[diagnosis]))
        parts: list[str] = []
        size = len(opening) + len(_GROUP_CLOSE)
        for case in groups[diagnosis]:
            block = _case_block(case)
            if used + size + len(block) + reserve > budget:
                full = True
                break
            parts.append(block)
            size += len(block)
        if parts:
            out += [opening, *parts, _GROUP_CLOSE]
            used += size
            shown += len(parts)
        if full:
            break
    if shown < len(failing):
        more = len(failing) - shown
        out.append(f"...and {plural(more, 'more failed case')} (see the JSON report)\n")
    return "".join(out)


def _join(*sections: list[str]) -> str:
    return "\n\n".join("\n".join(s) for s in sections if s) + "\n\n"


def render_markdown(summary: RunSummary, *, limit: int = DEFAULT_LIMIT) -> str:
    """The summary as Markdown, marker first, never longer than ``limit`` characters."""
    marker = report_marker(summary.suite)
    head = (
        marker
        + "\n"
        + _join(
            _gate(summary),
            _category_table(summary),
            _tag_table(summary),
            _usage(summary),
            _retrieval(summary),
            _judge(summary),
            _diagnosis(summary),
            _changes(summary),
            _variants(summary),
            _checklist(summary),
            _recommendation(summary),
        )
    )
    flaky = _join(_flaky(summary)) if summary.flaky else ""
    footer = _footer(summary)
    budget = limit - len(head) - len(flaky) - len(footer)
    text = head + _failed_cases(summary.failed_cases, budget) + flaky + footer
    if len(text) > limit:
        # Only when the summary itself is huge: cut, but never the marker, and say so.
        tail = "\n\n...(cut to fit: see the JSON report)\n"
        text = text[: max(limit - len(tail), len(marker) + 1)] + tail
        text = text[:limit]
    return text
