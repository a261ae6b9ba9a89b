"""What the terminal section, the Markdown and the HTML show agrees with what the summary
computed: each renderer is fed the real summary of records, never a hand-built report."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from records import case, summary

from pytest_ragft.model import CaseRecord
from pytest_ragft.report import fmt
from pytest_ragft.report.escape import escape_md
from pytest_ragft.report.html import render_html
from pytest_ragft.report.jsonfile import write_json
from pytest_ragft.report.markdown import render_markdown
from pytest_ragft.report.terminal import terminal_lines
from pytest_ragft.runsummary import Retrieval, RunSummary
from pytest_ragft.summarize import HistoryContext


def _records() -> list:
    knowledge = [case(f"k{i}") for i in range(8)]
    knowledge += [
        case("k-missing", outcome="failed", diagnosis="knowledge"),
        case("k-timeout", outcome="error", diagnosis="error"),
    ]
    behavior = [case(f"b{i}", "behavior") for i in range(5)]
    behavior += [
        case("b-format", "behavior", "failed", diagnosis="behavior"),
        case("b-ignored", "behavior", "failed", diagnosis="hybrid"),
        case("b-long", "behavior", "failed", diagnosis="behavior"),
    ]
    return knowledge + behavior


HISTORY = HistoryContext(
    prior_runs=4,
    baseline_rates={"knowledge": 0.9, "behavior": 0.875},
    baseline_pooled={"knowledge": (36, 40), "behavior": (28, 32)},
    latest_outcomes={f"k{i}": ("knowledge", True) for i in range(8)},
    baseline_count=4,
    series=[
        {
            "run_id": f"old{n}",
            "started_at": f"2026-02-0{n}T00:00:00+00:00",
            "branch": "main",
            "rates": {"knowledge": 0.9, "behavior": 0.875},
        }
        for n in range(1, 5)
    ],
)


@pytest.fixture
def made(tmp_path: Path) -> RunSummary:
    return summary(tmp_path, _records(), history=HISTORY)


def test_the_summary_is_what_the_records_say(made: RunSummary) -> None:
    knowledge, behavior = made.categories["knowledge"], made.categories["behavior"]
    assert (knowledge.passed, knowledge.total, behavior.passed, behavior.total) == (8, 10, 5, 8)
    assert made.diagnosis == {"knowledge": 1, "hybrid": 1, "behavior": 2, "error": 1}
    assert made.gate.verdict == "fail"  # behavior 62.5% < 85%
    assert knowledge.baseline == 0.9 and knowledge.change == pytest.approx(-0.1)


def _category_facts(made: RunSummary) -> list[str]:
    facts = []
    for _, cat in fmt.categories(made):
        facts += [
            f"{cat.passed}/{cat.total}",
            fmt.pct(cat.rate),
            fmt.ci_text(cat.ci),
            fmt.threshold_pct(cat.threshold),
            fmt.pct(cat.baseline),
            fmt.points(cat.change),
        ]
    return facts


def test_the_terminal_shows_the_summarys_numbers(made: RunSummary) -> None:
    text = "\n".join(terminal_lines(made))
    for fact in _category_facts(made):
        assert fact in text
    for diagnosis, count in fmt.diagnosis_counts(made):
        assert f"{diagnosis} {count}" in text
    assert f"gate: {made.gate.verdict.upper()}" in text


def test_the_markdown_shows_the_summarys_numbers_and_every_failed_case(made: RunSummary) -> None:
    text = render_markdown(made)
    for fact in _category_facts(made):
        assert fact in text
    for failed in made.failed_cases:
        assert f"**{failed.id}**" in text
    assert ("FAIL" if made.gate.verdict == "fail" else "PASS") in text.splitlines()[1]
    for answer in made.checklist:
        assert answer.title in text


def test_the_html_shows_the_summarys_numbers_and_every_failed_case(made: RunSummary) -> None:
    page = html.unescape(render_html(made))
    for fact in _category_facts(made):
        assert fact.replace("-", "−") in page or fact in page  # the page writes a real minus
    for failed in made.failed_cases:
        assert failed.id in page
    passed_ids = [c.id for c in made.cases if c.outcome == "passed"]
    assert not any(f">{case_id}<" in page for case_id in passed_ids)


def _measured(case_id: str, kind: str, retrieval: dict[str, float] | None) -> CaseRecord:
    record = case(case_id, kind)
    record.retrieval = retrieval
    return record


RANKED = {"hit": 1.0, "recall": 0.5, "mrr": 0.5, "ndcg": 0.4, "k": 3.0}
MISSED = {"hit": 0.0, "recall": 0.0, "mrr": 0.0, "ndcg": 0.0, "k": 3.0}


def test_retrieval_means_per_category_over_the_cases_that_measured_it(tmp_path: Path) -> None:
    records = [
        _measured("k1", "knowledge", RANKED),
        _measured("k2", "knowledge", RANKED),
        _measured("k3", "knowledge", MISSED),
        _measured("k4", "knowledge", {"fact_recall": 0.5}),
        _measured("k5", "knowledge", {"fact_recall": 1.0}),
        _measured("k6", "knowledge", None),
        _measured("b1", "behavior", None),
    ]
    made = summary(tmp_path, records)
    assert made.retrieval == {
        "knowledge": Retrieval(
            cases=3,
            k=3,
            hit=round(2 / 3, 6),
            recall=round(1 / 3, 6),
            mrr=round(1 / 3, 6),
            ndcg=round(0.8 / 3, 6),
            fact_cases=2,
            fact_recall=0.75,
            # Wilson for 2 hits of 3; t-intervals (t = 4.3027 at df 2) clipped to [0, 1]:
            # recall 0.333 +- 4.3027 * 0.289 / sqrt(3), nDCG 0.267 +- 4.3027 * 0.231 / sqrt(3),
            # fact recall 0.75 +- 12.706 * 0.354 / sqrt(2)
            hit_ci=(0.2077, 0.9385),
            recall_ci=(0.0, 1.0),
            mrr_ci=(0.0, 1.0),
            ndcg_ci=(0.0, 0.8404),
            fact_recall_ci=(0.0, 1.0),
        )
    }
    assert RunSummary.from_json(made.to_json()) == made
    write_json(made.to_json(), tmp_path / "report.json")  # raises when it breaks the schema
    line = (
        "retrieval: knowledge hit@3 0.67 [0.21, 0.94] · recall@3 0.33 [0.00, 1.00] · "
        "MRR 0.33 [0.00, 1.00] · nDCG@3 0.27 [0.00, 0.84] (3 cases)"
    )
    assert line + " · fact recall 0.75 [0.00, 1.00] (2 cases)" in terminal_lines(made)
    text = render_markdown(made)
    assert "**Retrieval**" in text
    shown = line.removeprefix("retrieval: knowledge ")
    assert f"- knowledge: {escape_md(shown)}" in text  # an @ is kept from reading as a mention


def test_retrieval_cut_at_different_lengths_reads_at_k(tmp_path: Path) -> None:
    records = [
        _measured("k1", "knowledge", RANKED),
        _measured("k2", "knowledge", {**RANKED, "k": 5.0}),
        _measured("b1", "behavior", {"fact_recall": 0.25}),
    ]
    made = summary(tmp_path, records)
    assert made.retrieval["knowledge"].k is None
    # One case: the Wilson interval of 0.25 of 1 stands in for a t-interval
    assert made.retrieval["behavior"] == Retrieval(
        fact_cases=1, fact_recall=0.25, fact_recall_ci=(0.0146, 0.8821)
    )
    lines = [t for t in terminal_lines(made) if t.startswith("retrieval:")]
    assert lines == [
        "retrieval: knowledge hit@k 1.00 [0.34, 1.00] · recall@k 0.50 [0.09, 0.91] · "
        "MRR 0.50 [0.09, 0.91] · nDCG@k 0.40 [0.06, 0.87] (2 cases)",
        "retrieval: behavior fact recall 0.25 [0.01, 0.88] (1 case)",
    ]


def test_no_retrieval_line_with_nothing_measured(made: RunSummary) -> None:
    assert made.retrieval == {}
    assert not [t for t in terminal_lines(made) if t.startswith("retrieval:")]
    assert "**Retrieval**" not in render_markdown(made)
