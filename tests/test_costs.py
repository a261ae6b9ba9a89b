"""Latency, tokens and cost: the metadata read, percentiles, per-group figures, the budget and
baseline-rise events (each at its boundary), and the stored baseline's per-case figures."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from records import case, summary

from pytest_ragft import costs
from pytest_ragft.checklist import answer_cost
from pytest_ragft.config import BudgetSettings
from pytest_ragft.history import open_store
from pytest_ragft.history.context import read_context
from pytest_ragft.model import CaseRecord, RepeatRecord
from pytest_ragft.runsummary import RunSummary, Usage


def spending(
    case_id: str,
    latencies: tuple[float, ...] = (1.0,),
    tokens: tuple[tuple[int, int] | None, ...] = (),
    cost: tuple[float | None, ...] = (),
    kind: str = "knowledge",
) -> CaseRecord:
    """A passed case whose repeats took these latencies, tokens (prompt, completion) and cost."""
    repeats = []
    for n, latency in enumerate(latencies, 1):
        pair = tokens[n - 1] if n <= len(tokens) else None
        repeats.append(
            RepeatRecord(
                repeat=n,
                outcome="passed",
                latency_s=latency,
                prompt_tokens=None if pair is None else pair[0],
                completion_tokens=None if pair is None else pair[1],
                cost=cost[n - 1] if n <= len(cost) else None,
            )
        )
    return replace(case(case_id, kind), repeats=repeats)


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        pytest.param(
            {"prompt_tokens": 120, "completion_tokens": 30, "cost": 0.0012},
            {"prompt_tokens": 120, "completion_tokens": 30, "cost": 0.0012},
            id="all",
        ),
        pytest.param({"prompt_tokens": 12.0}, {"prompt_tokens": 12}, id="whole-float"),
        pytest.param({"prompt_tokens": 12.5}, {}, id="fractional-tokens"),
        pytest.param({"completion_tokens": -1, "cost": -0.1}, {}, id="negative"),
        pytest.param({"prompt_tokens": True, "cost": "0.1"}, {}, id="wrong-types"),
        pytest.param({"cost": float("inf")}, {}, id="infinite"),
        pytest.param({"cost": 0}, {"cost": 0.0}, id="free"),
        pytest.param({"tokens": 5, "model": "m"}, {}, id="other-names"),
    ],
)
def test_usage_reads_the_documented_names(
    metadata: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert costs.usage(metadata) == expected


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        pytest.param([5.0], 95, 5.0, id="one"),
        pytest.param([1.0, 2.0], 50, 1.5, id="two-median"),
        # rank (4 - 1) * 0.95 = 2.85: 3 + 0.85 * (4 - 3)
        pytest.param([4.0, 1.0, 3.0, 2.0], 95, 3.85, id="four-p95"),
        # rank 19 * 0.95 = 18.05 in 1..20: 19 + 0.05
        pytest.param([float(v) for v in range(1, 21)], 95, 19.05, id="twenty-p95"),
        pytest.param([1.0, 1.0, 1.0, 10.0], 50, 1.0, id="ties"),
        pytest.param([2.0, 8.0], 100, 8.0, id="max"),
        pytest.param([2.0, 8.0], 0, 2.0, id="min"),
    ],
)
def test_percentile_by_hand(values: list[float], q: float, expected: float) -> None:
    assert costs.percentile(values, q) == pytest.approx(expected)


def test_percentile_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="no values"):
        costs.percentile([], 50)


def test_usage_per_case_is_the_mean_of_its_calls_and_totals_count_every_call() -> None:
    records = [
        spending("a", (1.0, 3.0), tokens=((100, 20), (80, 20)), cost=(0.002, 0.004)),
        spending("b", (4.0,), tokens=((50, 10),), cost=(0.001,)),
        spending("c", (6.0,)),  # said nothing about tokens or cost
    ]
    found = costs.usage_of(records)
    # case latencies 2.0, 4.0, 6.0: p50 4.0; p95 at rank 1.9: 4 + 0.9 * 2
    assert found == Usage(
        cases=3,
        calls=4,
        latency_p50_s=4.0,
        latency_p95_s=5.8,
        tokens_per_case=85.0,  # (110 + 60) / the 2 cases that reported tokens
        tokens_total=280,
        cost_per_case=0.002,  # (0.003 + 0.001) / 2
        cost_total=0.007,
    )


def test_usage_of_cases_that_report_nothing() -> None:
    found = costs.usage_of([spending("a", (0.5,))])
    assert (found.tokens_per_case, found.tokens_total, found.cost_per_case) == (None, None, None)
    assert found.latency_p95_s == 0.5


def test_skipped_repeats_spend_nothing() -> None:
    record = spending("a", (1.0, 9.0), cost=(0.01, 0.09))
    record.repeats[1].outcome = "skipped"
    assert costs.spent(record).per_call == {"latency_s": 1.0, "cost": 0.01}


@pytest.mark.parametrize(
    ("budgets", "fired"),
    [
        pytest.param(BudgetSettings(), [], id="none-set"),
        pytest.param(BudgetSettings(latency_p95_s=5.8), [], id="latency-at-limit"),
        pytest.param(BudgetSettings(latency_p95_s=5.79), ["p95 latency 5.8s"], id="latency-over"),
        pytest.param(BudgetSettings(tokens_per_case=80), [], id="tokens-at-limit"),
        pytest.param(
            BudgetSettings(tokens_per_case=79.9), ["tokens per case 80"], id="tokens-over"
        ),
        pytest.param(BudgetSettings(cost_per_case=0.002), [], id="cost-at-limit"),
        pytest.param(BudgetSettings(cost_per_case=0.0019), ["cost per case 0.002"], id="cost-over"),
    ],
)
def test_budget_events_at_their_boundary(budgets: BudgetSettings, fired: list[str]) -> None:
    run = Usage(cases=3, latency_p95_s=5.8, tokens_per_case=80.0, cost_per_case=0.002)
    events = costs.budget_events(run, budgets)
    assert [e.event for e in events] == ["over_budget"] * len(fired)
    assert [e.detail.split(" > ")[0] for e in events] == fired


def test_a_budget_on_a_figure_nobody_reported_is_not_judged() -> None:
    assert costs.budget_events(Usage(cases=1), BudgetSettings(cost_per_case=0.0)) == []


BASELINE = {"a": {"cost": 0.002, "latency_s": 1.0}, "b": {"cost": 0.002}, "gone": {"cost": 9.0}}


@pytest.mark.parametrize(
    ("now", "max_increase", "fired"),
    [
        # shared a and b: 0.004 -> 0.005 is a 25% rise; "gone" and "new" are not compared
        pytest.param((0.0025, 0.0025), 0.25, [], id="rise-at-limit"),
        pytest.param((0.0025, 0.0025), 0.24, ["cost per case rose 25.0%"], id="rise-over"),
        pytest.param((0.001, 0.001), 0.0, [], id="a-fall"),
        pytest.param((0.0025, 0.0025), None, [], id="not-set"),
    ],
)
def test_rise_against_the_baseline_on_shared_cases(
    now: tuple[float, float], max_increase: float | None, fired: list[str]
) -> None:
    records = [
        spending("a", (1.0,), cost=(now[0],)),
        spending("b", (1.0,), cost=(now[1],)),
        spending("new", (1.0,), cost=(5.0,)),
    ]
    events = costs.rise_events(records, BASELINE, max_increase)
    assert [e.detail.split(" on ")[0] for e in events] == fired
    assert all(e.event == "cost_regression" and "2 shared cases" in e.detail for e in events)


def test_latency_rise_compares_only_the_cases_that_had_a_latency() -> None:
    records = [spending("a", (1.5,)), spending("b", (10.0,))]  # b had no latency before
    (event,) = costs.rise_events(records, BASELINE, 0.4)
    assert event.detail.startswith("latency per case rose 50.0% on 1 shared case (1 -> 1.5)")


def test_summary_carries_usage_and_fires_budget_events_with_their_action(tmp_path: Path) -> None:
    records = [
        spending("a", (1.0,), tokens=((100, 20),), cost=(0.003,)),
        spending("b", (2.0,), tokens=((40, 20),), cost=(0.001,), kind="behavior"),
    ]
    table = {
        "budgets": {"cost_per_case": 0.001, "latency_p95_s": 10},
        "gate": {"over_budget": "warn"},
        "checklist": {
            "cost": {
                "queries_per_month": 1000,
                "value_per_fixed_failure": 1,
                "expected_fix_rate": 0.5,
                "finetune_upfront": 100,
                "finetune_monthly": 10,
            }
        },
    }
    made = summary(tmp_path, records, table=table)
    assert made.usage["all"].cost_per_case == 0.002
    assert made.usage["knowledge"].tokens_total == 120
    assert made.usage["behavior"].latency_p50_s == 2.0
    (event,) = made.gate.events
    assert (event.event, event.action) == ("over_budget", "warn")
    assert made.gate.verdict == "pass"
    assert made.checklist[4].evidence.endswith("; measured cost per query 0.002")
    again = RunSummary.from_json(made.to_json())
    assert again.usage == made.usage
    assert {c.id: c.repeats[0].cost for c in again.cases} == {"a": 0.003, "b": 0.001}


def test_answer_cost_without_a_measured_figure_is_unchanged() -> None:
    assert "measured" not in answer_cost(None, 1, 10, 12)["evidence"]
    assert answer_cost(None, 1, 10, 12, measured_per_query=0.5)["evidence"].endswith(
        "measured cost per query 0.5"
    )


def test_the_baseline_cases_figures_come_from_the_stored_report(tmp_path: Path) -> None:
    before = summary(
        tmp_path,
        [spending("a", (1.0,), cost=(0.002,)), spending("b", (2.0,), tokens=((10, 5),))],
    )
    with open_store(str(tmp_path / "h.sqlite"), tmp_path) as store:
        report = before.to_json()
        report["git"] = {"sha": "a" * 40, "branch": "main"}
        store.write_run(report)
        context = read_context(store, "support-bot", "main", 5, exclude_run_id="run-2")
    assert context.baseline_measures == {
        "a": {"latency_s": 1.0, "cost": 0.002},
        "b": {"latency_s": 2.0, "tokens": 15.0},
    }
    table = {"budgets": {"max_increase": 0.5}}
    after = summary(tmp_path, [spending("a", (1.0,), cost=(0.004,))], table=table, history=context)
    assert [e.event for e in after.gate.events] == ["cost_regression"]
    assert after.gate.verdict == "fail"


def test_every_renderer_shows_the_usage_line_only_when_cases_ran(tmp_path: Path) -> None:
    from pytest_ragft.report.html import render_html
    from pytest_ragft.report.markdown import render_markdown
    from pytest_ragft.report.terminal import terminal_lines

    records = [spending("a", (0.5,), tokens=((1000, 200),), cost=(0.25,))]
    made = summary(tmp_path, records)
    line = "latency p50 500 ms, p95 500 ms; 1,200 tokens/case (1,200 in all); cost 0.25/case"
    assert f"usage: {line} (0.25 in all)" in terminal_lines(made)
    assert f"- all: {line} (0.25 in all)" in render_markdown(made)
    assert f"<strong>knowledge</strong>: {line} (0.25 in all)" in render_html(made)
    empty = summary(tmp_path, [])
    assert not [t for t in terminal_lines(empty) if t.startswith("usage:")]
    assert "Latency, tokens and cost" not in render_markdown(empty) + render_html(empty)
