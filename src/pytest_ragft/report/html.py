"""The HTML report: one self-contained page a reviewer opens from a CI artifact, offline.

Everything is inline (CSS, SVG; no script is needed: the case filters are CSS radio buttons) and a
Content-Security-Policy forbids every fetch, so the page loads nothing and a hostile model answer,
escaped like all report text, can neither add markup nor make the page call out.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_ragft.model import KINDS
from pytest_ragft.report import fmt
from pytest_ragft.report.escape import strip_control

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

KIND_COLORS = {"knowledge": "#1d4ed8", "behavior": "#7e22ce"}

# Chart geometry, in SVG user units.
CHART_W, CHART_H = 520, 210
PAD_L, PAD_R, PAD_T, PAD_B = 46, 14, 16, 32


def render_html(report: Mapping[str, Any]) -> str:
    """One self-contained HTML page for a run summary (the dict the report schema validates)."""
    suite = _text(report.get("suite")) or "ragft"
    gate = _mapping(report.get("gate"))
    verdict = _text(gate.get("verdict")) or "unknown"
    body = [
        _header(report, suite),
        _verdict(gate),
        _categories(report),
        _trends(report),
        _diagnosis(report),
        _checklist(report),
        _recommendation(report),
        _cases(report),
        _footer(report),
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


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> Sequence[Any]:
    return value if isinstance(value, list | tuple) else ()


def _change(value: object) -> str:
    """``fmt.points`` with its unit, and a real minus sign."""
    if fmt.number(value) is None:
        return "-"
    return f"{fmt.points(value)} pts".replace("-", "−")


def _excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    text = strip_control(_text(value))
    if len(text) <= limit:
        return _e(text)
    return f'{_e(text[:limit])}<span class="cut">… ({len(text) - limit} more characters)</span>'


def _badge(label: object, cls: str) -> str:
    return f'<span class="badge {cls}">{_e(label)}</span>'


def _token(value: object) -> str:
    """A class-name-safe form of an enum value (unknown values collapse to 'other')."""
    text = _text(value)
    return text if text.replace("-", "").replace("_", "").isalnum() else "other"


# -- sections -----------------------------------------------------------------------------------


def _header(report: Mapping[str, Any], suite: str) -> str:
    git = _mapping(report.get("git"))
    ci = _mapping(report.get("ci"))
    facts: list[tuple[str, str]] = []
    if report.get("run_id"):
        facts.append(("run", f"<code>{_e(report['run_id'])}</code>"))
    if report.get("started_at"):
        facts.append(("started", _e(report["started_at"])))
    duration = fmt.number(report.get("duration_s"))
    if duration is not None:
        facts.append(("duration", f"{duration:.1f} s"))
    if git.get("branch"):
        base = f" → {_e(git['base_branch'])}" if git.get("base_branch") else ""
        facts.append(("branch", f"<code>{_e(git['branch'])}</code>{base}"))
    if git.get("sha"):
        facts.append(("commit", f"<code>{_e(_text(git['sha'])[:12])}</code>"))
    if git.get("pr") is not None:
        facts.append(("pull request", f"#{_e(git['pr'])}"))
    if report.get("pipeline"):
        facts.append(("pipeline", f"<code>{_e(report['pipeline'])}</code>"))
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


def _verdict(gate: Mapping[str, Any]) -> str:
    verdict = _text(gate.get("verdict")) or "unknown"
    cls = {"pass": "pass", "fail": "fail"}.get(verdict, "unknown")
    reason = f'<p class="reason">{_e(gate["reason"])}</p>' if gate.get("reason") else ""
    events = [_mapping(event) for event in _list(gate.get("events"))]
    if events:
        rows = "".join(
            "<li>"
            + _badge(event.get("action"), f"action-{_token(event.get('action'))}")
            + f" <strong>{_e(event.get('event'))}</strong>"
            + (
                f' <span class="muted">({_e(event["category"])})</span>'
                if event.get("category")
                else ""
            )
            + f" {_e(event.get('detail'))}</li>"
            for event in events
        )
        listing = f'<ul class="events">{rows}</ul>'
    else:
        listing = '<p class="muted">No gate events.</p>'
    return (
        f'<section class="verdict verdict-{cls}" id="verdict">\n'
        f'<p class="verdict-word">Gate: {_e(verdict.upper())}</p>\n{reason}\n{listing}\n</section>'
    )


def _categories(report: Mapping[str, Any]) -> str:
    categories = _mapping(report.get("categories"))
    table = _category_table(categories, "category")
    if not table:
        table = '<p class="muted">No eval cases ran.</p>'
    tags = _mapping(report.get("tags"))
    tag_table = ""
    if tags:
        tag_table = f"<h3>By tag</h3>\n{_category_table(tags, 'tag')}"
    return f'<section id="categories">\n<h2>Pass rates</h2>\n{table}\n{tag_table}\n</section>'


def _category_table(groups: Mapping[str, Any], label: str) -> str:
    rows = []
    for name, value in groups.items():
        group = _mapping(value)
        threshold = fmt.threshold_pct(group.get("threshold"))
        if group.get("below_threshold"):
            threshold += " " + _badge("below", "action-fail")
        counts = [
            f"{_e(group.get(key))} {key}"
            for key in ("failed", "error", "skipped")
            if fmt.number(group.get(key))
        ]
        notes = []
        regression = group.get("regression")
        if isinstance(regression, Mapping) and regression.get("detail"):
            fires = bool(regression.get("fires", True))
            badge = _badge("regression", "action-fail") + " " if fires else ""
            notes.append(badge + _e(regression["detail"]))
        elif regression:
            notes.append(_badge("regression", "action-fail"))
        if group.get("power_note"):
            notes.append(_e(group["power_note"]))
        rows.append(
            "<tr>"
            f'<th scope="row">{_e(name)}</th>'
            f'<td class="num">{_e(group.get("passed"))}/{_e(group.get("total"))}'
            + (f'<br><span class="muted small">{" · ".join(counts)}</span>' if counts else "")
            + "</td>"
            f'<td class="num rate">{fmt.pct(group.get("rate"))}</td>'
            f'<td class="num">{fmt.ci_text(group.get("ci"))}</td>'
            f'<td class="num">{threshold}</td>'
            f'<td class="num">{fmt.pct(group.get("baseline"))}</td>'
            f'<td class="num">{_change(group.get("change"))}</td>'
            f'<td class="notes">{"<br>".join(notes)}</td>'
            "</tr>"
        )
    if not rows:
        return ""
    return (
        '<table class="rates">\n<thead><tr>'
        f'<th scope="col">{label}</th><th scope="col">pass</th><th scope="col">rate</th>'
        '<th scope="col">95% CI</th><th scope="col">threshold</th><th scope="col">baseline</th>'
        '<th scope="col">change</th><th scope="col">notes</th>'
        "</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
    )


def _trends(report: Mapping[str, Any]) -> str:
    categories = _mapping(report.get("categories"))
    figures = [
        _chart(str(kind), _mapping(value), _series(report, str(kind), _mapping(value)))
        for kind, value in categories.items()
    ]
    if not figures:
        return ""
    return (
        '<section id="trends">\n<h2>Trend</h2>\n'
        '<p class="muted">Pass rate per run, oldest left, this run last (the larger marker); '
        "the dashed line is the threshold, the dotted one the baseline.</p>\n"
        '<div class="charts">' + "\n".join(figures) + "</div>\n</section>"
    )


def _series(
    report: Mapping[str, Any], kind: str, category: Mapping[str, Any]
) -> list[tuple[float | None, str]]:
    """(rate, tooltip) per run: the history when it has this category, else the category's trend,
    else this run alone."""
    history = [_mapping(run) for run in _list(report.get("history"))]
    from_history = []
    for index, run in enumerate(history, start=1):
        rate = fmt.number(_mapping(run.get("rates")).get(kind))
        where = " · ".join(
            _text(part)
            for part in (run.get("started_at"), run.get("branch"), run.get("run_id"))
            if part
        )
        from_history.append((rate, f"run {index}: {where}" if where else f"run {index}"))
    if any(rate is not None for rate, _ in from_history):
        return from_history
    trend = _list(category.get("trend"))
    if trend:
        return [
            (fmt.number(rate), f"run {i} of {len(trend)}") for i, rate in enumerate(trend, start=1)
        ]
    return [(fmt.number(category.get("rate")), "this run")]


def _chart(kind: str, category: Mapping[str, Any], series: list[tuple[float | None, str]]) -> str:
    """Hand-drawn inline SVG: a plotting library would be a heavy dependency for a polyline,
    a few circles and two reference lines, and could not promise a page that fetches nothing."""
    plot_w = CHART_W - PAD_L - PAD_R
    plot_h = CHART_H - PAD_T - PAD_B
    count = len(series)

    def x_at(index: int) -> float:
        return PAD_L + (plot_w / 2 if count == 1 else plot_w * index / (count - 1))

    def y_at(rate: float) -> float:
        return PAD_T + plot_h * (1 - min(1.0, max(0.0, rate)))

    parts: list[str] = []
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = y_at(tick)
        parts.append(
            f'<line class="grid" x1="{PAD_L}" y1="{y:.1f}" x2="{CHART_W - PAD_R}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{tick * 100:.0f}%</text>"
        )
    baseline = fmt.number(category.get("baseline"))
    if baseline is not None:
        y = y_at(baseline)
        parts.append(
            f'<line class="baseline" x1="{PAD_L}" y1="{y:.1f}" x2="{CHART_W - PAD_R}" '
            f'y2="{y:.1f}"/><text class="ref" x="{PAD_L + 4}" y="{y - 4:.1f}">'
            f"baseline {fmt.pct(baseline)}</text>"
        )
    threshold = fmt.number(category.get("threshold"))
    if threshold is not None:
        y = y_at(threshold)
        parts.append(
            f'<line class="threshold" x1="{PAD_L}" y1="{y:.1f}" x2="{CHART_W - PAD_R}" '
            f'y2="{y:.1f}"/><text class="ref threshold-label" x="{CHART_W - PAD_R - 4}" '
            f'y="{y - 4:.1f}" text-anchor="end">threshold {fmt.threshold_pct(threshold)}</text>'
        )
    # One polyline per unbroken stretch of runs: a run without this category leaves a gap.
    stretch: list[str] = []
    lines: list[str] = []
    markers: list[str] = []
    for index, (rate, label) in enumerate(series):
        if rate is None:
            if stretch:
                lines.append(" ".join(stretch))
            stretch = []
            continue
        x, y = x_at(index), y_at(rate)
        stretch.append(f"{x:.1f},{y:.1f}")
        current = " current" if index == count - 1 else ""
        radius = 5 if current else 3.5
        markers.append(
            f'<circle class="point{current}" cx="{x:.1f}" cy="{y:.1f}" r="{radius}">'
            f"<title>{_e(label)}: {fmt.pct(rate)}</title></circle>"
        )
    if stretch:
        lines.append(" ".join(stretch))
    parts.extend(f'<polyline class="line" points="{points}"/>' for points in lines)
    parts.extend(markers)
    if count > 1:
        first, last = series[0][1], series[-1][1]
        parts.append(
            f'<text class="axis" x="{PAD_L}" y="{CHART_H - 10}">'
            f"{_e(_short_label(first))}</text>"
            f'<text class="axis" x="{CHART_W - PAD_R}" y="{CHART_H - 10}" text-anchor="end">'
            f"{_e(_short_label(last))}</text>"
        )
    else:
        parts.append(
            f'<text class="axis" x="{PAD_L + plot_w / 2:.1f}" y="{CHART_H - 10}" '
            'text-anchor="middle">this run only</text>'
        )
    color = KIND_COLORS.get(kind, "#0f766e")
    points = len(markers)
    return (
        f'<figure class="chart">\n<figcaption><strong>{_e(kind)}</strong> '
        f'<span class="muted">{points} run{"" if points == 1 else "s"}</span></figcaption>\n'
        f'<svg class="trend" data-category="{_e(kind)}" data-points="{points}" '
        f'viewBox="0 0 {CHART_W} {CHART_H}" role="img" style="--series: {color}" '
        f'aria-label="{_e(kind)} pass rate over {points} runs">'
        + "".join(parts)
        + "</svg>\n</figure>"
    )


def _short_label(label: str) -> str:
    """The date part of a run tooltip, for the x axis."""
    head = label.split(": ", 1)[-1]
    return head[:10] if head[:4].isdigit() else label


def _diagnosis(report: Mapping[str, Any]) -> str:
    counts = _mapping(report.get("diagnosis"))
    chips = " ".join(
        f'<span class="chip diag-{name}"><strong>{_e(counts.get(name, 0))}</strong> {name}</span>'
        for name in fmt.DIAGNOSIS_ORDER
    )
    lines = []
    counterfactual = _mapping(report.get("counterfactual"))
    if counterfactual:
        lines.append(
            f"Counterfactual re-runs with the gold passages: {_e(counterfactual.get('run', 0))}; "
            f"they confirmed {_e(counterfactual.get('confirmed', 0))} static diagnoses and "
            f"overturned {_e(counterfactual.get('overturned', 0))}."
        )
    lines.extend(_e(text) for text in fmt.disagreement_texts(report.get("disagreements")))
    flaky = [_text(case_id) for case_id in _list(report.get("flaky"))]
    if flaky:
        lines.append("Flaky cases: " + ", ".join(f"<code>{_e(c)}</code>" for c in flaky))
    notes = "".join(f"<li>{line}</li>" for line in lines)
    return (
        '<section id="diagnosis">\n<h2>Failures diagnosed</h2>\n'
        f'<p class="chips">{chips}</p>\n'
        + (f'<ul class="notes">{notes}</ul>' if notes else "")
        + "\n</section>"
    )


def _checklist(report: Mapping[str, Any]) -> str:
    items = []
    for value in _list(report.get("checklist")):
        answer = _mapping(value)
        title = fmt.question_title(answer)
        word = _text(answer.get("answer")) or "unknown"
        items.append(
            "<li>"
            f'<span class="qnum">{_e(answer.get("question"))}</span>'
            f'<div><p class="question">{_e(title)} {_badge(word, "answer-" + _token(word))}</p>'
            f'<p class="evidence">{_e(answer.get("evidence"))}</p></div></li>'
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


def _recommendation(report: Mapping[str, Any]) -> str:
    rec = _mapping(report.get("recommendation"))
    cell = rec.get("cell")
    counts = _mapping(rec.get("counts"))
    headline = _e(fmt.arrows(fmt.recommendation_text(rec)))
    advice_text = fmt.advice_text(rec)
    advice = f'<p class="advice">{_e(advice_text)}</p>' if advice_text else ""
    rows = []
    for row_label, cells in fmt.MATRIX:
        tds = "".join(
            f'<td class="{"chosen" if name == cell else ""}">'
            f"{_e(fmt.arrows(fmt.cell_headline(name)))}<br>"
            f"<strong>{_e(counts.get(name, 0))}</strong> "
            f'<span class="muted small">failure{"" if counts.get(name) == 1 else "s"}</span></td>'
            for name in cells
        )
        rows.append(f'<tr><th scope="row">{row_label}</th>{tds}</tr>')
    matrix = (
        '<table class="matrix"><thead><tr><th></th><th scope="col">stable signal</th>'
        '<th scope="col">volatile signal</th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table>"
    )
    return (
        '<section id="recommendation">\n<h2>Recommendation</h2>\n'
        f'<p class="headline">{headline}</p>\n{advice}\n{matrix}\n</section>'
    )


def _cases(report: Mapping[str, Any]) -> str:
    failed = [
        _mapping(case)
        for case in _list(report.get("cases"))
        if _mapping(case).get("outcome") in ("failed", "error")
    ]
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


def _case(case: Mapping[str, Any]) -> str:
    kind = _text(case.get("kind"))
    diagnosis = _text(case.get("diagnosis")) or "none"
    outcome = _text(case.get("outcome"))
    ratio = fmt.number(case.get("pass_ratio"))
    head = (
        f'<h3 class="case-id"><code>{_e(case.get("id"))}</code></h3>'
        + _badge(f"{kind} case", "kind")
        + _badge(f"diagnosed {diagnosis}", f"diag-{_token(diagnosis)}")
        + _badge(outcome, f"outcome-{_token(outcome)}")
        + (
            f'<span class="muted small">passed {fmt.pct(ratio, 0)} of repeats</span>'
            if ratio is not None
            else ""
        )
    )
    blocks = [f'<header class="case-head">{head}</header>']
    static = case.get("static_diagnosis")
    counterfactual = case.get("counterfactual")
    if counterfactual or (static and static != case.get("diagnosis")):
        path = [f"static <strong>{_e(static or 'none')}</strong>"]
        if counterfactual:
            path.append(f"counterfactual with gold passages <strong>{_e(counterfactual)}</strong>")
        path.append(f"final <strong>{_e(diagnosis)}</strong>")
        blocks.append(f'<p class="path">{" → ".join(path)}</p>')
    where = case.get("nodeid") or case.get("source")
    details = []
    if where:
        details.append(f"<dt>where</dt><dd><code>{_e(where)}</code></dd>")
    tags = [_text(t) for t in _list(case.get("tags"))]
    if tags:
        details.append(f"<dt>tags</dt><dd>{_e(', '.join(tags))}</dd>")
    if case.get("volatile"):
        details.append("<dt>signal</dt><dd>volatile</dd>")
    facts = [_text(f) for f in _list(case.get("facts"))]
    if facts:
        details.append(
            "<dt>facts</dt><dd>" + " · ".join(f"<q>{_e(f)}</q>" for f in facts) + "</dd>"
        )
    if details:
        blocks.append(f'<dl class="case-meta">{"".join(details)}</dl>')
    if case.get("input"):
        blocks.append(
            f'<p class="label">input</p><pre class="input">{_excerpt(case["input"])}</pre>'
        )
    messages = [_text(m) for m in _list(case.get("messages"))]
    if messages:
        blocks.append(
            '<p class="label">checks</p><ul class="messages">'
            + "".join(f"<li>{_e(m)}</li>" for m in messages)
            + "</ul>"
        )
    repeats = [_mapping(r) for r in _list(case.get("repeats"))]
    for repeat in repeats:
        blocks.append(_repeat(repeat, len(repeats)))
    return (
        f'<article class="case" data-kind="{_e(kind)}" data-diagnosis="{_e(diagnosis)}" '
        f'data-outcome="{_e(outcome)}">\n' + "\n".join(blocks) + "\n</article>"
    )


def _repeat(repeat: Mapping[str, Any], count: int) -> str:
    outcome = _text(repeat.get("outcome"))
    latency = fmt.number(repeat.get("latency_s"))
    title = f"answer, repeat {_e(repeat.get('repeat'))} of {count}" if count > 1 else "answer"
    title += f" · {_e(outcome)}"
    if latency is not None:
        title += f" · {latency:.2f} s"
    parts = [f'<p class="label">{title}</p>']
    if count > 1:
        messages = [_text(m) for m in _list(repeat.get("messages"))]
        if messages:
            parts.append(
                '<ul class="messages">' + "".join(f"<li>{_e(m)}</li>" for m in messages) + "</ul>"
            )
    if repeat.get("error"):
        parts.append(f'<pre class="error">{_excerpt(repeat["error"])}</pre>')
    answer = repeat.get("answer")
    if answer is not None:
        parts.append(f'<pre class="answer">{_excerpt(answer)}</pre>')
    elif not repeat.get("error"):
        parts.append('<p class="muted small">no answer recorded</p>')
    return '<div class="repeat">' + "".join(parts) + "</div>"


def _footer(report: Mapping[str, Any]) -> str:
    version = report.get("plugin_version")
    made = f"pytest-ragft {_e(version)}" if version else "pytest-ragft"
    schema = report.get("schema_version")
    return (
        f'<footer class="foot">Generated by {made}'
        + (f" · report schema {_e(schema)}" if schema is not None else "")
        + " · self-contained: this page loads nothing from the network.</footer>"
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
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
thead th { font-size: .8rem; color: var(--muted); font-weight: 600; border-bottom-width: 2px; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
td.rate { font-weight: 700; }
td.notes { font-size: .88em; overflow-wrap: anywhere; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; }
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
