"""The HTML report: self-contained, escaped, charts that show every run, filters that filter.

The pure tests parse the output; the ``chromium`` ones load it in a real headless browser, which
is the only way to know the page fetches nothing and the CSS-only filters really hide cases.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from chromium import Browser, find_chromium, ink_share

from pytest_ragft.checklist import TITLES
from pytest_ragft.report.html import CSP, render_html
from pytest_ragft.runsummary import RunSummary

SCHEMA = Path(__file__).parents[1] / "src" / "pytest_ragft" / "schemas" / "report.schema.json"

HOSTILE = (
    "<script>window.__pwned = 1</script>",
    '</svg></title><script>window.__pwned = 2</script><svg onload="window.__pwned = 3">',
    '"><img src=x onerror="window.__pwned = 4">',
    "' onmouseover='window.__pwned = 5' x='",
    "</style><style>body { display: none }</style>",
    '</pre></article><!-- <a href="https://evil.example/x.png">',
    "<link rel=stylesheet href=//evil.example/x.css>",
)


# -- report builder -------------------------------------------------------------------------------


def _case(
    case_id: str,
    kind: str,
    outcome: str,
    diagnosis: str | None = None,
    *,
    answer: str = "The refund window is 14 days.",
    messages: tuple[str, ...] = (),
    static: str | None = None,
    counterfactual: str | None = None,
) -> dict[str, Any]:
    failed = outcome in ("failed", "error")
    return {
        "id": case_id,
        "nodeid": f"evals/support.yaml::{case_id}",
        "kind": kind,
        "outcome": outcome,
        "diagnosis": diagnosis,
        "static_diagnosis": static or diagnosis,
        "counterfactual": counterfactual,
        "pass_ratio": 0.0 if failed else 1.0,
        "messages": list(messages)
        or (["contains: expected '30 days', got none"] if failed else []),
        "tags": ["refunds"],
        "volatile": kind == "knowledge",
        "source": "evals/support.yaml",
        "input": f"Question for {case_id}?",
        "facts": ["30 days"],
        "repeats": [
            {
                "repeat": 1,
                "outcome": outcome,
                "messages": [],
                "answer": None if outcome == "error" else answer,
                "contexts": ["Refunds are accepted within 30 days."],
                "latency_s": 0.42,
                "error": "TimeoutError: pipeline call took over 60 s"
                if outcome == "error"
                else None,
            }
        ],
    }


def _category(
    passed: int, failed: int, error: int, rate: float, threshold: float
) -> dict[str, Any]:
    return {
        "passed": passed,
        "failed": failed,
        "error": error,
        "skipped": 0,
        "total": passed + failed + error,
        "rate": rate,
        "ci": [rate - 0.1, min(1.0, rate + 0.05)],
        "threshold": threshold,
        "baseline": 0.9,
        "change": rate - 0.9,
        "below_threshold": rate < threshold,
        "regression": None,
        "power_note": None,
        "trend": [0.9, 0.85, rate],
    }


def make_report() -> dict[str, Any]:
    """A full run: six runs of history (behavior missing from one), every diagnosis failing."""
    cases = [
        _case(
            "refund-window",
            "knowledge",
            "failed",
            "knowledge",
            static="hybrid",
            counterfactual="passed",
        ),
        _case("shipping-zones", "knowledge", "failed", "hybrid", counterfactual="failed"),
        _case("warranty-terms", "knowledge", "passed"),
        _case(
            "order-json",
            "behavior",
            "failed",
            "behavior",
            messages=("json_schema: answer is not JSON", "max_words: expected <= 50, got 81"),
        ),
        _case("tone-apology", "behavior", "failed", "hybrid", counterfactual="failed"),
        _case("escalation", "behavior", "error", "error"),
        _case("greeting", "behavior", "passed"),
    ]
    return {
        "schema_version": 1,
        "suite": "support-bot",
        "run_id": "run-0006",
        "started_at": "2026-03-06T10:00:00Z",
        "finished_at": "2026-03-06T10:01:30Z",
        "duration_s": 90.0,
        "plugin_version": "0.1.0",
        "pipeline": "support_bot.pipeline:answer",
        "config_hash": "abc123",
        "git": {
            "sha": "0123456789abcdef",
            "branch": "feature/refunds",
            "base_branch": "main",
            "pr": 42,
        },
        "ci": {"provider": None, "run_url": None},
        "gate": {
            "verdict": "fail",
            "events": [
                {
                    "event": "below_threshold",
                    "action": "fail",
                    "category": "behavior",
                    "detail": "behavior 25.0% < 85%",
                },
                {
                    "event": "regression",
                    "action": "warn",
                    "category": "knowledge",
                    "detail": "knowledge fell 23.3 points below its baseline (McNemar p=0.031)",
                },
            ],
            "reason": "below_threshold: behavior 25.0% < 85%",
            "case_failures": "gate",
            "non_eval_failed": 0,
        },
        "categories": {
            "knowledge": _category(1, 2, 0, 1 / 3, 0.9),
            "behavior": _category(1, 2, 1, 0.25, 0.85),
        },
        "tags": {"refunds": _category(2, 4, 1, 2 / 7, 0.0)},
        "diagnosis": {"knowledge": 1, "hybrid": 2, "behavior": 1, "error": 1},
        "counterfactual": {"run": 3, "confirmed": 2, "overturned": 1},
        "disagreements": {"knowledge": {"behavior": 1}},
        "checklist": [
            {
                "question": 1,
                "key": "baseline",
                "title": TITLES["baseline"],
                "answer": "yes",
                "evidence": "5 earlier runs on main; behavior 25.0% < 85%",
            },
            {
                "question": 2,
                "key": "behavior_gap",
                "title": TITLES["behavior_gap"],
                "answer": "no",
                "evidence": "3 of 4 failures are behavior-bound; knowledge 33.3% < 90%",
            },
            {
                "question": 3,
                "key": "training_data",
                "title": TITLES["training_data"],
                "answer": "no",
                "evidence": "183 valid examples of 200 needed",
            },
            {
                "question": 4,
                "key": "owner",
                "title": TITLES["owner"],
                "answer": "yes",
                "evidence": "@acme/ml-platform until 2028-01-31",
            },
            {
                "question": 5,
                "key": "cost",
                "title": TITLES["cost"],
                "answer": "unknown",
                "evidence": "no cost table",
            },
        ],
        "recommendation": {
            "cell": "fine-tune",
            "counts": {"rag": 1, "pretraining": 0, "fine-tune": 2, "prompt": 1},
            "not_yet": [2, 3, 5],
            "advice": "Fix the prompt first; fine-tune once questions 2, 3 and 5 are yes.",
            "summary": "behavior-bound, stable -> fine-tune (LoRA/QLoRA): not yet, "
            "questions 2, 3 and 5",
        },
        "flaky": [{"id": "greeting", "rule": "repeats", "detail": "repeats disagree"}],
        "history": [
            {
                "run_id": f"run-000{i}",
                "started_at": f"2026-03-0{i}T10:00:00Z",
                "branch": "main",
                "rates": {
                    "knowledge": 0.9 - i * 0.05,
                    "behavior": None if i == 3 else 0.8 - i * 0.1,
                },
            }
            for i in range(1, 6)
        ]
        + [
            {
                "run_id": "run-0006",
                "started_at": "2026-03-06T10:00:00Z",
                "branch": "feature/refunds",
                "rates": {"knowledge": 1 / 3, "behavior": 0.25},
            }
        ],
        "cases": cases,
    }


def hostile_report(payload: str) -> dict[str, Any]:
    """Every text that comes from users or the model set to ``payload``."""
    report = make_report()
    report["suite"] = payload
    report["run_id"] = payload
    report["pipeline"] = payload
    report["git"].update(sha=payload, branch=payload, base_branch=payload)
    report["ci"] = {"provider": payload, "run_url": payload}
    report["gate"]["reason"] = payload
    for event in report["gate"]["events"]:
        event["detail"] = payload
    for item in report["checklist"]:
        item.update(title=payload, evidence=payload)
    report["recommendation"]["advice"] = payload
    report["recommendation"]["summary"] = payload
    report["flaky"] = [{"id": payload, "rule": "repeats", "detail": payload}]
    report["disagreements"] = {payload: {payload: 2}}
    report["tags"] = {payload: report["tags"]["refunds"]}
    report["categories"]["behavior"]["power_note"] = payload
    report["categories"]["knowledge"]["regression"] = {"detail": payload, "fires": True}
    for run in report["history"]:
        run.update(run_id=payload, started_at=payload, branch=payload)
    for case in report["cases"]:
        case.update(
            id=payload,
            nodeid=payload,
            input=payload,
            messages=[payload],
            tags=[payload],
            facts=[payload],
        )
        for repeat in case["repeats"]:
            repeat["answer"] = payload
            repeat["error"] = payload if repeat["error"] else None
        case["evidence"] = evidence_of(payload, f"Found {payload} here.", hit=(6, 6 + len(payload)))
    return report


def evidence_of(
    fact: str, excerpt: str, *, hit: tuple[int, int] | None, source: str | None = None
) -> dict[str, Any]:
    """A failure's evidence: the fact missing from the answer, one context holding it."""
    return {
        "facts": [fact],
        "answer": [False],
        "contexts": [
            {
                "rank": 2,
                "source": fact if source is None else source,
                "excerpt": excerpt,
                "start": 40,
                "length": 900,
                "facts": [True],
                "hit": None if hit is None else list(hit),
            }
        ],
        "contexts_total": 7,
        "gold": "failed",
    }


EXPECTED_POINTS = {"knowledge": 6, "behavior": 5}
HYBRID_CASES = {("knowledge", "hybrid"), ("behavior", "hybrid")}


class Page(HTMLParser):
    """The parts of a page the tests look at: tags with attributes, and circles per chart."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.charts: list[dict[str, Any]] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "svg":
            self.charts.append({"attrs": attributes, "circles": [], "polylines": []})
        elif tag == "circle" and self.charts:
            self.charts[-1]["circles"].append(attributes)
        elif tag == "polyline" and self.charts:
            self.charts[-1]["polylines"].append(attributes)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def named(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def html_of(report: dict[str, Any]) -> str:
    """The page of a report, read as the typed summary the renderer takes."""
    return render_html(RunSummary.from_json(report))


def _validate(report: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).validate(report)


# -- pure tests -----------------------------------------------------------------------------------


def test_builder_reports_match_the_schema() -> None:
    _validate(make_report())
    _validate(hostile_report(HOSTILE[0]))


def test_page_is_self_contained() -> None:
    out = html_of(make_report())
    page = Page(out)
    assert [a.get("content") for a in page.named("meta") if a.get("http-equiv")] == [CSP]
    # No script-src: default-src 'none' then blocks every script, inline ones included.
    assert CSP == "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    assert not {"script", "link", "img", "iframe", "object", "embed", "base"} & {
        tag for tag, _ in page.tags
    }
    for text in ("http:", "https:", "//", "url(", "@import", "src="):
        assert text not in out


@pytest.mark.parametrize("payload", HOSTILE, ids=[f"payload{i}" for i in range(len(HOSTILE))])
def test_hostile_text_is_shown_escaped_and_cannot_add_markup(payload: str) -> None:
    out = html_of(hostile_report(payload))
    page = Page(out)
    tags = {tag for tag, _ in page.tags}
    assert not tags & {"script", "img", "link", "iframe", "base", "a"}
    assert [tag for tag, _ in page.tags].count("style") == 1
    for _, attrs in page.tags:
        assert not [name for name in attrs if name.startswith("on")]
        assert "src" not in attrs and "href" not in attrs
    assert html.escape(payload) in out
    # The structure survived: one chart per category with all its points, and every case shown.
    assert {c["attrs"]["data-category"]: len(c["circles"]) for c in page.charts} == EXPECTED_POINTS
    assert len([a for a in page.named("article")]) == 5


def test_each_chart_has_one_marker_per_run_with_a_rate() -> None:
    page = Page(html_of(make_report()))
    charts = {c["attrs"]["data-category"]: c for c in page.charts}
    assert set(charts) == {"knowledge", "behavior"}
    for kind, expected in EXPECTED_POINTS.items():
        assert charts[kind]["attrs"]["data-points"] == str(expected)
        assert len(charts[kind]["circles"]) == expected
        # The behavior run without a rate breaks its line in two.
    assert len(charts["knowledge"]["polylines"]) == 1
    assert len(charts["behavior"]["polylines"]) == 2


def test_rates_map_onto_the_0_to_100_axis() -> None:
    report = make_report()
    report["history"] = [
        {"run_id": "a", "rates": {"knowledge": 0.0, "behavior": 0.5}},
        {"run_id": "b", "rates": {"knowledge": 1.0, "behavior": 0.5}},
    ]
    out = html_of(report)
    page = Page(out)
    knowledge = next(c for c in page.charts if c["attrs"]["data-category"] == "knowledge")
    ys = [float(c["cy"]) for c in knowledge["circles"]]
    xs = [float(c["cx"]) for c in knowledge["circles"]]
    grid = [line for line in page.named("line") if line.get("class") == "grid"]
    zero, hundred = float(grid[0]["y1"] or 0), float(grid[4]["y1"] or 0)
    assert ys == [zero, hundred]
    assert xs[0] < xs[1]
    assert ">0%</text>" in out and ">100%</text>" in out
    threshold = next(
        line for line in page.named("line") if line.get("class") == "threshold"
    )  # knowledge: 90%
    assert float(threshold["y1"] or 0) == pytest.approx(zero + (hundred - zero) * 0.9, abs=0.1)


def test_without_history_the_category_trend_is_drawn() -> None:
    report = make_report()
    del report["history"]
    page = Page(html_of(report))
    assert [c["attrs"]["data-points"] for c in page.charts] == ["3", "3"]


def test_single_run_without_failures_or_baseline() -> None:
    report = make_report()
    for category in report["categories"].values():
        category.update(
            failed=0,
            error=0,
            total=category["passed"],
            rate=1.0,
            ci=[0.2, 1.0],
            baseline=None,
            change=None,
            below_threshold=False,
        )
        del category["trend"]
    del report["tags"]
    report["history"] = []
    report["cases"] = [c for c in report["cases"] if c["outcome"] == "passed"]
    report["gate"] = {"verdict": "pass", "events": []}
    report["recommendation"] = {"cell": None, "counts": {}, "not_yet": []}
    report["diagnosis"] = {"knowledge": 0, "hybrid": 0, "behavior": 0, "error": 0}
    _validate(report)
    out = html_of(report)
    page = Page(out)
    assert [c["attrs"]["data-points"] for c in page.charts] == ["1", "1"]
    assert "No failed or errored cases." in out
    assert "No gate events." in out
    assert '<p class="headline">nothing failed: no change recommended</p>' in out
    assert not page.named("input") and not page.named("article")
    assert "Gate: PASS" in out


def test_empty_report_still_renders() -> None:
    report = {"suite": "s", "categories": {}, "cases": [], "checklist": []}
    page = Page(html_of(report))
    assert not page.charts
    assert page.named("main")


def test_filters_offer_every_category_and_diagnosis() -> None:
    page = Page(html_of(make_report()))
    radios = {(a["name"], a["id"]) for a in page.named("input") if a.get("type") == "radio"}
    assert radios == {("f-kind", f"f-kind-{v}") for v in ("all", "knowledge", "behavior")} | {
        ("f-diag", f"f-diag-{v}") for v in ("all", "knowledge", "hybrid", "behavior", "error")
    }
    cases = [(a["data-kind"], a["data-diagnosis"]) for a in page.named("article")]
    assert cases == [
        ("knowledge", "knowledge"),
        ("knowledge", "hybrid"),
        ("behavior", "behavior"),
        ("behavior", "hybrid"),
        ("behavior", "error"),
    ]


def test_failed_case_shows_diagnosis_path_messages_and_excerpt() -> None:
    report = make_report()
    report["cases"][0]["repeats"][0]["answer"] = "x" * 5000
    out = html_of(report)
    assert "static <strong>hybrid</strong> → counterfactual with gold passages " in out
    assert "json_schema: answer is not JSON" in out
    assert "TimeoutError: pipeline call took over 60 s" in out
    assert "(3500 more characters)" in out
    assert "x" * 5000 not in out


def test_failed_case_shows_its_evidence() -> None:
    report = make_report()
    failed = next(c for c in report["cases"] if c["outcome"] == "failed")
    failed["evidence"] = evidence_of(
        "$75", "orders of $75 or more", hit=(10, 13), source="shipping#2"
    )
    _validate(report)
    out = html_of(report)
    assert '<p class="label">evidence · 7 contexts retrieved</p>' in out
    assert 'in the answer: <span class="fact missing">✗ $75</span>' in out
    assert (
        '<tr><td class="num">2</td><td><code>shipping#2</code></td>'
        '<td><span class="fact found">✓ $75</span></td>'
        '<td class="excerpt">…orders of <mark>$75</mark> or more…</td></tr>'
    ) in out
    assert "...and 6 more contexts not shown" in out
    assert "gold passages: failed: the answer fails even with the gold passages in hand" in out
    assert out.count('<div class="evidence">') == 1  # passing cases show none


@pytest.mark.parametrize(
    ("run_url", "linked"),
    [
        pytest.param("https://ci.example/run/1", True, id="https"),
        pytest.param("javascript:alert(1)", False, id="javascript"),
        pytest.param("data:text/html,<b>x</b>", False, id="data"),
    ],
)
def test_only_http_run_urls_become_links(run_url: str, linked: bool) -> None:
    report = make_report()
    report["ci"] = {"provider": "github", "run_url": run_url}
    anchors = Page(html_of(report)).named("a")
    assert anchors == ([{"href": run_url, "rel": "noopener noreferrer"}] if linked else [])


def test_numbers_are_formatted_not_computed() -> None:
    out = html_of(make_report())
    assert "33.3%" in out  # knowledge rate
    assert "−56.7 pts" in out  # knowledge change as given
    assert "[23.3, 38.3]" in out  # knowledge Wilson interval as given
    assert "85%" in out and "90%" in out


def test_control_and_bidi_characters_never_reach_the_page() -> None:
    hidden = "a\x1b[31mb\x07c\x00d\u202ee\u200bf\u2066g"
    out = html_of(hostile_report(hidden))
    assert not re.search(
        "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]", out
    )
    assert "a[31mbcdefg" in out


def _headline(out: str) -> str:
    found = re.search(r'<p class="headline">(.*?)</p>', out)
    assert found is not None
    return found.group(1)


def test_recommendation_is_the_summarys_own_words() -> None:
    out = html_of(make_report())
    assert _headline(out) == (
        "behavior-bound, stable → fine-tune (LoRA/QLoRA): not yet, questions 2, 3 and 5"
    )
    assert out.count("not yet") == 1 and "-&gt;" not in out
    assert '<p class="advice">Fix the prompt first;' in out
    assert '<strong>1</strong> <span class="muted small">failure</span>' in out  # rag
    assert '<strong>0</strong> <span class="muted small">failures</span>' in out  # pretraining


def test_recommendation_without_summary_shows_the_cell_label() -> None:
    report = make_report()
    del report["recommendation"]["summary"]
    out = html_of(report)
    assert _headline(out) == "behavior-bound, stable → fine-tune (LoRA/QLoRA)"
    assert "not yet" not in out


def test_checklist_titles_come_from_the_report() -> None:
    report = make_report()
    report["checklist"][0]["title"] = "Our own question?"
    del report["checklist"][1]["title"]
    out = html_of(report)
    assert '<p class="question">Our own question? ' in out
    assert f'<p class="question">{html.escape(TITLES["behavior_gap"])} ' in out


def test_disagreements_are_worded_like_the_other_reports() -> None:
    out = html_of(make_report())
    assert "<li>1 knowledge case failed for behavior reasons</li>" in out


def test_diagnoses_in_the_order_of_the_other_reports() -> None:
    page = Page(html_of(make_report()))
    chips = [a["class"] for a in page.named("span") if "chip" in (a.get("class") or "")]
    assert chips == [f"chip diag-{d}" for d in ("behavior", "hybrid", "knowledge", "error")]
    radios = [a["id"] for a in page.named("input") if a.get("name") == "f-diag"]
    assert radios == [f"f-diag-{d}" for d in ("all", "behavior", "hybrid", "knowledge", "error")]


def test_malformed_numbers_show_a_dash() -> None:
    report = make_report()
    report["categories"]["knowledge"].update(rate=True, baseline=float("nan"), ci=[0.1, None])
    knowledge = RunSummary.from_json(report).categories["knowledge"]
    assert (knowledge.rate, knowledge.ci) == (None, None)  # a NaN is a float: the page hides it
    out = html_of(report)
    row = re.search(r'<th scope="row">knowledge</th>.*?</tr>', out)
    assert row is not None
    assert '<td class="num rate">-</td><td class="num">-</td>' in row.group(0)
    assert "nan" not in out.lower()


# -- in a real browser ----------------------------------------------------------------------------

needs_chromium = pytest.mark.skipif(
    find_chromium() is None,
    reason="no Chromium binary found (apt-get install chromium, or set CHROME_BIN)",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser(width=1200, height=900) as b:
        yield b


@pytest.fixture(scope="module")
def report_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    report = make_report()
    # Hostile text in places a browser would act on if it leaked through as markup.
    report["cases"][0]["repeats"][0]["answer"] = HOSTILE[0] + HOSTILE[2]
    report["cases"][1]["messages"] = [HOSTILE[1]]
    report["suite"] = HOSTILE[6]
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(html_of(report), encoding="utf-8")
    return path.as_uri()


@pytest.fixture
def page(browser: Browser, report_url: str) -> Browser:
    browser.open(report_url)
    return browser


@pytest.mark.chromium
@needs_chromium
def test_page_loads_with_no_errors_and_no_requests(page: Browser, report_url: str) -> None:
    assert page.requests() == [report_url]
    assert page.errors() == []
    assert page.evaluate("document.scripts.length") == 0
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.evaluate("document.title").startswith("ragft · <link")


@pytest.mark.chromium
@needs_chromium
def test_the_probe_sees_requests_errors_and_the_csp_at_work(
    browser: Browser, tmp_path: Path
) -> None:
    """Without this the two empty lists above could come from a probe that sees nothing."""
    leaky = tmp_path / "leaky.html"
    leaky.write_text(
        "<p>x</p><img src='http://127.0.0.1:9/pixel.png'><script>console.error('boom')</script>"
    )
    browser.open(leaky.as_uri())
    assert "http://127.0.0.1:9/pixel.png" in browser.requests()
    assert "boom" in browser.errors()

    guarded = tmp_path / "guarded.html"
    guarded.write_text(
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        "<p>x</p><img src='http://127.0.0.1:9/pixel.png'>"
        "<link rel=stylesheet href='http://127.0.0.1:9/style.css'>"
        "<script>window.__ran = 1</script>"
    )
    browser.open(guarded.as_uri())
    assert browser.evaluate("typeof window.__ran") == "undefined"
    # The browser announces the two requests, and the policy stops both before they go out.
    assert len(browser.requests()) == 3
    blocked = [
        event["params"].get("blockedReason")
        for event in browser.events
        if event["method"] == "Network.loadingFailed"
    ]
    assert blocked == ["csp", "csp"]
    assert any("Content Security Policy" in error for error in browser.errors())


@pytest.mark.chromium
@needs_chromium
def test_each_chart_shows_every_run(page: Browser) -> None:
    charts = page.evaluate(
        "[...document.querySelectorAll('svg.trend')].map(svg => [svg.dataset.category,"
        " Number(svg.dataset.points), svg.querySelectorAll('circle.point').length,"
        " svg.getBoundingClientRect().width > 200])"
    )
    assert charts == [[kind, n, n, True] for kind, n in EXPECTED_POINTS.items()]
    dashed = page.evaluate(
        "[...document.querySelectorAll('svg.trend line.threshold')]"
        ".map(l => getComputedStyle(l).strokeDasharray)"
    )
    assert dashed == ["6px, 4px", "6px, 4px"]


VISIBLE_CASES = (
    "[...document.querySelectorAll('article.case')]"
    ".filter(a => getComputedStyle(a).display !== 'none')"
    ".map(a => [a.dataset.kind, a.dataset.diagnosis])"
)


@pytest.mark.chromium
@needs_chromium
def test_filters_hide_the_other_cases(page: Browser) -> None:
    assert len(page.evaluate(VISIBLE_CASES)) == 5

    page.evaluate("document.querySelector('label[for=\"f-diag-hybrid\"]').click()")
    assert {tuple(c) for c in page.evaluate(VISIBLE_CASES)} == HYBRID_CASES
    assert len(page.evaluate(VISIBLE_CASES)) == 2

    page.evaluate("document.querySelector('label[for=\"f-kind-behavior\"]').click()")
    assert page.evaluate(VISIBLE_CASES) == [["behavior", "hybrid"]]

    page.evaluate("document.querySelector('label[for=\"f-diag-all\"]').click()")
    assert page.evaluate(VISIBLE_CASES) == [
        ["behavior", "behavior"],
        ["behavior", "hybrid"],
        ["behavior", "error"],
    ]
    chosen = page.evaluate(
        "getComputedStyle(document.querySelector('label[for=\"f-kind-behavior\"]')).color"
    )
    assert chosen == "rgb(255, 255, 255)"


@pytest.mark.chromium
@needs_chromium
def test_screenshot_is_not_blank(page: Browser) -> None:
    shot = page.screenshot()
    assert shot.startswith(b"\x89PNG")
    assert ink_share(shot) > 0.05
    page.open("about:blank")
    assert ink_share(page.screenshot()) == 0.0
