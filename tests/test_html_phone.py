"""Every section of the HTML page, the newer ones included (changes, evidence, variants with
their matrix, category filter and spending, usage, retrieval, the gains, flaky cases), fits a
phone's width in a real headless Chromium: no part of the page makes it scroll sideways."""

from __future__ import annotations

from pathlib import Path

import pytest
from chromium import Browser, find_chromium
from records import case, summary

from pytest_ragft.flaky import FlakyCase
from pytest_ragft.model import CaseRecord, RepeatRecord
from pytest_ragft.report.html import render_html
from pytest_ragft.retrieval import rank_measures
from pytest_ragft.summarize import HistoryContext
from pytest_ragft.variants import Variant, compare

LONG = "a-very-long-case-identifier-" * 4


def _spent(record: CaseRecord, tokens: int, cost: float, sources: list[str]) -> CaseRecord:
    """The record with its one call's usage and sources, measured against two gold ids."""
    (repeat,) = record.repeats
    record.repeats = [
        RepeatRecord(**{**vars(repeat), "prompt_tokens": tokens, "cost": cost, "sources": sources})
    ]
    record.gold_sources = [f"{LONG}gold-a", f"{LONG}gold-b"]
    record.retrieval = rank_measures(sources, record.gold_sources)
    return record


def _page(tmp_path: Path) -> Path:
    gold = [f"{LONG}gold-a", "other", f"{LONG}gold-b"]
    main = [case(f"{LONG}{i}", "behavior", "failed", diagnosis="behavior") for i in range(6)]
    main += [
        _spent(case(f"k{i}", contexts=("Refunds within 30 days. " * 30,)), 900, 0.002, gold)
        for i in range(4)
    ]
    for i in range(2):  # knowledge failures the gold passages fixed: a retrieval gain
        failed = case(f"{LONG}gold-fixed-{i}", "knowledge", "failed", diagnosis="knowledge")
        failed.counterfactual = "passed"
        main.append(_spent(failed, 1200, 0.003, ["other", "unrelated"]))
    history = HistoryContext(
        baseline_run_id="b" * 32,
        baseline_count=1,
        latest_outcomes={c.id: (c.kind, True) for c in main},
        baseline_rates={"behavior": 1.0, "knowledge": 1.0},
    )
    from test_gains import COST

    made = summary(tmp_path, main, history=history, table={"checklist": {"cost": COST}})
    fixed = [_spent(case(c.id, c.kind, "passed"), 1500, 0.004, gold) for c in main]
    variants = compare(made.cases, [Variant("strict " * 8, fixed)], margin=0.05, alpha=0.05)
    from dataclasses import replace

    made = replace(
        made,
        variants=variants,
        flaky=(FlakyCase(LONG, "alternating", "2 flips over the last 3 runs " * 3),),
    )
    path = tmp_path / "page.html"
    path.write_text(render_html(made), encoding="utf-8")
    return path


@pytest.mark.chromium
@pytest.mark.skipif(find_chromium() is None, reason="no Chromium binary found")
@pytest.mark.parametrize("width", [390, 1200], ids=["phone", "desktop"])
def test_no_section_makes_the_page_scroll_sideways(tmp_path: Path, width: int) -> None:
    path = _page(tmp_path)
    with Browser(width=width, height=900) as browser:
        browser.open(path.as_uri())
        assert browser.errors() == []
        sections = browser.evaluate("[...document.querySelectorAll('section')].map(s => s.id)")
        assert {
            "changes",
            "variants",
            "cases",
            "diagnosis",
            "usage",
            "retrieval",
            "recommendation",
        } <= set(sections)
        count = "document.querySelectorAll('{}').length".format
        assert browser.evaluate(count(".gain")) == 2  # retrieval and fine-tune gain
        assert browser.evaluate(count(".spending")) == 1  # the variant's tokens and cost
        assert browser.evaluate(count("input[name=vm-cat]")) == 3  # all, behavior, knowledge
        wide = browser.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert wide <= 1, f"the page is {wide}px wider than a {width}px screen"
