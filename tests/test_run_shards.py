"""Sharded jobs through pytest: ``--ragft-shard=K/N`` splits the eval cases, and ``ragft merge``
of the shards' JSON reports is the run one job would have made."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import USAGE, Project, case_yaml

from pytest_ragft.cli import main

# What differs between any two runs of the same suite: when, which run, how long.
_VOLATILE = {"run_id", "started_at", "finished_at", "duration_s", "latency_s", "shards", "shard"}
_VOLATILE |= {"latency_p50_s", "latency_p95_s"}  # timings, like latency_s


def _same_parts(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _same_parts(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_same_parts(v) for v in value]
    return value


def _suite(project: Project) -> None:
    project.configure(thresholds={"knowledge": 0.5, "behavior": 0.9})
    project.pipeline()
    knowledge = [
        case_yaml(f"k{i}", "knowledge", f"fact {i}", {"contains": f"fact {i}"}) for i in range(9)
    ]
    knowledge.append(case_yaml("k-miss", "knowledge", "nothing", {"contains": "absent"}))
    behavior = [
        case_yaml(f"b{i}", "behavior", f"say {i}", {"contains": f"say {i}"}) for i in range(6)
    ]
    behavior.append(case_yaml("b-long", "behavior", "x " * 40, {"max_words": 5}))
    project.cases("knowledge", knowledge)
    project.cases("behavior", behavior)


@pytest.mark.parametrize("count", [2, 3])
def test_merged_shards_equal_the_unsharded_run(
    project: Project,
    plugin_args: list[str],
    count: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _suite(project)
    assert project.run_with(plugin_args).ret == 1  # behavior 6/7 < 90%
    whole = project.report()
    shards = []
    for k in range(1, count + 1):
        result = project.run_with(
            plugin_args, f"--ragft-shard={k}/{count}", f"--ragft-report-dir=s{k}"
        )
        assert result.ret in (0, 1)
        shard = project.report(f"s{k}/ragft-report.json")
        assert shard["shard"] == {"index": k, "count": count} and shard["complete"] is False
        shards.append(f"s{k}/ragft-report.json")
    monkeypatch.chdir(project.path)
    assert main(["merge", *shards, "-o", "merged.json"]) == 1
    capsys.readouterr()
    merged = project.report("merged.json")
    assert _same_parts(merged) == _same_parts(whole)
    ran = [len(project.report(s)["cases"]) for s in shards]
    assert sum(ran) == len(whole["cases"]) == 17 and max(ran) - min(ran) <= 2


def test_a_shard_that_does_not_exist_is_a_usage_error(project: Project) -> None:
    _suite(project)
    result = project.run("--ragft-shard=4/3")
    assert result.ret == USAGE
    assert "--ragft-shard='4/3'" in result.stderr.str()


def test_merge_refuses_the_same_shard_twice_and_other_configurations(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _suite(project)
    project.run("--ragft-shard=1/2", "--ragft-report-dir=a")
    project.run("--ragft-shard=2/2", "--ragft-report-dir=b", "--ragft-repeats=2")
    monkeypatch.chdir(project.path)
    assert main(["merge", "a/ragft-report.json", "a/ragft-report.json"]) == 2
    assert "a/ragft-report.json" in capsys.readouterr().err
    assert main(["merge", "a/ragft-report.json", "b/ragft-report.json"]) == 2
    assert "config" in capsys.readouterr().err.lower()
