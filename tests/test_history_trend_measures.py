"""Each category's retrieval quality and latency, stored per run and trended: in the history a
run reads, in ``ragft trend --measure``, and as charts in the HTML report."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from chromium import Browser, find_chromium
from records import case, summary
from test_history import make_report

from pytest_ragft.cli import main
from pytest_ragft.history import HistoryStore, open_store
from pytest_ragft.history.context import read_context
from pytest_ragft.model import CaseRecord
from pytest_ragft.report.html import render_html
from pytest_ragft.runsummary import RunSummary, SeriesPoint

RECALLS = (0.5, 0.75)
P95S = (0.2, 0.3)


def _measured_report(run: int) -> dict[str, Any]:
    report = make_report(f"run-{run}", suite="support-bot", minute=run)
    report["retrieval"] = {
        "knowledge": {"cases": 2, "k": 3, "hit": 1.0, "recall": RECALLS[run], "mrr": 0.5}
    }
    report["usage"] = {
        "knowledge": {"cases": 2, "latency_p95_s": P95S[run]},
        "behavior": {"cases": 1, "latency_p95_s": P95S[run] * 2},
        "all": {"cases": 3, "latency_p95_s": 9.0},
    }
    return report


def _store(tmp_path: Path) -> HistoryStore:
    store = open_store("h.sqlite", tmp_path)
    for run in range(2):
        store.write_run(_measured_report(run))
    store.write_run(make_report("old-style", suite="support-bot", minute=5))  # measures none
    return store


def _ranked(record: CaseRecord, recall: float) -> CaseRecord:
    measures = {"hit": 1.0, "recall": recall, "mrr": 1.0, "ndcg": 1.0, "k": 3.0}
    return replace(record, retrieval=measures)


def _this_run(tmp_path: Path) -> RunSummary:
    with _store(tmp_path) as store:
        history = read_context(store, "support-bot", "main", 5, exclude_run_id=None)
    records = [_ranked(case("k1"), 1.0), _ranked(case("k2"), 0.5), case("b1", "behavior")]
    return summary(tmp_path, records, history=history)


def test_the_history_a_run_reads_carries_each_categorys_measures(tmp_path: Path) -> None:
    made = _this_run(tmp_path)
    points = made.history
    assert [p.run_id for p in points][:3] == ["run-0", "run-1", "old-style"]
    assert [p.measures.get("knowledge", {}).get("recall") for p in points] == [
        0.5,
        0.75,
        None,
        0.75,
    ]
    assert [p.measures.get("behavior", {}).get("latency_p95_s") for p in points[:3]] == [
        0.4,
        0.6,
        None,
    ]
    assert points[0].measures["knowledge"]["mrr"] == 0.5
    assert "all" not in points[0].measures  # per category only
    assert points[-1].measures["knowledge"]["latency_p95_s"] == pytest.approx(0.01)
    again = RunSummary.from_json(made.to_json()).history
    assert [p.measures for p in again] == [p.measures for p in points]


def test_a_series_point_reads_back_only_known_numeric_measures() -> None:
    point = SeriesPoint.from_json(
        {
            "run_id": "r",
            "started_at": "",
            "rates": {},
            "measures": {"knowledge": {"recall": 0.5, "bogus": 1.0, "hit": "high"}},
        }
    )
    assert point.measures == {"knowledge": {"recall": 0.5}}


def test_ragft_trend_shows_a_measure_per_category(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.ragft]\nsuite = "support-bot"\nhistory = "h.sqlite"\n', encoding="utf-8"
    )
    _store(tmp_path).close()
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["trend", "--measure", "recall"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("knowledge  recall ")
    assert lines[0].endswith("  0.50 0.75 -")
    assert lines[1].startswith("behavior   recall ") and lines[1].endswith("  - - -")
    assert main(["trend", "--measure", "latency_p95_s", "--kind", "behavior"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("400.0ms 600.0ms -")
    with pytest.raises(SystemExit) as exited:  # argparse names the choices
        main(["trend", "--measure", "recal"])
    assert exited.value.code == 2
    assert "latency_p95_s" in capsys.readouterr().err


def _charts(page: str) -> dict[tuple[str, str], int]:
    """(category, measure) -> its number of points, for each measure chart of a page."""
    import re

    found = {}
    for match in re.finditer(
        r'data-category="(\w+)" data-measure="(\w+)" data-points="(\d+)"', page
    ):
        found[(match[1], match[2])] = int(match[3])
    return found


def test_the_page_draws_recall_and_latency_per_category(tmp_path: Path) -> None:
    page = render_html(_this_run(tmp_path))
    assert _charts(page) == {
        ("knowledge", "recall"): 3,
        ("knowledge", "latency_p95_s"): 3,
        ("behavior", "latency_p95_s"): 3,
    }
    assert page.count("<polyline") >= 3 + 2  # a gap where the old-style run measured nothing
    assert "knowledge</strong> recall@k" in page and "latency p95 (ms)" in page


def test_a_measure_with_one_point_gets_no_chart(tmp_path: Path) -> None:
    records = [_ranked(case("k1"), 1.0)]
    page = render_html(summary(tmp_path, records))
    assert _charts(page) == {}
    assert 'id="trends"' in page  # the pass-rate chart is still there


@pytest.mark.chromium
@pytest.mark.skipif(find_chromium() is None, reason="no Chromium binary found")
@pytest.mark.parametrize("width", [390, 1200], ids=["phone", "desktop"])
def test_the_measure_charts_show_and_fit_the_screen(tmp_path: Path, width: int) -> None:
    path = tmp_path / "page.html"
    path.write_text(render_html(_this_run(tmp_path)), encoding="utf-8")
    with Browser(width=width, height=900) as browser:
        browser.open(path.as_uri())
        assert browser.errors() == []
        boxes = browser.evaluate(
            "[...document.querySelectorAll('svg[data-measure]')].map(s => {"
            " const r = s.getBoundingClientRect();"
            " return [s.dataset.measure, Math.round(r.width), Math.round(r.height),"
            " s.querySelectorAll('circle').length]; })"
        )
        assert len(boxes) == 3
        for measure, box_width, height, circles in boxes:
            assert 0 < box_width <= width and height > 0 and circles == 3, measure
        wide = browser.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert wide <= 1, f"the page is {wide}px wider than a {width}px screen"
