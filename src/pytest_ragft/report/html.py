"""The HTML report: one self-contained page a reviewer opens from a CI artifact, offline.

Everything is inline (CSS, SVG; no script is needed: the case filters are CSS radio buttons) and a
Content-Security-Policy forbids every fetch, so the page loads nothing and a hostile model answer,
escaped like all report text, can neither add markup nor make the page call out.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from pytest_ragft.model import KINDS, CaseRecord, ContextEvidence, Evidence, RepeatRecord
from pytest_ragft.report import fmt
from pytest_ragft.report.comparison import headline, spending
from pytest_ragft.report.escape import strip_control
from pytest_ragft.runsummary import SCHEMA_VERSION, Category, Gate, Retrieval, RunSummary
from pytest_ragft.variants import Comparison
from pytest_ragft.wording import number_of, plural

__all__ = ["CSP", "render_html"]

# No script-src: the page has no script, so ``default-src 'none'`` blocks every one.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

# Answers and inputs are cut here: the page stays readable and the history keeps the full text.
EXCERPT_CHARS = 1500

# The case filters: (radio group, case data attribute, values).
FILTERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("kind", "kind", KINDS),
    ("diag", "diagnosis", fmt.DIAGNOSIS_ORDER),
)

# The categories the variants' matrix can be narrowed to.
MATRIX_CATEGORIES = KINDS

KIND_COLORS = {"knowledge": "#1d4ed8", "behavior": "#7e22ce"}

# Chart geometry, in SVG user units.
CHART_W, CHART_H = 520, 210
PAD_L, PAD_R, PAD_T, PAD_B = 46, 14, 16, 32
PLOT_W, PLOT_H = CHART_W - PAD_L - PAD_R, CHART_H - PAD_T - PAD_B


def render_html(summary: RunSummary) -> str:
    """One self-contained HTML page for a run summary."""
    suite = summary.suite or "ragft"
    verdict = summary.gate.verdict or "unknown"
    body = [
        _header(summary, suite),
        _verdict(summary.gate, fmt.left_out_text(summary)),
        _categories(summary),
        _trends(summary),
        _usage(summary),
        _retrieval(summary),
        _diagnosis(summary),
        _changes(summary),
        _variants(summary),
        _checklist(summary),
        _recommendation(summary),
        _cases(summary),
        _footer(summary),
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>ragft · {_e(suite)} · {_e(verdict.upper())}</title>\n"
        f"<style>\n{_css()}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(part for part in body if part)
        + "\n</main>\n</body>\n</html>\n"
    )


# -- small formatting helpers -------------------------------------------------------------------


def _e(value: object) -> str:
    """Escape any report value for text and for double- or single-quoted attributes, without the
    control and bidi characters that could hide or reorder what a reviewer reads."""
    return html.escape(strip_control("" if value is None else str(value)), quote=True)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _change(value: float | None) -> str:
    """``fmt.points`` with its unit, and a real minus sign."""
    if fmt.number(value) is None:
        return "-"
    return f"{fmt.points(value)} pts".replace("-", "−")


def _excerpt(value: str, limit: int = EXCERPT_CHARS) -> str:
    text = strip_control(value)
    if len(text) <= limit:
        return _e(text)
    more = plural(len(text) - limit, "more character")
    return f'{_e(text[:limit])}<span class="cut">… ({more})</span>'


def _badge(label: object, cls: str) -> str:
    return f'<span class="badge {cls}">{_e(label)}</span>'


def _token(text: str) -> str:
    """A class-name-safe form of an enum value (unknown values collapse to 'other')."""
    return text if text.replace("-", "").replace("_", "").isalnum() else "other"


# -- sections -----------------------------------------------------------------------------------


def _header(summary: RunSummary, suite: str) -> str:
    git, ci = summary.git, summary.ci
    facts: list[tuple[str, str]] = []
    if summary.run_id:
        facts.append(("run", f"<code>{_e(summary.run_id)}</code>"))
    if summary.started_at:
        facts.append(("started", _e(summary.started_at)))
    duration = fmt.number(summary.duration_s)
    if duration is not None:
        facts.append(("duration", f"{duration:.1f} s"))
    if git.get("branch"):
        base = f" → {_e(git['base_branch'])}" if git.get("base_branch") else ""
        facts.append(("branch", f"<code>{_e(git['branch'])}</code>{base}"))
    if git.get("sha"):
        facts.append(("commit", f"<code>{_e(_text(git['sha'])[:12])}</code>"))
    if git.get("pr") is not None:
        facts.append(("pull request", f"#{_e(git['pr'])}"))
    if summary.pipeline:
        facts.append(("pipeline", f"<code>{_e(summary.pipeline)}</code>"))
    if ci.get("provider") or ci.get("run_url"):
        facts.append(("CI", _ci_link(ci)))
    items = "".join(f"<div><dt>{name}</dt><dd>{value}</dd></div>" for name, value in facts)
    return (
        '<header class="top">\n'
        f'<p class="eyebrow">pytest-ragft report</p>\n<h1>{_e(suite)}</h1>\n'
        f'<dl class="meta">{items}</dl>\n</header>'
    )


def _ci_link(ci: Mapping[str, Any]) -> str:
    """A link to the CI run, only for http(s) addresses: navigation on click, never a fetch."""
    provider = _e(ci.get("provider") or "run")
    url = _text(ci.get("run_url"))
    if url.lower().startswith(("https://", "http://")):
        return f'<a href="{_e(url)}" rel="noopener noreferrer">{provider}</a>'
    return provider + (f" <code>{_e(url)}</code>" if url else "")


def _verdict(gate: Gate, left_out: str | None = None) -> str:
    verdict = gate.verdict or "unknown"
    cls = {"pass": "pass", "fail": "fail"}.get(verdict, "unknown")
    reason = f'<p class="reason">{_e(gate.reason)}</p>' if gate.reason else ""
    if gate.events:
        rows = "".join(
            "<li>"
            + _badge(event.action, f"action-{_token(event.action)}")
            + f" <strong>{_e(event.event)}</strong>"
            + (f' <span class="muted">({_e(event.category)})</span>' if event.category else "")
            + f" {_e(event.detail)}</li>"
            for event in gate.events
        )
        listing = f'<ul class="events">{rows}</ul>'
    else:
        listing = '<p class="muted">No gate events.</p>'
    return (
        f'<section class="verdict verdict-{cls}" id="verdict">\n'
        f'<p class="verdict-word">Gate: {_e(verdict.upper())}</p>\n{reason}\n{listing}\n'
        + (f'<p class="muted">{_e(left_out.capitalize())}.</p>\n' if left_out else "")
        + "</section>"
    )


def _categories(summary: RunSummary) -> str:
    table = _category_table(summary.categories, "category")
    if not table:
        table = '<p class="muted">No eval cases ran.</p>'
    tags = summary.tags
    tag_table = ""
    if tags:
        tag_table = f"<h3>By tag</h3>\n{_category_table(tags, 'tag')}"
    return f'<section id="categories">\n<h2>Pass rates</h2>\n{table}\n{tag_table}\n</section>'


def _usage(summary: RunSummary) -> str:
    """Latency, tokens and cost of the run and of each category."""
    rows = fmt.usage_rows(summary)
    if not rows:
        return ""
    items = "".join(f"<li><strong>{_e(g)}</strong>: {_e(t)}</li>" for g, t in rows)
    return f'<section id="usage">\n<h2>Latency, tokens and cost</h2>\n<ul>{items}</ul>\n</section>'


def _retrieval(summary: RunSummary) -> str:
    """This run's retrieval quality per category: each mean with its 95% interval."""
    rows = [
        _retrieval_row(name, summary.retrieval[name])
        for name in fmt.CATEGORY_ORDER
        if name in summary.retrieval
    ]
    if not rows:
        return ""
    head = "".join(
        f'<th scope="col">{h}</th>'
        for h in (
            "category",
            "cases",
            "k",
            "hit@k",
            "recall@k",
            "MRR",
            "nDCG@k",
            "fact cases",
            "fact recall",
        )
    )
    return (
        '<section id="retrieval">\n<h2>Retrieval</h2>\n'
        '<p class="muted small">Means over the cases that measured each, with 95% intervals '
        "(Wilson for hit, a t-interval for the others); rank measures need gold_sources, "
        "fact recall is the share of a case's facts found in what was retrieved.</p>\n"
        f'<table class="retrieval">\n<thead><tr>{head}</tr></thead>\n<tbody>\n'
        + "\n".join(rows)
        + "\n</tbody>\n</table>\n</section>"
    )


def _retrieval_row(name: str, measured: Retrieval) -> str:
    ranked = (
        (measured.hit, measured.hit_ci),
        (measured.recall, measured.recall_ci),
        (measured.mrr, measured.mrr_ci),
        (measured.ndcg, measured.ndcg_ci),
    )
    cells = [_measure_cell(v, ci) if measured.cases else "<td>-</td>" for v, ci in ranked]
    fact = _measure_cell(measured.fact_recall, measured.fact_recall_ci)
    return (
        f'<tr><th scope="row">{_e(name)}</th><td class="num">{_e(measured.cases)}</td>'
        f'<td class="num">{_e(_cut_text(measured))}</td>'
        + "".join(cells)
        + f'<td class="num">{_e(measured.fact_cases)}</td>'
        + (fact if measured.fact_cases else "<td>-</td>")
        + "</tr>"
    )


def _cut_text(measured: Retrieval) -> str:
    if not measured.cases:
        return "-"
    return "varies" if measured.k is None else str(measured.k)


def _measure_cell(value: float | None, ci: tuple[float, float] | None) -> str:
    shown = "n/a" if value is None else f"{value:.2f}"
    interval = (
        "" if ci is None else f'<br><span class="muted small">[{ci[0]:.2f}, {ci[1]:.2f}]</span>'
    )
    return f'<td class="num">{_e(shown)}{interval}</td>'


def _category_row(name: str, group: Category) -> str:
    threshold = fmt.threshold_pct(group.threshold)
    if group.below_threshold:
        threshold += " " + _badge("below", "action-fail")
    counted = (("failed", group.failed), ("error", group.error), ("skipped", group.skipped))
    counts = [f"{_e(n)} {key}" for key, n in counted if n]
    notes = []
    regression = group.regression
    if regression is not None and regression.detail:
        badge = _badge("regression", "action-fail") + " " if regression.fires else ""
        notes.append(badge + _e(regression.detail))
    elif regression is not None:
        notes.append(_badge("regression", "action-fail"))
    if group.power_note:
        notes.append(_e(group.power_note))
    return (
        "<tr>"
        f'<th scope="row">{_e(name)}</th>'
        f'<td class="num">{_e(group.passed)}/{_e(group.total)}'
        + (f'<br><span class="muted small">{" · ".join(counts)}</span>' if counts else "")
        + "</td>"
        f'<td class="num rate">{fmt.pct(group.rate)}</td>'
        f'<td class="num">{fmt.ci_text(group.ci)}</td>'
        f'<td class="num">{threshold}</td>'
        f'<td class="num">{fmt.pct(group.baseline)}</td>'
        f'<td class="num">{_change(group.change)}</td>'
        f'<td class="notes">{"<br>".join(notes)}</td>'
        "</tr>"
    )


def _category_table(groups: Mapping[str, Category], label: str) -> str:
    rows = [_category_row(name, group) for name, group in groups.items()]
    if not rows:
        return ""
    return (
        '<table class="rates">\n<thead><tr>'
        f'<th scope="col">{label}</th><th scope="col">pass</th><th scope="col">rate</th>'
        '<th scope="col">95% CI</th><th scope="col">threshold</th><th scope="col">baseline</th>'
        '<th scope="col">change</th><th scope="col">notes</th>'
        "</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
    )


def _trends(summary: RunSummary) -> str:
    figures = [
        _chart(kind, category, _series(summary, kind, category))
        for kind, category in summary.categories.items()
    ]
    if not figures:
        return ""
    measured = _measure_charts(summary)
    more = (
        '<p class="muted">Retrieval quality and latency p95 per category over the runs that '
        "measured them.</p>\n"
        '<div class="charts">' + "\n".join(measured) + "</div>\n"
        if measured
        else ""
    )
    return (
        '<section id="trends">\n<h2>Trend</h2>\n'
        '<p class="muted">Pass rate per run, oldest left, this run last (the larger marker); '
        "the dashed line is the threshold, the dotted one the baseline.</p>\n"
        '<div class="charts">' + "\n".join(figures) + "</div>\n" + more + "</section>"
    )


MEASURE_LABELS = {
    "recall": "recall@k",
    "hit": "hit@k",
    "fact_recall": "fact recall",
    "latency_p95_s": "latency p95 (ms)",
}
RETRIEVAL_CHARTED = ("recall", "hit", "fact_recall")  # the first a category has is drawn


def _measure_charts(summary: RunSummary) -> list[str]:
    """A retrieval chart and a latency chart per category, each only with two runs or more
    that measured it (one point is no trend)."""
    figures = []
    for kind in summary.categories:
        picked = [m for m in RETRIEVAL_CHARTED if _measured(summary, kind, m) >= 2][:1]
        if _measured(summary, kind, "latency_p95_s") >= 2:
            picked.append("latency_p95_s")
        for measure in picked:
            series = [
                (run.measures.get(kind, {}).get(measure), _run_label(index, run))
                for index, run in enumerate(summary.history, start=1)
            ]
            figures.append(_measure_chart(kind, measure, series))
    return figures


def _measured(summary: RunSummary, kind: str, measure: str) -> int:
    return sum(measure in run.measures.get(kind, {}) for run in summary.history)


def _run_label(index: int, run: Any) -> str:
    where = " · ".join(part for part in (run.started_at, run.branch, run.run_id) if part)
    return f"run {index}: {where}" if where else f"run {index}"


def _measure_text(measure: str, value: float) -> str:
    return f"{value * 1000:.1f} ms" if measure.endswith("_s") else f"{value:.2f}"


def _tick_text(measure: str, value: float) -> str:
    """An axis label short enough for the left margin: latency in whole ms (the unit is in
    the caption), shares with two decimals."""
    return f"{value * 1000:.0f}" if measure.endswith("_s") else f"{value:.2f}"


def _measure_chart(kind: str, measure: str, series: list[tuple[float | None, str]]) -> str:
    """Inline SVG like the pass-rate charts: shares on 0 to 1, latency from 0 to its largest
    run, so the scale never starts mid-way and exaggerates a change."""
    values = [v for v, _ in series if v is not None]
    top = 1.0 if measure in RETRIEVAL_CHARTED else (max(values) * 1.1 or 1.0)
    count = len(series)
    stretch: list[str] = []
    lines: list[str] = []
    markers: list[str] = []
    for index, (value, label) in enumerate(series):
        if value is None:
            lines += [" ".join(stretch)] if stretch else []
            stretch = []
            continue
        x, y = _x_at(index, count), PAD_T + PLOT_H * (1 - min(1.0, max(0.0, value / top)))
        stretch.append(f"{x:.1f},{y:.1f}")
        current = " current" if index == count - 1 else ""
        markers.append(
            f'<circle class="point{current}" cx="{x:.1f}" cy="{y:.1f}" '
            f'r="{5 if current else 3.5}"><title>{_e(label)}: '
            f"{_measure_text(measure, value)}</title></circle>"
        )
    lines += [" ".join(stretch)] if stretch else []
    grid = []
    for tick in (0.0, 0.5, 1.0):
        y = PAD_T + PLOT_H * (1 - tick)
        grid.append(
            f'<line class="grid" x1="{PAD_L}" y1="{y:.1f}" x2="{CHART_W - PAD_R}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_e(_tick_text(measure, tick * top))}</text>"
        )
    polylines = [f'<polyline class="line" points="{points}"/>' for points in lines]
    name = MEASURE_LABELS.get(measure, measure)
    color = KIND_COLORS.get(kind, "#0f766e")
    return (
        f'<figure class="chart">\n<figcaption><strong>{_e(kind)}</strong> {_e(name)} '
        f'<span class="muted">{plural(len(markers), "run")}</span></figcaption>\n'
        f'<svg class="trend" data-category="{_e(kind)}" data-measure="{_e(measure)}" '
        f'data-points="{len(markers)}" viewBox="0 0 {CHART_W} {CHART_H}" role="img" '
        f'style="--series: {color}" aria-label="{_e(kind)} {_e(name)} over '
        f'{plural(len(markers), "run")}">'
        + "".join([*grid, *polylines, *markers, _x_labels(series)])
        + "</svg>\n</figure>"
    )


def _series(summary: RunSummary, kind: str, category: Category) -> list[tuple[float | None, str]]:
    """(rate, tooltip) per run: the history when it has this category, else the category's trend,
    else this run alone."""
    from_history = []
    for index, run in enumerate(summary.history, start=1):
        rate = fmt.number(run.rates.get(kind))
        where = " · ".join(part for part in (run.started_at, run.branch, run.run_id) if part)
        from_history.append((rate, f"run {index}: {where}" if where else f"run {index}"))
    if any(rate is not None for rate, _ in from_history):
        return from_history
    trend = category.trend
    if trend:
        return [
            (fmt.number(rate), f"run {i} of {len(trend)}") for i, rate in enumerate(trend, start=1)
        ]
    return [(fmt.number(category.rate), "this run")]


def _y_at(rate: float) -> float:
    return PAD_T + PLOT_H * (1 - min(1.0, max(0.0, rate)))


def _x_at(index: int, count: int) -> float:
    return PAD_L + (PLOT_W / 2 if count == 1 else PLOT_W * index / (count - 1))


def _grid() -> list[str]:
    parts = []
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = _y_at(tick)
        parts.append(
            f'<line class="grid" x1="{PAD_L}" y1="{y:.1f}" x2="{CHART_W - PAD_R}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{tick * 100:.0f}%</text>"
        )
    return parts


def _reference_lines(category: Category) -> list[str]:
    """The dotted baseline and the dashed threshold, each with its label."""
    parts = []
    baseline = fmt.number(category.baseline)
    if baseline is not None:
        y = _y_at(baseline)
        parts.append(
            f'<line class="baseline" x1="{PAD_L}" y1="{y:.1f}" x2="{CHART_W - PAD_R}" '
            f'y2="{y:.1f}"/><text class="ref" x="{PAD_L + 4}" y="{y - 4:.1f}">'
            f"baseline {fmt.pct(baseline)}</text>"
        )
    threshold = fmt.number(category.threshold)
    if threshold is not None:
        y = _y_at(threshold)
        parts.append(
            f'<line class="threshold" x1="{PAD_L}" y1="{y:.1f}" x2="{CHART_W - PAD_R}" '
            f'y2="{y:.1f}"/><text class="ref threshold-label" x="{CHART_W - PAD_R - 4}" '
            f'y="{y - 4:.1f}" text-anchor="end">threshold {fmt.threshold_pct(threshold)}</text>'
        )
    return parts


def _marks(series: list[tuple[float | None, str]]) -> tuple[list[str], list[str]]:
    """The polylines and the markers: one polyline per unbroken stretch of runs, so a run
    without this category leaves a gap; the current run's marker is the larger one."""
    count = len(series)
    stretch: list[str] = []
    lines: list[str] = []
    markers: list[str] = []
    for index, (rate, label) in enumerate(series):
        if rate is None:
            if stretch:
                lines.append(" ".join(stretch))
            stretch = []
            continue
        x, y = _x_at(index, count), _y_at(rate)
        stretch.append(f"{x:.1f},{y:.1f}")
        current = " current" if index == count - 1 else ""
        radius = 5 if current else 3.5
        markers.append(
            f'<circle class="point{current}" cx="{x:.1f}" cy="{y:.1f}" r="{radius}">'
            f"<title>{_e(label)}: {fmt.pct(rate)}</title></circle>"
        )
    if stretch:
        lines.append(" ".join(stretch))
    return [f'<polyline class="line" points="{points}"/>' for points in lines], markers


def _x_labels(series: list[tuple[float | None, str]]) -> str:
    if len(series) > 1:
        first, last = series[0][1], series[-1][1]
        return (
            f'<text class="axis" x="{PAD_L}" y="{CHART_H - 10}">'
            f"{_e(_short_label(first))}</text>"
            f'<text class="axis" x="{CHART_W - PAD_R}" y="{CHART_H - 10}" text-anchor="end">'
            f"{_e(_short_label(last))}</text>"
        )
    return (
        f'<text class="axis" x="{PAD_L + PLOT_W / 2:.1f}" y="{CHART_H - 10}" '
        'text-anchor="middle">this run only</text>'
    )


def _chart(kind: str, category: Category, series: list[tuple[float | None, str]]) -> str:
    """Hand-drawn inline SVG: a plotting library would be a heavy dependency for a polyline,
    a few circles and two reference lines, and could not promise a page that fetches nothing."""
    lines, markers = _marks(series)
    parts = [*_grid(), *_reference_lines(category), *lines, *markers, _x_labels(series)]
    color = KIND_COLORS.get(kind, "#0f766e")
    points = len(markers)
    return (
        f'<figure class="chart">\n<figcaption><strong>{_e(kind)}</strong> '
        f'<span class="muted">{plural(points, "run")}</span></figcaption>\n'
        f'<svg class="trend" data-category="{_e(kind)}" data-points="{points}" '
        f'viewBox="0 0 {CHART_W} {CHART_H}" role="img" style="--series: {color}" '
        f'aria-label="{_e(kind)} pass rate over {plural(points, "run")}">'
        + "".join(parts)
        + "</svg>\n</figure>"
    )


def _short_label(label: str) -> str:
    """The date part of a run tooltip, for the x axis."""
    head = label.split(": ", 1)[-1]
    return head[:10] if head[:4].isdigit() else label


def _diagnosis(summary: RunSummary) -> str:
    counts = summary.diagnosis
    chips = " ".join(
        f'<span class="chip diag-{name}"><strong>{_e(counts.get(name, 0))}</strong> {name}</span>'
        for name in fmt.DIAGNOSIS_ORDER
    )
    cf = summary.counterfactual
    lines = [
        f"Counterfactual re-runs with the gold passages: {_e(cf.run)}; "
        f"they confirmed {_e(plural(cf.confirmed, 'static diagnosis', 'static diagnoses'))} "
        f"and overturned {_e(cf.overturned)}."
    ]
    lines.extend(_e(text) for text in fmt.disagreement_texts(summary.disagreements))
    if summary.flaky:
        lines.append(
            "Flaky cases: "
            + ", ".join(f"<code>{_e(f.id)}</code> ({_e(f.detail)})" for f in summary.flaky)
        )
    notes = "".join(f"<li>{line}</li>" for line in lines)
    return (
        '<section id="diagnosis">\n<h2>Failures diagnosed</h2>\n'
        f'<p class="chips">{chips}</p>\n'
        + (f'<ul class="notes">{notes}</ul>' if notes else "")
        + "\n</section>"
    )


def _changes(summary: RunSummary) -> str:
    """Newly failing cases first (with their diagnosis), then newly passing, each bounded."""
    counts = fmt.changes_text(summary.changes)
    if counts is None:
        return ""
    changes = summary.changes
    by_id = {c.id: c for c in summary.cases}
    blocks = []
    for name, ids in (
        ("newly_failing", changes.newly_failing),
        ("newly_passing", changes.newly_passing),
    ):
        if not ids:
            continue
        items = []
        for case_id in ids[: fmt.MAX_CHANGED_IDS]:
            case = by_id.get(case_id)
            extra = (
                f" {_badge(case.diagnosis, 'diag-' + _token(case.diagnosis))}"
                if case and case.diagnosis
                else ""
            )
            items.append(f"<li><code>{_e(case_id)}</code>{extra}</li>")
        if len(ids) > fmt.MAX_CHANGED_IDS:
            items.append(
                f"<li>…and {len(ids) - fmt.MAX_CHANGED_IDS} more (see the JSON report)</li>"
            )
        label = fmt.CHANGE_LABELS[name].capitalize()
        blocks.append(
            f'<h3>{label} ({len(ids)})</h3>\n<ul class="changes {name}">{"".join(items)}</ul>'
        )
    return (
        '<section id="changes">\n<h2>Changes against the baseline</h2>\n'
        f'<p class="muted">Against run <code>{_e(fmt.short_run(changes.against or ""))}</code>: '
        f"{_e(counts)}</p>\n" + "\n".join(blocks) + "\n</section>"
    )


def _variants(summary: RunSummary) -> str:
    """Each variant's categories, then a cases x pipelines matrix that a CSS-only switch
    narrows to the cases where the pipelines differ."""
    comparison = summary.variants
    if comparison is None or not comparison.variants:
        return ""
    tables = []
    for variant in comparison.variants:
        rows = "".join(
            f'<tr><th scope="row">{_e(name)}</th>'
            f'<td class="num">{cat.main_passed}/{cat.shared}</td>'
            f'<td class="num">{cat.variant_passed}/{cat.shared}</td>'
            f'<td class="num">{_change(cat.difference)} {fmt.ci_text(cat.difference_ci)}</td>'
            f'<td class="num">{cat.p_adjusted:.4f}</td><td>{_e(cat.verdict)}</td></tr>'
            for name, cat in variant.categories.items()
        )
        tables.append(
            f"<h3>{_e(headline(variant))}</h3>\n<table><thead><tr><th>category</th><th>main</th>"
            "<th>variant</th><th>difference</th><th>p</th><th>verdict</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
        if spent := spending(variant):
            tables.append(f'<p class="muted spending">{_e(spent)}</p>')
    note = f'<p class="muted">{_e(comparison.note)}</p>\n' if comparison.note else ""
    return (
        '<section id="variants">\n<h2>Variants against the main pipeline</h2>\n'
        + note
        + "\n".join(tables)
        + _variant_matrix(comparison)
        + "\n</section>"
    )


def _variant_matrix(comparison: Comparison) -> str:
    names = ["main", *(v.name for v in comparison.variants)]
    head = "".join(f"<th>{_e(n)}</th>" for n in names)
    rows = "".join(
        f'<tr class="{"differs" if row.differs else "same"}" data-category="{_e(row.category)}">'
        f'<th scope="row"><code>{_e(row.id)}</code></th><td>{_e(row.category)}</td>'
        + "".join(f"<td>{_e(row.cells.get(n, '-'))}</td>" for n in names)
        + "</tr>"
        for row in comparison.rows
    )
    return (
        '\n<input type="checkbox" id="only-differs" class="toggle">'
        '<label for="only-differs" class="chip">only the cases where they differ</label>\n'
        + _matrix_categories(comparison)
        + f'<table class="variant-matrix"><thead><tr><th>case</th><th>category</th>{head}</tr>'
        f"</thead><tbody>{rows}</tbody></table>"
    )


def _matrix_categories(comparison: Comparison) -> str:
    """Radios that narrow the matrix to one category (CSS only, beside the differs switch);
    offered when the matrix has more than one."""
    present = {row.category for row in comparison.rows}
    if len(present) < 2:
        return ""
    shown = [c for c in MATRIX_CATEGORIES if c in present]
    radios = "".join(
        f'<input type="radio" class="vh" name="vm-cat" id="vm-cat-{value}"'
        + (" checked>" if value == "all" else ">")
        for value in ("all", *shown)
    )
    labels = "".join(f'<label for="vm-cat-{value}">{value}</label>' for value in ("all", *shown))
    return (
        f'{radios}<div class="filters vm-filters"><div role="group" aria-label="matrix by '
        f'category"><span class="flabel">category</span>{labels}</div></div>\n'
    )


def _matrix_css() -> str:
    """The matrix's category radios: each hides the other categories' rows, and marks its
    label as chosen."""
    hide = "".join(
        f'#vm-cat-{c}:checked ~ .variant-matrix tbody tr:not([data-category="{c}"]) '
        "{ display: none; }\n"
        for c in MATRIX_CATEGORIES
    )
    chosen = ",\n".join(
        f'#vm-cat-{c}:checked ~ .vm-filters label[for="vm-cat-{c}"]'
        for c in ("all", *MATRIX_CATEGORIES)
    )
    return hide + chosen + " { background: #1f2937; color: #fff; border-color: #1f2937; }\n"


def _checklist(summary: RunSummary) -> str:
    items = []
    for answer in summary.checklist:
        title = fmt.question_title(answer)
        word = answer.answer or "unknown"
        items.append(
            "<li>"
            f'<span class="qnum">{_e(answer.question)}</span>'
            f'<div><p class="question">{_e(title)} {_badge(word, "answer-" + _token(word))}</p>'
            f'<p class="evidence">{_e(answer.evidence)}</p></div></li>'
        )
    listing = (
        f'<ol class="checklist">{"".join(items)}</ol>'
        if items
        else '<p class="muted">No answers in this report.</p>'
    )
    return (
        '<section id="checklist">\n<h2>Fine-tuning readiness: the five questions</h2>\n'
        '<p class="muted">All five must be “yes” before fine-tuning.</p>\n'
        f"{listing}\n</section>"
    )


def _recommendation(summary: RunSummary) -> str:
    rec = summary.recommendation
    counts = rec.counts
    headline = _e(fmt.arrows(fmt.recommendation_text(rec)))
    advice_text = fmt.advice_text(rec)
    placed = fmt.placed_text(rec)
    if placed:
        advice_text = f"{advice_text or ''} The failures' {placed}.".strip()
    advice = f'<p class="advice">{_e(advice_text)}</p>' if advice_text else ""
    rows = []
    for row_label, cells in fmt.MATRIX:
        tds = "".join(
            f'<td class="{"chosen" if name == rec.cell else ""}">'
            f"{_e(fmt.arrows(fmt.cell_headline(name)))}<br>"
            f"<strong>{_e(counts.get(name, 0))}</strong> "
            f'<span class="muted small">{number_of(counts.get(name, 0), "failure")}</span></td>'
            for name in cells
        )
        rows.append(f'<tr><th scope="row">{row_label}</th>{tds}</tr>')
    matrix = (
        '<table class="matrix"><thead><tr><th></th><th scope="col">stable signal</th>'
        '<th scope="col">volatile signal</th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table>"
    )
    gains = "".join(
        f'<p class="gain"><strong>{name}:</strong> {_e(fmt.arrows(text))}</p>\n'
        for name, text in (
            ("Retrieval gain", fmt.retrieval_gain_text(summary.gains)),
            ("Fine-tune gain", fmt.finetune_gain_text(summary.gains)),
        )
        if text
    )
    return (
        '<section id="recommendation">\n<h2>Recommendation</h2>\n'
        f'<p class="headline">{headline}</p>\n{advice}\n{gains}{matrix}\n</section>'
    )


def _cases(summary: RunSummary) -> str:
    failed = summary.failed_cases
    if not failed:
        return (
            '<section id="cases">\n<h2>Failed cases</h2>\n'
            '<p class="empty">No failed or errored cases.</p>\n</section>'
        )
    radios = []
    labels: dict[str, list[str]] = {"kind": [], "diag": []}
    for group, _, values in FILTERS:
        for value in ("all", *values):
            ident = f"f-{group}-{value}"
            checked = " checked" if value == "all" else ""
            radios.append(f'<input type="radio" class="vh" name="f-{group}" id="{ident}"{checked}>')
            labels[group].append(f'<label for="{ident}">{value}</label>')
    filters = (
        '<div class="filters">'
        '<div role="group" aria-label="filter by category"><span class="flabel">category</span>'
        + "".join(labels["kind"])
        + '</div><div role="group" aria-label="filter by diagnosis">'
        '<span class="flabel">diagnosis</span>' + "".join(labels["diag"]) + "</div></div>"
    )
    articles = "\n".join(_case(case) for case in failed)
    return (
        '<section id="cases">\n<h2>Failed cases</h2>\n'
        + "".join(radios)
        + f'\n{filters}\n<div class="case-list">\n{articles}\n</div>\n</section>'
    )


def _case_head(case: CaseRecord, diagnosis: str) -> str:
    ratio = fmt.number(case.pass_ratio)
    return (
        f'<h3 class="case-id"><code>{_e(case.id)}</code></h3>'
        + _badge(f"{case.kind} case", "kind")
        + _badge(f"diagnosed {diagnosis}", f"diag-{_token(diagnosis)}")
        + _badge(case.outcome, f"outcome-{_token(case.outcome)}")
        + (
            f'<span class="muted small">passed {fmt.pct(ratio, 0)} of repeats</span>'
            if ratio is not None
            else ""
        )
    )


def _case_facts(case: CaseRecord) -> str:
    """Where the case lives, its tags, its signal and its facts, as a definition list."""
    where = case.nodeid or case.source
    details = []
    if where:
        details.append(f"<dt>where</dt><dd><code>{_e(where)}</code></dd>")
    if case.tags:
        details.append(f"<dt>tags</dt><dd>{_e(', '.join(case.tags))}</dd>")
    if case.volatile is not None:
        details.append(f"<dt>signal</dt><dd>{'volatile' if case.volatile else 'stable'}</dd>")
    if case.facts:
        details.append(
            "<dt>facts</dt><dd>" + " · ".join(f"<q>{_e(f)}</q>" for f in case.facts) + "</dd>"
        )
    return f'<dl class="case-meta">{"".join(details)}</dl>' if details else ""


def _case(case: CaseRecord) -> str:
    diagnosis = case.diagnosis or "none"
    blocks = [f'<header class="case-head">{_case_head(case, diagnosis)}</header>']
    static, counterfactual = case.static_diagnosis, case.counterfactual
    if counterfactual or (static and static != case.diagnosis):
        path = [f"static <strong>{_e(static or 'none')}</strong>"]
        if counterfactual:
            path.append(f"counterfactual with gold passages <strong>{_e(counterfactual)}</strong>")
        path.append(f"final <strong>{_e(diagnosis)}</strong>")
        blocks.append(f'<p class="path">{" → ".join(path)}</p>')
    facts = _case_facts(case)
    if facts:
        blocks.append(facts)
    if case.input:
        blocks.append(f'<p class="label">input</p><pre class="input">{_excerpt(case.input)}</pre>')
    if case.messages:
        blocks.append(
            '<p class="label">checks</p><ul class="messages">'
            + "".join(f"<li>{_e(m)}</li>" for m in case.messages)
            + "</ul>"
        )
    for repeat in case.repeats:
        blocks.append(_repeat(repeat, len(case.repeats)))
    if case.evidence is not None:
        blocks.append(_evidence(case.evidence))
    return (
        f'<article class="case" data-kind="{_e(case.kind)}" data-diagnosis="{_e(diagnosis)}" '
        f'data-outcome="{_e(case.outcome)}">\n' + "\n".join(blocks) + "\n</article>"
    )


def _repeat(repeat: RepeatRecord, count: int) -> str:
    latency = fmt.number(repeat.latency_s)
    title = f"answer, repeat {_e(repeat.repeat)} of {count}" if count > 1 else "answer"
    title += f" · {_e(repeat.outcome)}"
    if latency is not None:
        title += f" · {latency:.2f} s"
    parts = [f'<p class="label">{title}</p>']
    if count > 1 and repeat.messages:
        parts.append(
            '<ul class="messages">'
            + "".join(f"<li>{_e(m)}</li>" for m in repeat.messages)
            + "</ul>"
        )
    if repeat.error:
        parts.append(f'<pre class="error">{_excerpt(repeat.error)}</pre>')
    if repeat.answer is not None:
        parts.append(f'<pre class="answer">{_excerpt(repeat.answer)}</pre>')
    elif not repeat.error:
        parts.append('<p class="muted small">no answer recorded</p>')
    return '<div class="repeat">' + "".join(parts) + "</div>"


def _fact_marks(facts: list[str], found: list[bool]) -> str:
    return " ".join(
        f'<span class="fact {"found" if hit else "missing"}">'
        f"{'✓' if hit else '✗'} {_e(fact)}</span>"
        for fact, hit in zip(facts, found, strict=False)
    )


def _context_excerpt(context: ContextEvidence) -> str:
    part = fmt.excerpt(context)
    text = _e(part.before) + (f"<mark>{_e(part.hit)}</mark>" if part.hit else "") + _e(part.after)
    return ("…" if part.cut_before else "") + text + ("…" if part.cut_after else "")


def _evidence(evidence: Evidence) -> str:
    """The card's evidence section: the facts in the answer, each context kept with its rank,
    source, facts and window, and the gold-passage outcome."""
    count = plural(evidence.contexts_total, "context")
    parts = [f'<p class="label">evidence · {_e(count)} retrieved</p>']
    if evidence.facts:
        marks = _fact_marks(evidence.facts, evidence.answer)
        parts.append(f'<p class="facts">in the answer: {marks}</p>')
    rows = [
        "<tr>"
        f'<td class="num">{_e(c.rank)}</td>'
        f"<td>{'' if c.source is None else f'<code>{_e(c.source)}</code>'}</td>"
        f"<td>{_fact_marks(evidence.facts, c.facts)}</td>"
        f'<td class="excerpt">{_context_excerpt(c)}</td>'
        "</tr>"
        for c in evidence.contexts
    ]
    if rows:
        parts.append(
            '<table class="evidence"><thead><tr><th scope="col">rank</th>'
            '<th scope="col">source</th><th scope="col">facts</th><th scope="col">excerpt</th>'
            "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
        )
    more = fmt.more_contexts(len(evidence.contexts), evidence.contexts_total)
    if more:
        parts.append(f'<p class="muted small">{_e(more)}</p>')
    gold = fmt.gold_text(evidence.gold)
    if gold:
        parts.append(f'<p class="gold">gold passages: {_e(gold)}</p>')
    return '<div class="evidence">' + "".join(parts) + "</div>"


def _footer(summary: RunSummary) -> str:
    version = summary.plugin_version
    made = f"pytest-ragft {_e(version)}" if version else "pytest-ragft"
    return (
        f'<footer class="foot">Generated by {made}'
        f" · report schema {_e(SCHEMA_VERSION)}"
        " · self-contained: this page loads nothing from the network.</footer>"
    )


# -- style --------------------------------------------------------------------------------------


def _css() -> str:
    """The stylesheet, with the filter rules generated for each category and diagnosis."""
    hide = []
    chosen = []
    for group, attribute, values in FILTERS:
        for value in values:
            hide.append(
                f'#f-{group}-{value}:checked ~ .case-list .case:not([data-{attribute}="{value}"])'
            )
        for value in ("all", *values):
            chosen.append(f'#f-{group}-{value}:checked ~ .filters label[for="f-{group}-{value}"]')
    focus = [selector.replace(":checked", ":focus-visible") for selector in chosen]
    return (
        _BASE_CSS
        + "#only-differs:checked ~ .variant-matrix tr.same { display: none; }\n"
        + "#only-differs:checked + label { background: #1f2937; color: #fff; }\n"
        + _matrix_css()
        + ",\n".join(hide)
        + " { display: none; }\n"
        + ",\n".join(chosen)
        + " { background: #1f2937; color: #fff; border-color: #1f2937; }\n"
        + ",\n".join(focus)
        + " { outline: 2px solid #2563eb; outline-offset: 2px; }\n"
    )


_BASE_CSS = """\
:root { color-scheme: light; --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb;
  --bg-soft: #f9fafb; --pass: #15803d; --fail: #b91c1c; --warn: #b45309; --comment: #1d4ed8; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 1.7rem; margin: 0 0 8px; overflow-wrap: anywhere; }
h2 { font-size: 1.2rem; margin: 32px 0 10px; padding-bottom: 4px;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 1rem; margin: 18px 0 8px; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 0.88em; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: var(--bg-soft);
  border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; margin: 4px 0 10px;
  max-height: 18em; overflow: auto; }
pre.error { border-color: #fecaca; background: #fef2f2; }
a { color: #1d4ed8; }
.muted { color: var(--muted); }
.small { font-size: 0.85em; }
.eyebrow { margin: 0; color: var(--muted); text-transform: uppercase; letter-spacing: .06em;
  font-size: .75rem; }
.meta { display: flex; flex-wrap: wrap; gap: 4px 22px; margin: 0; }
.meta div { display: flex; gap: 6px; }
.meta dt { color: var(--muted); }
.meta dd { margin: 0; overflow-wrap: anywhere; }
.verdict { margin-top: 20px; padding: 14px 18px; border-radius: 8px; border: 1px solid var(--line);
  border-left-width: 6px; }
.verdict-pass { border-left-color: var(--pass); background: #f0fdf4; }
.verdict-fail { border-left-color: var(--fail); background: #fef2f2; }
.verdict-unknown { border-left-color: var(--muted); }
.verdict-word { font-size: 1.35rem; font-weight: 700; margin: 0; }
.verdict-pass .verdict-word { color: var(--pass); }
.verdict-fail .verdict-word { color: var(--fail); }
.reason { margin: 4px 0 0; }
.events { margin: 8px 0 0; padding-left: 0; list-style: none; }
.events li { margin: 4px 0; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 0 7px; border-radius: 999px; font-size: .78rem;
  font-weight: 600; border: 1px solid currentColor; margin-right: 4px; white-space: nowrap;
  line-height: 1.6; vertical-align: baseline; print-color-adjust: exact;
  -webkit-print-color-adjust: exact; }
.action-fail, .answer-no, .outcome-failed, .outcome-error { color: var(--fail); }
.action-comment { color: var(--comment); }
.action-warn, .answer-unknown { color: var(--warn); }
.answer-yes { color: var(--pass); }
.kind { color: #4b5563; }
.diag-knowledge { color: #1d4ed8; }
.diag-behavior { color: #7e22ce; }
.diag-hybrid { color: #0f766e; }
.diag-error { color: #b45309; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; }
/* On a phone a wide table scrolls in its own box, never the page; long ids wrap. */
@media (max-width: 700px) { table { display: block; overflow-x: auto; } }
h3, code, .case-id, li { overflow-wrap: anywhere; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
thead th { font-size: .8rem; color: var(--muted); font-weight: 600; border-bottom-width: 2px; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
td.rate { font-weight: 700; }
td.notes { font-size: .88em; overflow-wrap: anywhere; }
.charts { display: grid; gap: 16px;
  grid-template-columns: repeat(auto-fit, minmax(min(420px, 100%), 1fr)); }
figure.chart { margin: 0; padding: 10px 12px; border: 1px solid var(--line); border-radius: 8px;
  break-inside: avoid; }
figcaption { margin-bottom: 4px; }
svg.trend { display: block; width: 100%; height: auto; }
svg.trend .grid { stroke: #e5e7eb; stroke-width: 1; }
svg.trend .axis { fill: #6b7280; font-size: 13px; }
svg.trend .ref { fill: #6b7280; font-size: 13px; }
svg.trend .threshold { stroke: var(--fail); stroke-width: 1.5; stroke-dasharray: 6 4; }
svg.trend .threshold-label { fill: var(--fail); }
svg.trend .baseline { stroke: #6b7280; stroke-width: 1.2; stroke-dasharray: 2 3; }
svg.trend .line { fill: none; stroke: var(--series); stroke-width: 2; stroke-linejoin: round; }
svg.trend .point { fill: #fff; stroke: var(--series); stroke-width: 2; }
svg.trend .point.current { fill: var(--series); }
.chips { display: flex; flex-wrap: wrap; gap: 8px; }
.chip { border: 1px solid currentColor; border-radius: 8px; padding: 4px 12px; }
.chip strong { font-size: 1.1rem; margin-right: 2px; }
.notes { padding-left: 20px; }
.checklist { list-style: none; padding: 0; margin: 0; }
.checklist li { display: flex; gap: 12px; padding: 8px 0; border-bottom: 1px solid var(--line); }
.qnum { flex: none; width: 28px; height: 28px; border-radius: 50%; background: var(--bg-soft);
  border: 1px solid var(--line); text-align: center; line-height: 26px; font-weight: 700; }
.question { margin: 0; font-weight: 600; }
.evidence { margin: 2px 0 0; color: #374151; overflow-wrap: anywhere; }
.headline { font-size: 1.1rem; font-weight: 700; }
.matrix { max-width: 640px; }
.matrix td.chosen { background: #eff6ff; outline: 2px solid #1d4ed8; outline-offset: -2px;
  print-color-adjust: exact; -webkit-print-color-adjust: exact; }
.vh { position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
.filters { display: flex; flex-wrap: wrap; gap: 8px 24px; margin: 6px 0 14px; }
.filters > div { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
.flabel { color: var(--muted); font-size: .85rem; margin-right: 2px; }
.filters label { cursor: pointer; border: 1px solid #d1d5db; border-radius: 999px;
  padding: 2px 12px; font-size: .85rem; user-select: none; }
.filters label:hover { border-color: #1f2937; }
.case { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; margin: 10px 0;
  break-inside: avoid; }
.case-head { display: flex; flex-wrap: wrap; gap: 6px; align-items: baseline; }
.case-id { margin: 0 8px 0 0; font-size: 1rem; overflow-wrap: anywhere; }
.path { margin: 6px 0; font-size: .9em; }
.case-meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 6px 0;
  font-size: .9em; }
.case-meta dt { color: var(--muted); }
.case-meta dd { margin: 0; overflow-wrap: anywhere; }
.label { margin: 8px 0 0; font-size: .8rem; color: var(--muted); text-transform: uppercase;
  letter-spacing: .04em; }
.messages { margin: 4px 0 8px; padding-left: 20px; overflow-wrap: anywhere; }
.cut { color: var(--muted); font-style: italic; }
.fact { display: inline-block; margin-right: 6px; white-space: nowrap; font-size: .88em; }
.fact.found { color: var(--pass); }
.fact.missing { color: var(--fail); }
.facts, .gold { margin: 4px 0; font-size: .9em; }
table.evidence { font-size: .88em; }
table.evidence th { white-space: nowrap; }
table.evidence td.excerpt { overflow-wrap: anywhere; }
table.evidence mark { background: #fef3c7; padding: 0 1px; }
.empty { color: var(--pass); font-weight: 600; }
.foot { margin-top: 40px; padding-top: 10px; border-top: 1px solid var(--line); color: var(--muted);
  font-size: .8rem; }
@media print {
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  .filters { display: none; }
  pre { max-height: none; overflow: visible; }
  a { color: inherit; }
  h2 { break-after: avoid; }
  .charts { grid-template-columns: 1fr 1fr; }
}
"""
