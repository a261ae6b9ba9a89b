"""The judge cache: a metric is judged once per distinct question (metric spec, judge model and
the case fields the metric reads), kept in the history store, bypassed by ``rejudge``, safe in
threads and across xdist workers, and counted in the reports."""

from __future__ import annotations

import concurrent.futures
import json
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from canned_judge import CannedJudge
from test_deepeval_checks import GEVAL_TONE, make_case, result
from test_deepeval_project import HERE

from pytest_ragft import deepeval_checks as dc
from pytest_ragft.model import CheckOutcome, judge_counts

FAITHFUL = {"metric": "FaithfulnessMetric", "threshold": 0.5}


class NamedJudge(CannedJudge):
    """The canned judge under another model name."""

    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.other_name = name

    def get_model_name(self, *args: Any, **kwargs: Any) -> str:
        return self.other_name


def checker(judge: Any, history: str, root: Path, *, rejudge: bool = False) -> dc.DeepevalChecker:
    """A checker of one process: its own judge and its own (lazily opened) cache."""
    made = dc.DeepevalChecker("", root, history=history, rejudge=rejudge)
    made._judge, made._judge_loaded = judge, True
    return made


def check(made: dc.DeepevalChecker, specs: list[dict[str, Any]], answer: str) -> CheckOutcome:
    [outcome] = made(make_case(specs), result(answer))
    return outcome


@pytest.fixture
def store(tmp_path: Path) -> str:
    return str(tmp_path / "history.sqlite")


def test_an_unchanged_answer_is_not_judged_again(tmp_path: Path, store: str) -> None:
    first_judge, second_judge = CannedJudge(geval_score=3), CannedJudge(geval_score=9)
    judged = check(checker(first_judge, store, tmp_path), [GEVAL_TONE], "You have 30 days.")
    assert first_judge.calls and judged.judged == "called"
    again = check(checker(second_judge, store, tmp_path), [GEVAL_TONE], "You have 30 days.")
    assert second_judge.calls == []  # a hit: the judge was not asked at all
    assert again.judged == "cached"
    assert (again.passed, again.message, again.score) == (judged.passed, judged.message, 0.3)


def test_a_changed_answer_is_judged(tmp_path: Path, store: str) -> None:
    check(checker(CannedJudge(), store, tmp_path), [GEVAL_TONE], "You have 30 days.")
    judge = CannedJudge()
    changed = check(checker(judge, store, tmp_path), [GEVAL_TONE], "You have 31 days.")
    assert judge.calls and changed.judged == "called"


def test_a_field_the_metric_does_not_read_does_not_make_a_miss(tmp_path: Path, store: str) -> None:
    """GEval by default reads the input and the answer, not the retrieved contexts."""
    check(checker(CannedJudge(), store, tmp_path), [GEVAL_TONE], "You have 30 days.")
    judge = CannedJudge()
    made = checker(judge, store, tmp_path)
    [outcome] = made(make_case([GEVAL_TONE]), result(contexts=("Another passage.",)))
    assert judge.calls == [] and outcome.judged == "cached"
    [faithful] = made(make_case([FAITHFUL]), result(contexts=("Another passage.",)))
    assert judge.calls and faithful.judged == "called"  # Faithfulness reads the contexts


@pytest.mark.parametrize(
    ("judge", "spec"),
    [
        pytest.param(NamedJudge("another-judge"), GEVAL_TONE, id="another-model"),
        pytest.param(CannedJudge(), {**GEVAL_TONE, "threshold": 0.9}, id="another-threshold"),
        pytest.param(CannedJudge(), {**GEVAL_TONE, "criteria": "Terse."}, id="other-criteria"),
    ],
)
def test_another_model_or_metric_setting_is_a_miss(
    tmp_path: Path, store: str, judge: CannedJudge, spec: dict[str, Any]
) -> None:
    check(checker(CannedJudge(), store, tmp_path), [GEVAL_TONE], "You have 30 days.")
    outcome = check(checker(judge, store, tmp_path), [spec], "You have 30 days.")
    assert judge.calls and outcome.judged == "called"


def test_rejudge_calls_the_judge_again_and_stores_the_fresh_result(
    tmp_path: Path, store: str
) -> None:
    check(checker(CannedJudge(geval_score=3), store, tmp_path), [GEVAL_TONE], "Hello.")
    judge = CannedJudge(geval_score=9)
    fresh = check(checker(judge, store, tmp_path, rejudge=True), [GEVAL_TONE], "Hello.")
    assert judge.calls and fresh.judged == "called" and fresh.score == 0.9
    later_judge = CannedJudge(geval_score=1)
    later = check(checker(later_judge, store, tmp_path), [GEVAL_TONE], "Hello.")
    assert later_judge.calls == [] and later.score == 0.9  # the fresh result replaced the old


def test_without_a_history_store_every_metric_is_judged(tmp_path: Path) -> None:
    judge = CannedJudge()
    made = checker(judge, "", tmp_path)
    outcomes = [check(made, [GEVAL_TONE], "Hello.") for _ in range(2)]
    assert [o.judged for o in outcomes] == ["called", "called"]
    assert [key for key, _ in judge.calls].count("g_eval.ReasonScore") == 2  # scored twice
    assert list(tmp_path.iterdir()) == []  # no store, no file


def test_a_metric_that_raised_is_not_cached(tmp_path: Path, store: str) -> None:
    made = checker(CannedJudge(), store, tmp_path)
    [broken] = made(make_case([FAITHFUL]), result(contexts=()))
    assert not broken.passed and broken.judged == "called"
    judge = CannedJudge()
    [again] = checker(judge, store, tmp_path)(make_case([FAITHFUL]), result(contexts=()))
    assert again.judged == "called"


def test_the_cache_serves_threads_of_one_process(tmp_path: Path, store: str) -> None:
    answers = [f"answer {i}" for i in range(12)]
    judge = CannedJudge()
    made = checker(judge, store, tmp_path)
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        first = list(pool.map(lambda a: check(made, [GEVAL_TONE], a), answers))
    assert {o.judged for o in first} == {"called"}
    calls = len(judge.calls)
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        second = list(pool.map(lambda a: check(made, [GEVAL_TONE], a), answers))
    assert {o.judged for o in second} == {"cached"} and len(judge.calls) == calls
    engine = sa.create_engine(f"sqlite:///{store}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM ragft_judge_cache")).scalar() == 12
    engine.dispose()


def test_judge_counts_of_outcomes() -> None:
    outcomes = [
        CheckOutcome("contains", True),
        CheckOutcome("deepeval:tone", True, judged="called"),
        CheckOutcome("deepeval:f", False, judged="cached"),
        CheckOutcome("deepeval:g", True, judged="cached"),
    ]
    assert judge_counts(outcomes) == {"calls": 1, "saved": 2}
    assert judge_counts(outcomes[:1]) is None


# --- a whole project, in pytest subprocesses --------------------------------------------------

COUNTING_JUDGE = """

class CountingJudge(CannedJudge):
    def generate(self, prompt, schema=None, **kwargs):
        with open("judge-calls.log", "a") as log:
            log.write(getattr(schema, "__name__", "none") + "\\n")
        return super().generate(prompt, schema=schema, **kwargs)


def make_judge():
    return CountingJudge(geval_scores={"please": 9}, geval_score=3)
"""


@pytest.fixture
def judged_project(project: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("NETGUARD_LOG", str(project.path / "network.log"))
    path = [str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(path))
    project.configure(
        judge="judge:make_judge",
        history=".ragft/history.sqlite",
        concurrency=4,
        report={"json": "ragft-report.json", "markdown": "ragft-report.md"},
    )
    project.pipeline(
        "def answer(question, **vars):\n"
        '    return {"answer": question, "contexts": ["Refunds within 30 days."]}\n'
    )
    source = (HERE / "canned_judge.py").read_text(encoding="utf-8") + COUNTING_JUDGE
    (project.path / "judge.py").write_text(source, encoding="utf-8")
    tone = {**GEVAL_TONE, "threshold": 0.6}
    project.cases(
        "tone",
        [
            {
                "id": f"case-{i}",
                "kind": "behavior",
                "input": f"Could you please wait {i} days?" if i % 2 else f"Go away {i}.",
                "expect": {"deepeval": [tone]},
            }
            for i in range(6)
        ],
    )
    return project


def _run(project: Any, *args: str) -> tuple[dict[str, Any], int, Any]:
    log = project.path / "judge-calls.log"
    log.unlink(missing_ok=True)
    ran = project.pytester.runpytest_subprocess(
        "-p", "netguard", "-p", "no:deepeval", *args, timeout=240
    )
    ran.assert_outcomes(passed=3, failed=3)
    prompts = log.read_text().splitlines() if log.exists() else []
    return project.report(), prompts.count("ReasonScore"), ran  # one score prompt per judging


@pytest.mark.parametrize("plugin_args", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_a_second_run_pays_no_judge_and_rejudge_pays_again(
    judged_project: Any, plugin_args: list[str]
) -> None:
    first, first_calls, ran = _run(judged_project, *plugin_args)
    assert first["judge"] == {"calls": 6, "saved": 0} and first_calls == 6
    ran.stdout.fnmatch_lines(["judge: 6 calls made"])
    second, second_calls, ran = _run(judged_project, *plugin_args)
    assert second["judge"] == {"calls": 0, "saved": 6} and second_calls == 0
    ran.stdout.fnmatch_lines(["judge: 0 calls made, 6 saved by the judge cache"])
    assert [c["outcome"] for c in second["cases"]] == [c["outcome"] for c in first["cases"]]
    markdown = (judged_project.path / "ragft-report.md").read_text(encoding="utf-8")
    assert "**Judge**: 0 calls made, 6 saved by the judge cache" in markdown
    third, third_calls, _ = _run(judged_project, *plugin_args, "--ragft-rejudge")
    assert third["judge"] == {"calls": 6, "saved": 0} and third_calls == 6
    assert not (judged_project.path / "network.log").exists()


def test_rejudge_from_the_environment_and_no_cache_without_history(
    judged_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(judged_project)
    monkeypatch.setenv("RAGFT_REJUDGE", "true")
    report, calls, _ = _run(judged_project)
    assert report["judge"] == {"calls": 6, "saved": 0} and calls == 6
    monkeypatch.delenv("RAGFT_REJUDGE")
    report, calls, ran = _run(judged_project, "--ragft-no-history")
    assert report["judge"] == {"calls": 6, "saved": 0} and calls == 6
    assert "judge cache" not in ran.stdout.str()


def test_a_run_without_judged_checks_has_no_judge_line(project: Any) -> None:
    project.configure()
    project.pipeline("def answer(question, **vars):\n    return question\n")
    project.cases(
        "plain", [{"id": "p", "kind": "knowledge", "input": "30", "expect": {"contains": "30"}}]
    )
    ran = project.pytester.runpytest_subprocess("-p", "no:deepeval", timeout=120)
    assert "judge:" not in ran.stdout.str()
    assert "judge" not in json.loads((project.path / "ragft-report.json").read_text())
