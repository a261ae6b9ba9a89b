"""The plugin under pytest-xdist's distribution modes: the same report as a serial run, calls
issued ahead from what a worker knows of its next tests, and a fallback that says so once.

``.ci/run`` runs this file again with xdist's previous minor release.
"""

from __future__ import annotations

import pytest
from conftest import PY_CASES, Project, case_yaml
from test_run_exit_and_hooks import normalised
from test_run_window import BARRIER_CASES, BARRIER_PIPELINE, LOGGING_SYNC

CUSTOM_SCHEDULER = """
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScheduling

    return LoadScheduling(config, log)
"""

FALLBACK = "ragft: *eval cases are called in their own test, not ahead of it"


@pytest.mark.parametrize(
    "dist", ["load", "worksteal", "loadfile", "loadscope", "loadgroup"], ids=str
)
def test_each_distribution_mode_gives_the_serial_report(project: Project, dist: str) -> None:
    project.standard(diagnose="counterfactual")
    project.pytester.makepyfile(test_py=PY_CASES)
    serial = project.run()
    expected = normalised(project.report())
    distributed = project.run_subprocess("-n", "2", "--dist", dist)
    assert serial.ret == distributed.ret == 1
    assert normalised(project.report()) == expected


@pytest.mark.parametrize(
    ("args", "conftest"),
    [
        pytest.param(["--dist", "load"], None, id="load"),
        pytest.param(["--dist", "worksteal"], None, id="worksteal"),
        pytest.param(["--dist", "loadfile"], None, id="loadfile"),
        pytest.param(["--dist", "loadscope"], None, id="loadscope"),
    ],
)
def test_a_worker_issues_its_next_cases_ahead(
    project: Project, args: list[str], conftest: str | None
) -> None:
    """The first case's call answers only while the second one's is in flight beside it."""
    project.configure(concurrency=2, timeout_s=60, thresholds={"knowledge": 0.0})
    project.pipeline(BARRIER_PIPELINE)
    project.cases("k", BARRIER_CASES)
    if conftest is not None:
        project.pytester.makeconftest(conftest)
    result = project.run_subprocess("-n", "2", *args)
    assert project.outcomes()["first"] == "passed"
    result.stdout.no_fnmatch_line(FALLBACK)


@pytest.mark.parametrize(
    ("args", "conftest"),
    [
        pytest.param(["--dist", "loadfile"], None, id="loadfile"),
        pytest.param(["--dist", "loadscope"], None, id="loadscope"),
        pytest.param(["--dist", "loadgroup"], None, id="loadgroup-fallback"),
    ],
)
def test_whole_work_units_call_each_case_once(
    project: Project, args: list[str], conftest: str | None
) -> None:
    """A worker issues calls ahead only within the work unit it was sent, so no case is called
    by a worker that does not run it."""
    project.configure(concurrency=4, thresholds={"knowledge": 0.0})
    project.pipeline(LOGGING_SYNC)
    ids = [f"{name}-{n:02d}" for name in ("a", "b", "c") for n in range(12)]
    for name in ("a", "b", "c"):
        mine = [i for i in ids if i.startswith(name)]
        project.cases(name, [case_yaml(i, "knowledge", i, {"contains": i}) for i in mine])
    if conftest is not None:
        project.pytester.makeconftest(conftest)
    project.run_subprocess("-n", "2", *args).assert_outcomes(passed=len(ids))
    assert sorted((project.path / "calls.txt").read_text().splitlines()) == ids


@pytest.mark.parametrize(
    ("args", "conftest", "said"),
    [
        pytest.param(["--dist", "loadgroup"], None, 1, id="loadgroup"),
        pytest.param(["--dist", "load"], CUSTOM_SCHEDULER, 1, id="custom-scheduler"),
        pytest.param(["--dist", "load"], None, 0, id="load"),
    ],
)
def test_a_fallback_to_calls_in_the_test_is_said_once(
    project: Project, args: list[str], conftest: str | None, said: int
) -> None:
    project.standard(thresholds={"behavior": 0.0})
    if conftest is not None:
        project.pytester.makeconftest(conftest)
    result = project.run_subprocess("-n", "2", *args)
    assert result.ret == 0
    lines = [line for line in result.outlines if line.startswith("ragft: ")]
    assert len(lines) == said
    if said:
        result.stdout.fnmatch_lines([FALLBACK])


@pytest.mark.parametrize(
    ("mode", "nodeid", "unit"),
    [
        pytest.param("sequence", "evals/k.yaml::a", "", id="sequence"),
        pytest.param("file", "evals/k.yaml::a", "evals/k.yaml", id="file"),
        pytest.param("scope", "test_x.py::TestA::test_b", "test_x.py::TestA", id="scope"),
        pytest.param("group", "evals/k.yaml::a@evals", "evals", id="group"),
        pytest.param("group", "test_x.py::test_b[a@b]", None, id="group-param-with-at"),
        pytest.param("group", "evals/k.yaml::a", None, id="ungrouped"),
        pytest.param("item", "evals/k.yaml::a", None, id="item"),
    ],
)
def test_work_units_split_node_ids_as_xdist_does(mode: str, nodeid: str, unit: str | None) -> None:
    from pytest_ragft.worker import work_unit

    assert work_unit(mode, nodeid) == unit


REPORT_LOG = """
import json

CONFIG = []

def pytest_configure(config):
    CONFIG.append(config)

def pytest_runtest_logreport(report):
    hook = CONFIG[0].hook
    data = hook.pytest_report_to_serializable(config=CONFIG[0], report=report)
    with open("reports.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(data) + "\\n")
    kept = [type(v).__name__ for k, v in report.user_properties if k == "ragft"]
    with open("kept.txt", "a", encoding="utf-8") as fh:
        fh.write("".join(name + "\\n" for name in kept))
    back = hook.pytest_report_from_serializable(config=CONFIG[0], data=data)
    assert back.user_properties == [tuple(p) for p in data["user_properties"]]
"""


def test_a_serialized_report_carries_its_case_record_as_json(project: Project) -> None:
    """In the process that ran it, a report carries the case record itself; serialized (for
    xdist, for a report log) it carries the record's dict, and the report is left as it was."""
    import json

    project.standard()
    project.pytester.makeconftest(REPORT_LOG)
    project.run()
    lines = [json.loads(line) for line in (project.path / "reports.jsonl").read_text().splitlines()]
    carried = {
        value["id"]: value
        for line in lines
        for key, value in line["user_properties"]
        if key == "ragft"
    }
    report = {case["id"]: case for case in project.report()["cases"]}
    assert carried and carried.keys() == report.keys()
    kept = (project.path / "kept.txt").read_text().split()
    assert kept == ["CaseRecord"] * len(carried)
    for case_id, record in carried.items():
        assert record["outcome"] == report[case_id]["outcome"]
        assert record["content"] == report[case_id]["content"]
