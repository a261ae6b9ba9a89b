"""Every section of the HTML page, the newer ones included (changes, evidence, variants and
their matrix, usage, flaky cases), fits a phone's width in a real headless Chromium: no part
of the page makes it scroll sideways."""

from __future__ import annotations

from pathlib import Path

import pytest
from chromium import Browser, find_chromium
from records import case, summary

from pytest_ragft.flaky import FlakyCase
from pytest_ragft.report.html import render_html
from pytest_ragft.summarize import HistoryContext
from pytest_ragft.variants import Variant, compare

LONG = "a-very-long-case-identifier-" * 4


def _page(tmp_path: Path) -> Path:
    main = [case(f"{LONG}{i}", "behavior", "failed", diagnosis="behavior") for i in range(6)]
    main += [case(f"k{i}", contexts=("Refunds within 30 days. " * 30,)) for i in range(4)]
    history = HistoryContext(
        baseline_run_id="b" * 32,
        baseline_count=1,
        latest_outcomes={c.id: (c.kind, True) for c in main},
        baseline_rates={"behavior": 1.0, "knowledge": 1.0},
    )
    made = summary(tmp_path, main, history=history)
    fixed = [case(c.id, c.kind, "passed") for c in main]
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
        assert {"changes", "variants", "cases", "diagnosis"} <= set(sections)
        wide = browser.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert wide <= 1, f"the page is {wide}px wider than a {width}px screen"
