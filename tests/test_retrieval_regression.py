"""The ``retrieval_regression`` gate event: a category's retrieval fell by more than
``[tool.ragft.retrieval] max_drop`` against the latest baseline run, and an exact sign test on
the shared cases finds the fall significant at ``alpha``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import Project, case_yaml
from records import case, summary

from pytest_ragft.costs import case_measures
from pytest_ragft.model import CaseRecord
from pytest_ragft.report.jsonfile import write_json
from pytest_ragft.report.terminal import terminal_lines
from pytest_ragft.runsummary import RunSummary
from pytest_ragft.summarize import HistoryContext

TABLE: dict[str, Any] = {"retrieval": {"max_drop": 0.05}}


def measured(case_id: str, measures: dict[str, float], kind: str = "knowledge") -> CaseRecord:
    record = case(case_id, kind)
    record.retrieval = dict(measures)
    return record


def recall(value: float, k: float = 3.0) -> dict[str, float]:
    return {"hit": float(value > 0), "recall": value, "mrr": value, "ndcg": value, "k": k}


def history_of(baseline: list[CaseRecord]) -> HistoryContext:
    """A baseline run's per-case measures, read as the history store reads them."""
    return HistoryContext(
        prior_runs=1, baseline_run_id="base", baseline_measures=case_measures(baseline)
    )


def run(now: list[float], before: list[float], **options: Any) -> RunSummary:
    tmp = options.pop("tmp")
    table = {**TABLE, **options.pop("table", {})}
    records = [measured(f"c{i}", recall(v)) for i, v in enumerate(now)]
    baseline = [measured(f"c{i}", recall(v)) for i, v in enumerate(before)]
    return summary(tmp, records, table=table, history=history_of(baseline), **options)


def events(made: RunSummary) -> list[Any]:
    return [e for e in made.gate.events if e.event == "retrieval_regression"]


def test_fires_just_past_max_drop(tmp_path: Path) -> None:
    # 20 shared cases at recall 1.0; 5 fall to 0.8 and one to 0.99: the mean falls 0.0505
    now = [0.8] * 5 + [0.99] + [1.0] * 14
    made = run(now, [1.0] * 20, tmp=tmp_path)
    (event,) = events(made)
    assert event.action == "fail" and event.category == "knowledge"
    assert event.detail == (
        "knowledge recall@k 1.00 -> 0.95 (-0.05) on 20 shared cases, exact sign test 6 down, "
        "0 up, 14 tied, p = 0.0156, more than max_drop 0.05 at alpha 0.05"
    )
    assert made.gate.verdict == "fail"
    assert "retrieval_regression: knowledge recall@k" in made.gate.reason
    write_json(made.to_json(), tmp_path / "report.json")  # the event is in the schema


def test_not_at_max_drop(tmp_path: Path) -> None:
    # 5 of 20 fall by 0.2: a drop of exactly 0.05, significant (p = 1/32) but within the limit
    made = run([0.8] * 5 + [1.0] * 15, [1.0] * 20, tmp=tmp_path)
    assert events(made) == []
    assert made.gate.verdict == "pass"


def test_not_when_the_fall_is_not_significant(tmp_path: Path) -> None:
    # a drop of 0.2, but 4 falls and no rise: p = 1/16 > alpha 0.05
    made = run([0.0] * 4 + [1.0] * 16, [1.0] * 20, tmp=tmp_path)
    assert events(made) == []
    # five falls and one rise: p = 7/64, still not significant
    made = run([0.0] * 5 + [1.0] * 15, [1.0] * 5 + [0.5] + [1.0] * 14, tmp=tmp_path)
    assert events(made) == []


def test_a_looser_alpha_lets_four_falls_count(tmp_path: Path) -> None:
    made = run(
        [0.0] * 4 + [1.0] * 16, [1.0] * 20, tmp=tmp_path, table={"thresholds": {"alpha": 0.1}}
    )
    (event,) = events(made)
    assert "4 down, 0 up, 16 tied, p = 0.0625" in event.detail


def test_not_without_a_baseline(tmp_path: Path) -> None:
    records = [measured(f"c{i}", recall(0.0)) for i in range(20)]
    assert events(summary(tmp_path, records, table=TABLE)) == []
    assert events(summary(tmp_path, records, table=TABLE, history=HistoryContext())) == []


def test_max_drop_defaults_to_five_points_and_off_turns_the_event_off(tmp_path: Path) -> None:
    records = [measured(f"c{i}", recall(0.0)) for i in range(20)]
    baseline = [measured(f"c{i}", recall(1.0)) for i in range(20)]
    (event,) = events(summary(tmp_path, records, history=history_of(baseline)))
    assert "more than max_drop 0.05" in event.detail
    off = {"gate": {"retrieval_regression": "off"}}
    assert events(summary(tmp_path, records, table=off, history=history_of(baseline))) == []


def test_fact_recall_where_no_case_names_gold_ids(tmp_path: Path) -> None:
    records = [measured(f"b{i}", {"fact_recall": 0.0}, "behavior") for i in range(6)]
    records += [measured(f"b{i}", {"fact_recall": 1.0}, "behavior") for i in range(6, 12)]
    baseline = [measured(f"b{i}", {"fact_recall": 1.0}, "behavior") for i in range(12)]
    (event,) = events(summary(tmp_path, records, table=TABLE, history=history_of(baseline)))
    assert event.category == "behavior"
    assert event.detail.startswith("behavior fact recall 1.00 -> 0.50 (-0.50) on 12 shared cases")


def test_only_cases_cut_at_the_same_k_are_compared(tmp_path: Path) -> None:
    records = [measured(f"c{i}", recall(0.0, k=3.0)) for i in range(10)]
    baseline = [measured(f"c{i}", recall(1.0, k=5.0)) for i in range(10)]
    made = summary(tmp_path, records, table=TABLE, history=history_of(baseline))
    assert events(made) == []  # recall@3 against recall@5 says nothing


def test_only_shared_cases_count(tmp_path: Path) -> None:
    records = [measured(f"new{i}", recall(0.0)) for i in range(10)]
    records += [measured(f"c{i}", recall(1.0)) for i in range(10)]
    baseline = [measured(f"c{i}", recall(1.0)) for i in range(10)]
    assert events(summary(tmp_path, records, table=TABLE, history=history_of(baseline))) == []


@pytest.mark.parametrize(
    ("action", "verdict", "line"),
    [
        pytest.param("warn", "pass", "warning: retrieval_regression", id="warn"),
        pytest.param("comment", "pass", "notice: retrieval_regression", id="comment"),
        pytest.param("off", "pass", None, id="off"),
    ],
)
def test_the_action_is_configured(
    tmp_path: Path, action: str, verdict: str, line: str | None
) -> None:
    made = run(
        [0.0] * 6 + [1.0] * 14,
        [1.0] * 20,
        tmp=tmp_path,
        table={"gate": {"retrieval_regression": action}},
    )
    assert made.gate.verdict == verdict
    shown = [t for t in terminal_lines(made) if "retrieval_regression" in t]
    assert shown[0].startswith(line) if line else not shown, shown


RETRIEVER = """
from pathlib import Path

def answer(question):
    n = int(question.split()[-1])
    lost = Path("mode.txt").read_text() == "broken" and n < 6  # half the gold passages go
    sources = ["other", "x" if lost else f"doc{n}"]
    return {"answer": f"answer {n}", "contexts": ["a", "b"], "sources": sources}
"""


def test_a_whole_run_against_the_stored_baseline(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_REF_NAME", "main")
    project.configure(
        history=".ragft/history.sqlite",
        thresholds={"knowledge": 0.0, "behavior": 0.0},
        retrieval={"max_drop": 0.05},
    )
    project.pipeline(RETRIEVER)
    project.cases(
        "k",
        [
            case_yaml(
                f"q{n}",
                "knowledge",
                f"question {n}",
                {"contains": f"answer {n}"},
                gold_sources=[f"doc{n}"],
            )
            for n in range(12)
        ],
    )
    (project.path / "mode.txt").write_text("healthy")
    assert project.run().ret == 0
    assert project.report()["gate"]["events"] == []
    (project.path / "mode.txt").write_text("broken")
    result = project.run()
    assert result.ret == 1  # every answer still passes: the retrieval event fails the run
    report = project.report()
    assert report["categories"]["knowledge"]["passed"] == 12
    (event,) = report["gate"]["events"]
    assert event == {
        "event": "retrieval_regression",
        "category": "knowledge",
        "action": "fail",
        "detail": "knowledge recall@k 1.00 -> 0.50 (-0.50) on 12 shared cases, exact sign test "
        "6 down, 0 up, 6 tied, p = 0.0156, more than max_drop 0.05 at alpha 0.05",
    }
    result.stdout.fnmatch_lines(["gate: FAIL (retrieval_regression: knowledge recall@k*"])
