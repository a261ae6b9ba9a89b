"""The plugin through pytest: when it is active, and that it costs nothing when it is not."""

from __future__ import annotations

import re

import pytest
from conftest import Project, case_yaml, files_under

# --------------------------------------------------------------------------------------------
# Activation


INERT_CONFTEST = """
import sys

WATCHED = ("pytest_ragft.cases", "pytest_ragft.session", "yaml", "sqlalchemy", "httpx")

def pytest_unconfigure(config):
    loaded = [name for name in WATCHED if name in sys.modules]
    print("heavy modules loaded:", loaded or "none")
"""


def test_inert_without_a_ragft_table(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", pyproject='[project]\nname = "plain"\n')
    pytester.makeconftest(INERT_CONFTEST)
    pytester.makepyfile(test_plain='def test_ok():\n    assert "ok".upper() == "OK"\n')
    (pytester.path / "evals").mkdir()
    (pytester.path / "evals" / "x.yaml").write_text("- {id: a, kind: knowledge}\n")
    before = files_under(pytester.path)

    def run(*args: str) -> list[str]:
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=60)
        assert result.ret == 0
        return [
            re.sub(r"in \d+\.\d+s", "in Ns", line)
            for line in result.outlines
            if not line.startswith(("plugins:", "rootdir:", "running:", "     in:"))
        ]

    with_plugin = run()
    assert with_plugin == run("-p", "no:ragft")
    assert "heavy modules loaded: none" in with_plugin
    assert not any("ragft" in line for line in with_plugin)
    assert files_under(pytester.path) == before


@pytest.mark.parametrize(
    ("table", "args", "active"),
    [
        pytest.param(True, [], True, id="table"),
        pytest.param(False, ["--ragft", "--ragft-pipeline", "bot:answer"], True, id="flag"),
        pytest.param(False, [], False, id="neither"),
        pytest.param(True, ["-p", "no:ragft"], False, id="disabled"),
    ],
)
def test_activation(project: Project, table: bool, args: list[str], active: bool) -> None:
    project.pipeline()
    project.cases("k", [case_yaml("a", "knowledge", "ok")])
    if table:
        project.configure()
    else:
        project.pytester.makefile(".toml", pyproject='[project]\nname = "demo"\n')
    result = project.run("-p", "no:cacheprovider", *args)
    text = result.stdout.str()
    assert ("= ragft =" in text) is active
    assert ("evals/k.yaml" in text or "1 passed" in text) is active
    assert (project.path / "ragft-report.json").exists() is active


GC_TESTS = """
import gc
import weakref


class Node:
    pass


BUILT_AT_COLLECTION = Node()
BUILT_AT_COLLECTION.self = BUILT_AT_COLLECTION  # a cycle: only the collector frees it


def test_full_collections_are_spaced_during_the_run():
    from pytest_ragft.plugin import FULL_COLLECTION_SPACING

    assert gc.get_threshold()[2] == FULL_COLLECTION_SPACING > 10


def test_an_explicit_collection_still_frees_what_collection_built():
    global BUILT_AT_COLLECTION
    ref = weakref.ref(BUILT_AT_COLLECTION)
    del BUILT_AT_COLLECTION
    gc.collect()
    assert ref() is None
"""


def test_the_collector_setting_is_spaced_for_the_run_and_put_back(project: Project) -> None:
    """Full collections are rarer while an eval run runs, never prevented: an explicit
    collection frees a cycle built at collection time; the setting found comes back after."""
    import gc

    project.standard(thresholds={"knowledge": 0.0, "behavior": 0.0})
    project.pytester.makepyfile(test_gc=GC_TESTS)
    result = project.run_subprocess()  # a process of its own: its collector is the run's
    result.assert_outcomes(passed=5, failed=1)  # the failure is the behavior case "polite"
    result.stdout.no_fnmatch_line("*FAILED test_gc.py*")
    before = gc.get_threshold()
    project.run()  # in this process
    assert gc.get_threshold() == before
