"""A whole ragft project whose cases ask for deepeval metrics, judged offline, in a pytest
subprocess with deepeval's own pytest plugin on and off: the outcomes, the messages and the
report are the same either way, and the run never touches the network."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent

PIPELINE = """
def answer(question, **vars):
    return {"answer": question, "contexts": ["Refunds are accepted within 30 days."]}
"""

JUDGE_FACTORY = """

def make_judge():
    return CannedJudge(geval_scores={"please": 9}, geval_score=3)
"""

# Records, at the end of each process, what deepeval's settings were and whether a .env
# file was read.
ENV_PROBE = """
import json, os

def pytest_unconfigure(config):
    if hasattr(config, "workerinput"):
        return
    keys = ("DEEPEVAL_TELEMETRY_OPT_OUT", "DEEPEVAL_DISABLE_DOTENV", "DOTENV_PROBE")
    with open("env-probe.json", "w") as f:
        json.dump({k: os.environ.get(k) for k in keys}, f)
"""

TONE = {"metric": "GEval", "name": "tone", "criteria": "The answer is polite.", "threshold": 0.6}

RUNS = [
    pytest.param([], [], id="deepeval-plugin-on"),
    pytest.param(["-p", "no:deepeval"], [], id="deepeval-plugin-off"),
    pytest.param(["-p", "no:deepeval"], ["-n", "2"], id="deepeval-plugin-off-xdist"),
]


@pytest.fixture
def deepeval_project(project: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Two deepeval cases (one polite and passing, one rude and failing) and a plain one."""
    for name in ("DEEPEVAL_TELEMETRY_OPT_OUT", "DEEPEVAL_DISABLE_DOTENV", "DOTENV_PROBE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETGUARD_LOG", str(project.path / "network.log"))
    path = [str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(path))
    project.configure(judge="judge:make_judge")
    project.pipeline(PIPELINE)
    judge_source = (HERE / "canned_judge.py").read_text(encoding="utf-8") + JUDGE_FACTORY
    (project.path / "judge.py").write_text(judge_source, encoding="utf-8")
    (project.path / "conftest.py").write_text(textwrap.dedent(ENV_PROBE), encoding="utf-8")
    (project.path / ".env").write_text("DOTENV_PROBE=read\n", encoding="utf-8")
    project.cases(
        "tone",
        [
            {
                "id": "polite",
                "kind": "behavior",
                "input": "Could you please wait 30 days?",
                "expect": {"deepeval": [TONE, {"metric": "FaithfulnessMetric", "threshold": 0.5}]},
            },
            {
                "id": "rude",
                "kind": "behavior",
                "input": "Go away.",
                "expect": {"deepeval": [TONE]},
            },
            {"id": "plain", "kind": "knowledge", "input": "30 days", "expect": {"contains": "30"}},
        ],
    )
    return project


@pytest.mark.parametrize(("deepeval_plugin", "plugin_args"), RUNS)
def test_deepeval_cases_run_offline(
    deepeval_project: Any, deepeval_plugin: list[str], plugin_args: list[str]
) -> None:
    result = deepeval_project.pytester.runpytest_subprocess(
        "-p", "netguard", *deepeval_plugin, *plugin_args, timeout=180
    )
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*behavior case rude*", "*deepeval tone: score 0.30 < threshold 0.60: 'canned reason'"]
    )
    assert deepeval_project.outcomes() == {"polite": "passed", "rude": "failed", "plain": "passed"}
    cases = {c["id"]: c for c in deepeval_project.report()["cases"]}
    assert cases["polite"]["repeats"][0]["scores"] == {
        "deepeval:tone": pytest.approx(0.9),
        "deepeval:Faithfulness": 1.0,
    }
    assert cases["rude"]["messages"] == [
        "deepeval tone: score 0.30 < threshold 0.60: 'canned reason'"
    ]
    log = deepeval_project.path / "network.log"
    assert not log.exists(), log.read_text(encoding="utf-8")
    if not plugin_args:
        probe = json.loads((deepeval_project.path / "env-probe.json").read_text("utf-8"))
        assert probe["DEEPEVAL_TELEMETRY_OPT_OUT"] == "1"
        assert probe["DEEPEVAL_DISABLE_DOTENV"] == "1"
        if deepeval_plugin:  # deepeval's plugin, when on, imports deepeval before any conftest
            assert probe["DOTENV_PROBE"] is None
            assert not (deepeval_project.path / ".deepeval").exists()


def test_a_metric_spec_error_is_a_collection_error(deepeval_project: Any) -> None:
    path = deepeval_project.cases(
        "broken",
        """
        - id: broken
          kind: behavior
          input: hello
          expect:
            deepeval:
              - metric: GEval
                name: tone
                critera: polite
        """,
    )
    result = deepeval_project.pytester.runpytest_subprocess(
        "-p", "netguard", "-p", "no:deepeval", str(path), timeout=180
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "*evals/broken.yaml:*unknown argument 'critera' for GEval (did you mean 'criteria'?)*",
        ]
    )
