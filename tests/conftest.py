"""Shared fixtures of the integration tests: a small ragft project in a pytester directory.

The default project's pipeline ``bot:answer`` echoes its input, so a case passes or fails by
what its input says: ``input: "30 days"`` with ``contains: "30 days"`` passes.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema  # noqa: F401
import pytest
import sqlalchemy.dialects.sqlite  # noqa: F401
import yaml  # noqa: F401

import pytest_ragft

# In-process pytester runs drop the modules a run imported when it ends. PyYAML's compiled
# extension cannot be imported twice (a re-imported ``yaml`` no longer recognises its own
# exceptions), and re-importing SQLAlchemy or jsonschema in every run is slow: the imports
# above and this loop load them and the whole plugin once, before any run.

for _module in pkgutil.walk_packages(pytest_ragft.__path__, "pytest_ragft."):
    importlib.import_module(_module.name)

# Plugins the tested projects do not need: hypothesis's terminal summary imports much of
# hypothesis afresh in every in-process run; deepeval's plugin (when installed) costs a second.
QUIET_PLUGINS: list[str] = ["-p", "no:hypothesispytest"]
try:
    import deepeval  # noqa: F401
except ImportError:
    pass
else:  # pragma: no cover - depends on the environment
    QUIET_PLUGINS += ["-p", "no:deepeval"]

ECHO_PIPELINE = """
def answer(question, **vars):
    return question
"""


@pytest.fixture(
    params=[pytest.param([], id="serial"), pytest.param(["-n", "2"], id="xdist")],
)
def plugin_args(request: pytest.FixtureRequest) -> list[str]:
    """Each integration test that takes it runs once without xdist and once with ``-n 2``."""
    return list(request.param)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Sequence):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML for {value!r}")


def toml_tables(settings: Mapping[str, Any], prefix: str = "tool.ragft") -> str:
    """``[tool.ragft]`` and its sub-tables from a nested dict."""
    flat = {k: v for k, v in settings.items() if not isinstance(v, Mapping)}
    lines = [f"[{prefix}]", *(f"{k} = {toml_value(v)}" for k, v in flat.items()), ""]
    for key, value in settings.items():
        if isinstance(value, Mapping):
            lines.append(toml_tables(value, f"{prefix}.{key}"))
    return "\n".join(lines)


def case_yaml(
    case_id: str,
    kind: str,
    input: str,
    expect: Mapping[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """One case as a dict (written out as JSON, which YAML reads)."""
    return {
        "id": case_id,
        "kind": kind,
        "input": input,
        "expect": dict(expect or {"contains": "ok"}),
        **fields,
    }


class Project:
    """A ragft project under ``pytester.path``: pyproject, pipeline module, case files."""

    def __init__(self, pytester: pytest.Pytester) -> None:
        self.pytester = pytester
        self.path: Path = pytester.path

    def configure(self, **settings: Any) -> None:
        """Write pyproject.toml; ``None`` values are left out. Reports default to JSON only."""
        merged: dict[str, Any] = {
            "pipeline": "bot:answer",
            # no `cases`: the default globs (evals/**), which may match nothing in a project of
            # Python cases only
            "suite": "demo",
            "history": "",
            "report": {"markdown": "", "html": "", "json": "ragft-report.json", "github": "never"},
        }
        for key, value in settings.items():
            if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
        merged = _drop_none(merged)
        text = '[project]\nname = "demo"\n\n' + toml_tables(merged)
        self.pytester.makefile(".toml", pyproject=text)

    def pipeline(self, source: str = ECHO_PIPELINE, name: str = "bot") -> None:
        self.pytester.makepyfile(**{name: textwrap.dedent(source)})

    def cases(self, name: str, cases: Sequence[Mapping[str, Any]] | str) -> Path:
        """Write ``evals/<name>.yaml`` from a list of case dicts, or verbatim YAML text."""
        path = self.path / "evals" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(cases, str):
            text = textwrap.dedent(cases).lstrip()
        else:
            text = "".join(f"- {json.dumps(c)}\n" for c in cases)
        path.write_text(text, encoding="utf-8")
        return path

    def standard(self, **settings: Any) -> None:
        """Echo pipeline, 2 passing knowledge cases, 1 passing and 1 failing behavior case."""
        self.configure(**settings)
        self.pipeline()
        self.cases(
            "knowledge",
            [
                case_yaml("refund-window", "knowledge", "30 days", {"contains": "30 days"}),
                case_yaml("store-hours", "knowledge", "9 to 5", {"contains": "9 to 5"}),
            ],
        )
        self.cases(
            "behavior",
            [
                case_yaml("short", "behavior", "fine", {"max_words": 3}),
                case_yaml("polite", "behavior", "go away", {"contains": "please"}),
            ],
        )

    def report(self, name: str = "ragft-report.json") -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.path / name).read_text(encoding="utf-8"))
        return data

    def outcomes(self, name: str = "ragft-report.json") -> dict[str, str]:
        return {c["id"]: c["outcome"] for c in self.report(name)["cases"]}

    def run(self, *args: str) -> pytest.RunResult:
        """In-process run: fast; fine where neither xdist nor process exit matters."""
        return self.pytester.runpytest(*QUIET_PLUGINS, *args)

    def run_with(self, plugin_args: Sequence[str], *args: str) -> pytest.RunResult:
        """Without xdist in-process; with it, in a subprocess of its own."""
        if plugin_args:
            return self.run_subprocess(*plugin_args, *args)
        return self.run(*args)

    def run_subprocess(self, *args: str, timeout: float = 60) -> pytest.RunResult:
        return self.pytester.runpytest_subprocess(*QUIET_PLUGINS, *args, timeout=timeout)


def _drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: _drop_none(v) if isinstance(v, Mapping) else v
        for k, v in values.items()
        if v is not None
    }


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A ragft project in a fresh directory, with no CI or GitHub variables leaking in."""
    for name in (
        "GITHUB_ACTIONS",
        "GITHUB_SHA",
        "GITHUB_REF_NAME",
        "GITHUB_HEAD_REF",
        "GITHUB_BASE_REF",
        "GITHUB_EVENT_PATH",
        "GITHUB_EVENT_NAME",
        "GITHUB_REPOSITORY",
        "GITHUB_TOKEN",
        "GITHUB_API_URL",
        "GITHUB_STEP_SUMMARY",
        "RAGFT_GITHUB_TOKEN",
        "RAGFT_PR",
        "RAGFT_CHANGED_FILES",
        "GITLAB_CI",
        "CI",
        "PYTEST_ADDOPTS",
        "PYTEST_XDIST_WORKER",
        "PYTEST_XDIST_WORKER_COUNT",
        "PYTEST_XDIST_TESTRUNUID",
    ):
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("RAGFT_"):
            monkeypatch.delenv(name, raising=False)
    return Project(pytester)


USAGE = pytest.ExitCode.USAGE_ERROR


def files_under(root: Path) -> set[str]:
    """The project's files, without pytester's own (captured output, base temp dirs)."""
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file()
        and "__pycache__" not in p.parts
        and not p.relative_to(root).parts[0].startswith(("runpytest-", "stdout", "stderr"))
    }


PY_CASES = """
import pytest

@pytest.mark.ragft(kind="behavior", facts=["30 days"], tags=["py"])
def test_refund_is_polite(ragft):
    result = ragft.ask("30 days, please", format="text")
    assert "please" in result.answer

@pytest.mark.ragft(kind="knowledge", repeats=3)
def test_repeated(ragft, ragft_repeat):
    assert ragft.ask("30 days").answer == "30 days"

def test_plain():
    pass
"""


COUNTING_PIPELINE = """
import json
from pathlib import Path

def answer(question, contexts=None):
    with Path("calls.jsonl").open("a") as log:
        log.write(json.dumps({"question": question, "contexts": contexts}) + "\\n")
    return {"answer": " ".join(contexts) if contexts else "no idea", "contexts": []}
"""
