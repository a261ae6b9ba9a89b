"""Tokens and cost per case in the comparison of variants, beside latency, and the HTML
matrix narrowed by category as well as by "differs"."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from chromium import Browser, find_chromium
from records import case, summary

from pytest_ragft import costs
from pytest_ragft.model import CaseRecord
from pytest_ragft.report.comparison import comparison_lines, spending
from pytest_ragft.report.html import render_html
from pytest_ragft.report.jsonfile import schema_problem
from pytest_ragft.report.markdown import render_markdown
from pytest_ragft.report.terminal import terminal_lines
from pytest_ragft.runsummary import RunSummary
from pytest_ragft.variants import Comparison, Variant, compare

Usage = tuple[int | None, int | None, float | None]  # prompt tokens, completion tokens, cost


def _spent(record: CaseRecord, *calls: Usage, latency_s: float = 0.01) -> CaseRecord:
    """The record with one repeat per call, each reporting that call's usage."""
    repeats = [
        replace(
            record.repeats[0],
            repeat=n,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost=cost,
            latency_s=latency_s,
        )
        for n, (prompt, completion, cost) in enumerate(calls, start=1)
    ]
    return replace(record, repeats=repeats or [replace(record.repeats[0], latency_s=latency_s)])


def _pipelines() -> tuple[list[CaseRecord], list[CaseRecord]]:
    main = [
        # per case: 120 tokens and 0.002 (the mean of two calls), 60 tokens, nothing reported
        _spent(case("a"), (100, 20, 0.001), (80, 40, 0.003)),
        _spent(case("b", "behavior", "failed", diagnosis="behavior"), (60, None, None)),
        _spent(case("c")),
    ]
    variant = [
        _spent(case("a"), (200, 50, 0.004), latency_s=0.02),
        _spent(case("b", "behavior"), (100, 20, 0.002), latency_s=0.02),
        _spent(case("c"), latency_s=0.02),
        # not a main case: left out of the means
        _spent(case("d"), (9000, 9000, 9.0), latency_s=0.02),
    ]
    return main, variant


def test_tokens_and_cost_per_case_are_the_means_over_the_shared_cases() -> None:
    main, variant = _pipelines()
    [v] = compare(main, [Variant("json_prompt", variant)]).variants
    assert v.tokens_per_case == (90.0, 185.0)
    assert v.cost_per_case == (0.002, 0.003)
    assert v.latency_s == (0.01, 0.02)
    # The same measure as the run's own usage per case, on the same records.
    for mine, records in zip((0, 1), (main, [r for r in variant if r.id != "d"]), strict=True):
        usage = costs.usage_of(records)
        assert (usage.tokens_per_case, usage.cost_per_case) == (
            v.tokens_per_case[mine],
            v.cost_per_case[mine],
        )


def test_a_side_that_reports_nothing_is_none_and_shown_as_a_dash() -> None:
    main, _ = _pipelines()
    silent = [_spent(case(r.id, r.kind)) for r in main]
    [v] = compare(main, [Variant("quiet", silent)]).variants
    assert (v.tokens_per_case, v.cost_per_case) == ((90.0, None), (0.002, None))
    assert spending(v) == (
        "per case: - tokens vs main 90, cost - vs 0.002; latency 10 ms vs 10 ms per call"
    )
    [bare] = compare([case("x")], [Variant("v", [case("x")])]).variants
    assert (bare.tokens_per_case, bare.cost_per_case) == ((None, None), (None, None))
    assert spending(bare) == "latency 10 ms vs 10 ms per call"


def test_the_measures_survive_the_json_and_match_the_schema(tmp_path: Path) -> None:
    main, variant = _pipelines()
    made = summary(tmp_path, main, variant_records={"json_prompt": variant})
    data = made.to_json()
    problem = schema_problem(data)
    assert problem is None, problem
    [v] = data["variants"]["variants"]
    assert v["tokens_per_case"] == {"main": 90.0, "variant": 185.0}
    assert v["cost_per_case"] == {"main": 0.002, "variant": 0.003}
    assert v["latency_s"] == {"main": 0.01, "variant": 0.02}
    assert RunSummary.from_json(data).variants == made.variants
    assert Comparison.from_json({"variants": [{"name": "old"}]}).variants[0].cost_per_case == (
        None,
        None,
    )


def test_terminal_markdown_and_html_show_the_same_line(tmp_path: Path) -> None:
    main, variant = _pipelines()
    made = summary(tmp_path, main, variant_records={"json_prompt": variant})
    line = "per case: 185 tokens vs main 90, cost 0.003 vs 0.002; latency 20 ms vs 10 ms per call"
    lines = terminal_lines(made)
    at = next(n for n, text in enumerate(lines) if text.startswith("variant json_prompt"))
    assert lines[at + 1] == f"  {line}"
    assert made.variants is not None
    assert f"  {line}" in comparison_lines(made.variants)
    assert f"\n{line}\n" in render_markdown(made)
    assert f'<p class="muted spending">{line}</p>' in render_html(made)


def _matrix_page(tmp_path: Path) -> Path:
    main = [case(f"k{i}") for i in range(3)]
    main += [case(f"b{i}", "behavior", "failed", diagnosis="behavior") for i in range(4)]
    # the variant fixes b0 and b1, breaks k0
    variant = [case("k0", outcome="failed", diagnosis="knowledge"), case("k1"), case("k2")]
    variant += [case(f"b{i}", "behavior") for i in range(2)]
    variant += [case(f"b{i}", "behavior", "failed", diagnosis="behavior") for i in (2, 3)]
    made = summary(tmp_path, main, variant_records={"v": variant})
    path = tmp_path / "page.html"
    path.write_text(render_html(made), encoding="utf-8")
    return path


def test_the_matrix_rows_carry_their_category(tmp_path: Path) -> None:
    page = _matrix_page(tmp_path).read_text()
    assert page.count('" data-category="behavior"><th') == 4
    assert page.count('" data-category="knowledge"><th') == 3
    assert 'id="vm-cat-all" checked' in page
    one = summary(tmp_path, [case("k0")], variant_records={"v": [case("k0")]})
    assert "vm-cat" not in render_html(one).split("</style>", 1)[1]  # one category: no filter


VISIBLE_ROWS = (
    "[...document.querySelectorAll('table.variant-matrix tbody tr')]"
    ".filter(r => getComputedStyle(r).display !== 'none')"
    ".map(r => r.querySelector('code').textContent)"
)


def _click(browser: Browser, target: str) -> None:
    browser.evaluate(f"document.querySelector('label[for=\"{target}\"]').click()")


@pytest.mark.chromium
@pytest.mark.skipif(find_chromium() is None, reason="no Chromium binary found")
def test_the_matrix_narrows_by_category_and_by_differs_in_a_browser(tmp_path: Path) -> None:
    path = _matrix_page(tmp_path)
    with Browser(width=1200, height=900) as browser:
        browser.open(path.as_uri())
        assert browser.errors() == []
        assert browser.evaluate("document.scripts.length") == 0
        assert browser.evaluate(VISIBLE_ROWS) == ["b0", "b1", "b2", "b3", "k0", "k1", "k2"]
        _click(browser, "vm-cat-behavior")
        assert browser.evaluate(VISIBLE_ROWS) == ["b0", "b1", "b2", "b3"]
        _click(browser, "only-differs")
        assert browser.evaluate(VISIBLE_ROWS) == ["b0", "b1"]
        _click(browser, "vm-cat-knowledge")
        assert browser.evaluate(VISIBLE_ROWS) == ["k0"]
        chosen = browser.evaluate(
            "getComputedStyle(document.querySelector('label[for=\"vm-cat-knowledge\"]')).color"
        )
        assert chosen == "rgb(255, 255, 255)"
        _click(browser, "vm-cat-all")
        assert browser.evaluate(VISIBLE_ROWS) == ["b0", "b1", "k0"]
        _click(browser, "only-differs")
        assert len(browser.evaluate(VISIBLE_ROWS)) == 7
