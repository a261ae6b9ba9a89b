"""The plugin through pytest: the exit status, the hooks, xdist and JUnit XML."""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from conftest import PY_CASES, USAGE, Project, case_yaml

from pytest_ragft import hookspecs

# --------------------------------------------------------------------------------------------
# Exit status and hooks


@pytest.mark.parametrize(
    ("settings", "extra_test", "ret", "line"),
    [
        pytest.param({"thresholds": {"behavior": 0.0}}, None, 0, "gate: PASS*", id="healthy"),
        pytest.param({}, None, 1, "gate: FAIL (below_threshold*", id="below-threshold"),
        pytest.param(
            {"thresholds": {"behavior": 0.0}},
            "assert False",
            1,
            "gate: FAIL (1 non-eval test(s) failed)",
            id="failing-unit-test",
        ),
        pytest.param(
            {"thresholds": {"behavior": 0.0}},
            'assert "ok".upper() == "OK"',
            0,
            "gate: PASS*",
            id="passing-unit-test",
        ),
        pytest.param({"repeats": 0}, None, USAGE, "*repeats*", id="bad-config"),
        pytest.param({"repeat": 3}, None, USAGE, "*repeat*repeats*", id="misspelt-key"),
    ],
)
def test_exit_status(
    project: Project, settings: dict[str, Any], extra_test: str | None, ret: int, line: str
) -> None:
    project.standard(**settings)
    if extra_test is not None:
        project.pytester.makepyfile(test_unit=f"def test_unit():\n    {extra_test}\n")
    result = project.run()
    assert result.ret == ret
    (result.stdout if ret != USAGE else result.stderr).fnmatch_lines([line])


def test_diagnose_hook_overrides(project: Project) -> None:
    project.standard(thresholds={"behavior": 0.0})
    project.pytester.makeconftest(
        """
        def pytest_ragft_diagnose(case, result, failures):
            assert result is not None and failures
            return "hybrid" if case.id == "polite" else None
        """
    )
    project.run()
    case = next(c for c in project.report()["cases"] if c["id"] == "polite")
    assert case["diagnosis"] == "hybrid"


def test_checks_hook_adds_a_check(project: Project, plugin_args: list[str]) -> None:
    project.configure()
    project.pipeline()
    project.pytester.makeconftest(
        """
        from pytest_ragft.model import CheckOutcome

        def starts_with(case, result, expected):
            ok = result.answer.startswith(expected)
            return CheckOutcome("starts_with", ok, f"starts_with: expected {expected!r}")

        def pytest_ragft_checks():
            return {"starts_with": starts_with}
        """
    )
    project.cases(
        "k",
        [
            case_yaml("yes", "knowledge", "Hello there", {"starts_with": "Hello"}),
            case_yaml("no", "knowledge", "Bye", {"starts_with": "Hello"}),
        ],
    )
    result = project.run_with(plugin_args)
    result.assert_outcomes(passed=1, failed=1)
    assert project.outcomes() == {"yes": "passed", "no": "failed"}
    assert "starts_with: expected 'Hello'" in result.stdout.str()


def test_run_finished_hook_gets_the_report(project: Project, plugin_args: list[str]) -> None:
    project.standard(thresholds={"behavior": 0.0})
    project.pytester.makeconftest(
        """
        import json, os

        def pytest_ragft_run_finished(run):
            with open("finished.jsonl", "a") as out:
                out.write(json.dumps({"suite": run["suite"], "run_id": run["run_id"],
                                      "worker": os.environ.get("PYTEST_XDIST_WORKER")}) + "\\n")
        """
    )
    project.run_with(plugin_args)
    calls = [
        json.loads(line) for line in (project.path / "finished.jsonl").read_text().splitlines()
    ]
    assert calls == [{"suite": "demo", "run_id": project.report()["run_id"], "worker": None}]


def _conftest_example(hook: Any) -> str:
    """The conftest.py a hookspec's docstring shows."""
    doc = textwrap.dedent(hook.__doc__.split("::", 1)[1])
    return doc.split("# conftest.py", 1)[1]


@pytest.mark.parametrize(
    ("kinds", "printed"),
    [
        pytest.param(["knowledge"], None, id="no-behavior-category"),
        pytest.param(["knowledge", "behavior"], "behavior pass rate: 100.0%", id="both"),
    ],
)
def test_the_run_finished_example_runs_on_any_run(
    project: Project, kinds: list[str], printed: str | None
) -> None:
    project.configure(thresholds={"knowledge": 0.0, "behavior": 0.0})
    project.pipeline()
    project.cases("c", [case_yaml(f"{k}-1", k, "ok") for k in kinds])
    project.pytester.makeconftest(_conftest_example(hookspecs.pytest_ragft_run_finished))
    result = project.run("-s")
    assert result.ret == 0, result.stdout.str()
    assert "raised" not in result.stdout.str()
    lines = [line for line in result.stdout.lines if "behavior pass rate" in line]
    assert [line.endswith(printed) for line in lines] == ([True] if printed else [])


def normalised(report: dict[str, Any]) -> dict[str, Any]:
    def case(c: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in c.items() if k not in ("repeats",)}
        out["repeats"] = [
            {k: v for k, v in r.items() if k != "latency_s"} for r in c.get("repeats", [])
        ]
        return out

    return {
        "cases": [case(c) for c in report["cases"]],
        "categories": report["categories"],
        "gate": report["gate"],
        "diagnosis": report["diagnosis"],
        "checklist": report["checklist"],
        "recommendation": report["recommendation"],
    }


def test_same_results_with_and_without_xdist(project: Project) -> None:
    project.standard(diagnose="counterfactual")
    project.pytester.makepyfile(test_py=PY_CASES)
    serial = project.run()
    first = normalised(project.report())
    distributed = project.run_subprocess("-n", "2")
    assert serial.ret == distributed.ret == 1
    assert normalised(project.report()) == first


def test_junit_xml_properties(project: Project, plugin_args: list[str]) -> None:
    project.standard(thresholds={"behavior": 0.0})
    project.run_with(plugin_args, "--junitxml=junit.xml")
    root = ET.parse(project.path / "junit.xml").getroot()
    props = {
        case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in root.iter("testcase")
    }
    assert props["polite"] == {"kind": "behavior", "diagnosis": "knowledge", "pass_ratio": "0"}
    assert props["short"] == {"kind": "behavior", "diagnosis": "", "pass_ratio": "1"}
    assert props["refund-window"]["kind"] == "knowledge"


# --------------------------------------------------------------------------------------------
# The interpreter's exit


def test_the_exit_freeze_is_registered_once_per_process(project: Project) -> None:
    import atexit

    from pytest_ragft import plugin

    project.configure(thresholds={"knowledge": 0.0, "behavior": 0.0})
    project.pipeline()
    project.cases("knowledge", [case_yaml("k1", "knowledge", "fact 1", {"contains": "fact 1"})])
    assert project.run().ret == 0
    assert plugin._exit_freeze_registered
    handlers = atexit._ncallbacks()
    assert project.run().ret == 0
    assert atexit._ncallbacks() == handlers  # a second in-process run adds no handler


def test_a_run_still_exits_with_its_status_and_output_after_the_freeze(project: Project) -> None:
    """In a process of its own, the exit handlers run (a conftest's own included) and the
    status and reports are the gate's."""
    project.configure(thresholds={"knowledge": 0.0, "behavior": 0.9})
    project.pipeline()
    project.cases("behavior", [case_yaml("b1", "behavior", "say", {"contains": "absent"})])
    project.pytester.makeconftest(
        "import atexit\n"
        "def pytest_configure(config):\n"
        "    atexit.register(lambda: open('exited.txt', 'w').write('handler ran'))\n"
    )
    result = project.run_subprocess()
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*gate: FAIL (below_threshold*"])
    assert (project.path / "exited.txt").read_text() == "handler ran"
    assert project.report()["gate"]["verdict"] == "fail"
