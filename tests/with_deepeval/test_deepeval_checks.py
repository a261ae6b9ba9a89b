"""The deepeval check as plain functions: spec validation, the test case mapping, the judge,
scores against thresholds, and that nothing reaches the network."""

from __future__ import annotations

import concurrent.futures
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from canned_judge import CannedJudge
from netguard import NetworkGuard

from pytest_ragft import deepeval_checks as dc
from pytest_ragft.model import Case, CheckOutcome, Result

CONTEXTS = ("Refunds are accepted within 30 days of purchase.",)
GEVAL_TONE = {"metric": "GEval", "name": "tone", "criteria": "The answer is polite."}


def make_case(specs: list[dict[str, Any]], **fields: Any) -> Case:
    values: dict[str, Any] = {
        "id": "refund",
        "kind": "knowledge",
        "input": "How long do I have to return an item?",
        "expect": {"deepeval": specs},
        "facts": ("30 days",),
    }
    values.update(fields)
    return Case(**values)


def result(answer: str = "You have 30 days.", contexts: tuple[str, ...] = CONTEXTS) -> Result:
    return Result(answer=answer, contexts=contexts)


def checker_with(judge: Any) -> dc.DeepevalChecker:
    """A checker whose judge is the given object, without going through the setting."""
    checker = dc.DeepevalChecker("", Path.cwd())
    checker._judge, checker._judge_loaded = judge, True
    return checker


def only(outcomes: list[CheckOutcome]) -> CheckOutcome:
    assert len(outcomes) == 1, outcomes
    return outcomes[0]


# --- environment ---------------------------------------------------------------------------


def test_ensure_env_switches_telemetry_and_dotenv_off() -> None:
    environ: dict[str, str] = {}
    dc.ensure_env(environ)
    assert environ == {"DEEPEVAL_TELEMETRY_OPT_OUT": "1", "DEEPEVAL_DISABLE_DOTENV": "1"}


def test_ensure_env_keeps_what_the_user_set() -> None:
    environ = {"DEEPEVAL_TELEMETRY_OPT_OUT": "0", "DEEPEVAL_DISABLE_DOTENV": "false"}
    dc.ensure_env(environ)
    assert environ == {"DEEPEVAL_TELEMETRY_OPT_OUT": "0", "DEEPEVAL_DISABLE_DOTENV": "false"}


def test_the_module_imports_deepeval_only_when_a_metric_needs_it() -> None:
    code = textwrap.dedent(
        """
        import sys
        from pytest_ragft import deepeval_checks as dc
        checker = dc.make_checker("", __import__("pathlib").Path("."))
        problems = dc.validate_specs([{"threshold": 2}, "GEval"])
        assert problems, problems
        assert "deepeval" not in sys.modules, "deepeval was imported"
        print("\\n".join(problems))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "deepeval[0].metric: missing" in out.stdout
    assert "deepeval[0].threshold: expected a number from 0 to 1, got an integer (2)" in out.stdout
    assert "deepeval[1]: expected a metric {metric: ClassName, ...}, got a string" in out.stdout


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("specs", "expected"),
    [
        pytest.param(
            [{"metric": "Faithfulnes"}],
            [
                "deepeval[0].metric: unknown deepeval metric 'Faithfulnes' "
                "(did you mean 'FaithfulnessMetric'?); deepeval offers: ",
                "AnswerRelevancyMetric, ",
                "GEval, ",
            ],
            id="unknown-metric",
        ),
        pytest.param(
            [{"metric": "GEval", "name": "tone", "evaluation_steps": ["Polite?"], "critera": "x"}],
            [
                "deepeval[0].critera: unknown argument 'critera' for GEval "
                "(did you mean 'criteria'?); GEval accepts: ",
                "evaluation_steps",
                "threshold",
            ],
            id="unknown-argument",
        ),
        pytest.param(
            [{"metric": "FaithfulnessMetric", "treshold": 0.7}],
            ["deepeval[0].treshold: unknown argument 'treshold' for FaithfulnessMetric"],
            id="unknown-argument-rag-metric",
        ),
        pytest.param(
            [{"metric": "GEval", "name": "tone"}],
            ["deepeval[0].criteria: missing: GEval needs criteria", "or evaluation_steps"],
            id="geval-without-criteria",
        ),
        pytest.param(
            [{"metric": "GEval", "criteria": "polite"}],
            ["deepeval[0].name: missing: GEval needs a name"],
            id="geval-without-name",
        ),
        pytest.param(
            [{**GEVAL_TONE, "evaluation_params": ["input", "answer"]}],
            ["deepeval[0].evaluation_params: unknown test case field 'answer'", "actual_output"],
            id="geval-unknown-param",
        ),
        pytest.param(
            [{"metric": "AnswerRelevancy"}, {"metric": "AnswerRelevancyMetric"}],
            ["deepeval[1].name: a second metric named 'AnswerRelevancy' (also deepeval[0])"],
            id="duplicate-name",
        ),
        pytest.param(
            [{"metric": "FaithfulnessMetric", "threshold": 1.5}],
            ["deepeval[0].threshold: expected a number from 0 to 1, got a number (1.5)"],
            id="threshold-out-of-range",
        ),
        pytest.param(
            {"metric": "GEval"},
            ["deepeval: expected a list of metrics"],
            id="not-a-list",
        ),
        pytest.param([], ["deepeval: expected a list of metrics", "got an empty list"], id="empty"),
        pytest.param(
            [{"metric": "GEval", "name": "tone", "evaluation_steps": ["Polite?", 3]}],
            [
                "deepeval[0].evaluation_steps: expected a non-empty list of strings, got a list "
                "whose item [1] is an integer (3)"
            ],
            id="geval-stray-step",
        ),
        pytest.param(
            [{"metric": "GEval", "name": "tone", "criteria": ""}],
            ["deepeval[0].criteria: expected a non-empty string, got a string ('')"],
            id="geval-empty-criteria",
        ),
    ],
)
def test_validate_specs_reports(specs: Any, expected: list[str]) -> None:
    problems = dc.validate_specs(specs)
    assert len(problems) == 1, problems
    for part in expected:
        assert part in problems[0]


@pytest.mark.parametrize(
    "specs",
    [
        pytest.param([GEVAL_TONE], id="geval-criteria"),
        pytest.param(
            [{"metric": "GEval", "name": "tone", "evaluation_steps": ["Is it polite?"]}],
            id="geval-steps",
        ),
        pytest.param(
            [{**GEVAL_TONE, "evaluation_params": ["input", "ACTUAL_OUTPUT", "expected_output"]}],
            id="geval-params",
        ),
        pytest.param([{"metric": "FaithfulnessMetric", "threshold": 0.7}], id="class-name"),
        pytest.param([{"metric": "Faithfulness", "include_reason": True}], id="short-name"),
        pytest.param(
            [{"metric": "AnswerRelevancy"}, {"metric": "AnswerRelevancy", "name": "strict"}],
            id="renamed-twin",
        ),
    ],
)
def test_validate_specs_accepts(specs: Any) -> None:
    assert dc.validate_specs(specs) == []


def test_offered_metrics_are_the_single_turn_metric_classes() -> None:
    offered = dc.metric_classes()
    assert {"GEval", "FaithfulnessMetric", "ContextualRecallMetric"} <= set(offered)
    assert "BaseMetric" not in offered
    assert "ConversationalGEval" not in offered  # a conversational metric, not for one answer


# --- the test case -------------------------------------------------------------------------


def test_a_case_and_its_result_map_to_an_llm_test_case() -> None:
    case = make_case(
        [GEVAL_TONE],
        input=({"role": "system", "content": "Be brief."}, {"role": "user", "content": "Refund?"}),
        gold_contexts=("Refunds: 30 days.",),
        tags=("refunds", "policy"),
    )
    tc = dc.to_test_case(case, result("Within 30 days.", ("ctx one", "ctx two")))
    assert tc.input == "Refund?"
    assert tc.actual_output == "Within 30 days."
    assert tc.expected_output == "30 days"
    assert tc.retrieval_context == ["ctx one", "ctx two"]
    assert tc.context == ["Refunds: 30 days."]
    assert tc.tags == ["refunds", "policy"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({"facts": ("30 days", "receipt")}, "30 days", id="first-fact"),
        pytest.param(
            {"facts": (), "expect": {"contains": ["30 days", "receipt"], "deepeval": []}},
            "30 days",
            id="contains-list",
        ),
        pytest.param(
            {"facts": (), "expect": {"contains": "thirty", "deepeval": []}},
            "thirty",
            id="contains-string",
        ),
        pytest.param({"facts": ()}, None, id="nothing"),
    ],
)
def test_expected_output(fields: dict[str, Any], expected: str | None) -> None:
    assert dc.expected_output(make_case([], **fields)) == expected


def test_empty_contexts_and_tags_become_none() -> None:
    tc = dc.to_test_case(make_case([]), result(contexts=()))
    assert tc.retrieval_context is None
    assert tc.context is None
    assert tc.tags is None


# --- metrics -------------------------------------------------------------------------------


def test_geval_defaults_to_input_and_actual_output_and_runs_synchronously() -> None:
    judge = CannedJudge()
    metric = dc.build_metric(GEVAL_TONE, judge)
    assert [p.value for p in metric.evaluation_params] == ["input", "actual_output"]
    assert metric.async_mode is False
    assert metric.model is judge


@pytest.mark.parametrize(
    ("geval_score", "passed", "message"),
    [
        pytest.param(8, True, "deepeval tone: score 0.80 >= threshold 0.60: 'Polite enough.'"),
        pytest.param(4, False, "deepeval tone: score 0.40 < threshold 0.60: 'Polite enough.'"),
    ],
)
def test_geval_against_its_threshold(geval_score: float, passed: bool, message: str) -> None:
    judge = CannedJudge(geval_score=geval_score, reason="Polite enough.")
    outcome = only(checker_with(judge)(make_case([{**GEVAL_TONE, "threshold": 0.6}]), result()))
    expected = CheckOutcome("deepeval:tone", passed, message, geval_score / 10, judged="called")
    assert outcome == expected
    prompts = [prompt for key, prompt in judge.calls if key == "g_eval.ReasonScore"]
    assert "How long do I have to return an item?" in prompts[0]
    assert "You have 30 days." in prompts[0]


@pytest.mark.parametrize(
    ("threshold", "passed", "comparison"),
    [
        pytest.param(0.6, True, ">= threshold 0.60", id="above"),
        pytest.param(0.7, False, "< threshold 0.70", id="below"),
    ],
)
def test_faithfulness_against_its_threshold(
    threshold: float, passed: bool, comparison: str
) -> None:
    judge = CannedJudge(verdicts=("yes", "yes", "no"), reason="One claim is not supported.")
    case = make_case([{"metric": "FaithfulnessMetric", "threshold": threshold}])
    outcome = only(checker_with(judge)(case, result()))
    assert outcome.check == "deepeval:Faithfulness"
    assert outcome.passed is passed
    assert outcome.score == pytest.approx(2 / 3)
    assert outcome.message == (
        f"deepeval Faithfulness: score 0.67 {comparison}: 'One claim is not supported.'"
    )
    truths = [prompt for key, prompt in judge.calls if key == "faithfulness.Truths"]
    assert CONTEXTS[0] in truths[0]


def test_contextual_recall_reads_the_expected_output() -> None:
    judge = CannedJudge(verdicts=("no",), reason="The context lacks the refund window.")
    case = make_case([{"metric": "ContextualRecall", "threshold": 0.5}])
    outcome = only(checker_with(judge)(case, result()))
    assert (outcome.passed, outcome.score) == (False, 0.0)
    assert "deepeval ContextualRecall: score 0.00 < threshold 0.50" in outcome.message
    verdict_prompt = next(p for k, p in judge.calls if k == "contextual_recall.Verdicts")
    assert "30 days" in verdict_prompt


def test_a_long_reason_is_shortened() -> None:
    judge = CannedJudge(reason="x" * 500)
    outcome = only(checker_with(judge)(make_case([GEVAL_TONE]), result()))
    assert outcome.message.endswith("…' (500 chars)")
    assert len(outcome.message) < 250


def test_several_metrics_give_one_outcome_each() -> None:
    specs = [GEVAL_TONE, {"metric": "FaithfulnessMetric"}, {"metric": "ContextualRecallMetric"}]
    outcomes = checker_with(CannedJudge())(make_case(specs), result())
    assert [o.check for o in outcomes] == [
        "deepeval:tone",
        "deepeval:Faithfulness",
        "deepeval:ContextualRecall",
    ]
    assert all(o.passed for o in outcomes)


def test_a_metric_that_raises_fails_and_names_the_exception() -> None:
    case = make_case([{"metric": "FaithfulnessMetric"}, GEVAL_TONE])
    faithfulness, tone = checker_with(CannedJudge())(case, result(contexts=()))
    assert faithfulness.passed is False
    assert faithfulness.message.startswith(
        "deepeval Faithfulness: raised MissingTestCaseParamsError: "
    )
    assert "retrieval_context" in faithfulness.message
    assert tone.passed is True


class BrokenJudge(CannedJudge):
    def generate(self, prompt: str, schema: Any = None, **kwargs: Any) -> str:
        raise RuntimeError("the judge is down")


def test_a_judge_that_raises_fails_the_metric() -> None:
    outcome = only(checker_with(BrokenJudge())(make_case([GEVAL_TONE]), result()))
    assert outcome == CheckOutcome(
        "deepeval:tone",
        False,
        "deepeval tone: raised RuntimeError: the judge is down",
        judged="called",  # the judge was asked: a call made, and nothing cached
    )


def test_an_invalid_spec_fails_the_check_without_running_it() -> None:
    outcome = only(checker_with(CannedJudge())(make_case([{"metric": "Nope"}]), result()))
    assert outcome.check == "deepeval"
    assert not outcome.passed
    assert "unknown deepeval metric 'Nope'" in outcome.message


def test_metrics_are_reused_per_spec() -> None:
    checker = checker_with(CannedJudge())
    case = make_case([GEVAL_TONE])
    for _ in range(3):
        assert only(checker(case, result())).passed
    assert [len(idle) for idle in checker._pool.values()] == [1]


def test_concurrent_checks_keep_their_own_scores() -> None:
    """Metric objects hold their score, so two threads must never share one."""

    class SlowJudge(CannedJudge):
        def generate(self, prompt: str, schema: Any = None, **kwargs: Any) -> str:
            import time

            time.sleep(0.01)
            self.geval_score = 9 if "polite answer" in prompt else 2
            return super().generate(prompt, schema=schema, **kwargs)

    checker = checker_with(SlowJudge())
    case = make_case([GEVAL_TONE])
    answers = ["a polite answer", "a rude answer"] * 8
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda a: only(checker(case, result(a))), answers))
    assert [o.passed for o in outcomes] == [a == "a polite answer" for a in answers]


# --- the judge setting ---------------------------------------------------------------------

JUDGE_MODULE = """
from canned_judge import CannedJudge

def make_judge():
    return CannedJudge(geval_score=7)

def make_text():
    return "gpt-4o"

def make_broken():
    raise RuntimeError("no model file")

not_callable = 3
"""


@pytest.fixture
def judge_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "my_judges.py").write_text(JUDGE_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    monkeypatch.delitem(sys.modules, "my_judges", raising=False)
    return tmp_path


def test_the_judge_setting_is_passed_to_every_metric(judge_dir: Path) -> None:
    checker = dc.make_checker("my_judges:make_judge", judge_dir)
    specs = [GEVAL_TONE, {"metric": "FaithfulnessMetric"}]
    outcomes = checker(make_case(specs), result())
    assert [o.passed for o in outcomes] == [True, True]
    assert outcomes[0].score == pytest.approx(0.7)
    assert isinstance(checker, dc.DeepevalChecker)
    judge = checker.judge()
    assert isinstance(judge, CannedJudge)
    assert {m.model for idle in checker._pool.values() for m in idle} == {judge}


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        pytest.param(
            "my_judges:missing",
            "judge 'my_judges:missing': module 'my_judges' has no attribute 'missing'",
            id="no-attribute",
        ),
        pytest.param(
            "no_such_module:make",
            "judge 'no_such_module:make': module 'no_such_module'",
            id="no-module",
        ),
        pytest.param(
            "my_judges:not_callable",
            "judge 'my_judges:not_callable' is a int, not a callable",
            id="not-callable",
        ),
        pytest.param(
            "my_judges:make_text",
            "judge 'my_judges:make_text' returned a string ('gpt-4o'), not a deepeval model",
            id="wrong-type",
        ),
        pytest.param(
            "my_judges:make_broken",
            "judge 'my_judges:make_broken': calling it raised RuntimeError: no model file",
            id="factory-raises",
        ),
    ],
)
def test_a_bad_judge_is_named(judge_dir: Path, ref: str, message: str) -> None:
    with pytest.raises(dc.JudgeError) as excinfo:
        dc.load_judge(ref, judge_dir)
    assert str(excinfo.value).startswith(message)
    outcome = only(dc.make_checker(ref, judge_dir)(make_case([GEVAL_TONE]), result()))
    assert not outcome.passed
    assert outcome.message.startswith(f"deepeval tone: {message}")


def test_a_malformed_judge_setting_is_refused_at_once() -> None:
    with pytest.raises(
        dc.JudgeError, match=r"judge 'my_judges' is not of the form 'module:factory'"
    ):
        dc.make_checker("my_judges", Path.cwd())


def test_without_a_judge_deepeval_defaults_apply_and_a_missing_key_is_reported(
    monkeypatch: pytest.MonkeyPatch, no_network: NetworkGuard
) -> None:
    for name in ("OPENAI_API_KEY", "USE_OPENAI_MODEL", "USE_LOCAL_MODEL", "USE_AZURE_OPENAI"):
        monkeypatch.delenv(name, raising=False)
    outcome = only(dc.make_checker("", Path.cwd())(make_case([GEVAL_TONE]), result()))
    assert not outcome.passed
    assert outcome.message.startswith("deepeval tone: ")
    assert "Error" in outcome.message


# --- the network ---------------------------------------------------------------------------


def test_metrics_run_end_to_end_without_touching_the_network(
    no_network: NetworkGuard, judge_dir: Path
) -> None:
    checker = dc.make_checker("my_judges:make_judge", judge_dir)
    specs = [GEVAL_TONE, {"metric": "FaithfulnessMetric"}, {"metric": "ContextualRecallMetric"}]
    outcomes = checker(make_case(specs), result())
    assert [o.passed for o in outcomes] == [True, True, True]
    assert no_network.attempts == []


def test_the_guard_does_catch_a_connection(no_network: NetworkGuard) -> None:
    import socket

    with pytest.raises(OSError, match="network access refused"):
        socket.create_connection(("example.com", 443), timeout=1)
    assert no_network.attempts == ["create_connection ('example.com', 443)"]
