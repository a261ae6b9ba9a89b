"""The composite GitHub Action (``action.yml``), its steps run one by one against a project in
a temporary directory, the way a runner runs them: ``${{ }}`` expressions substituted, ``if:``
conditions judged, ``run:`` steps in bash with ``GITHUB_OUTPUT`` / ``GITHUB_STEP_SUMMARY`` /
``GITHUB_ENV`` files, and the ``uses:`` steps (setup-python, the cache, upload-artifact)
emulated on the local file system."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_ragft.actions import outputs, write_outputs

ROOT = Path(__file__).resolve().parent.parent
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class Runner:
    """One job that uses the action; ``cache`` outlives it, as the Actions cache does."""

    workspace: Path
    cache: Path
    inputs: dict[str, str]
    run_id: int = 101
    steps: dict[str, dict[str, str]] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)
    failed: str | None = None
    artifacts: dict[str, list[str]] = field(default_factory=dict)
    restored: str | None = None

    def __post_init__(self) -> None:
        self.files = self.workspace.parent / f"runner-{self.run_id}"
        self.files.mkdir()
        self.summary = self.files / "step_summary.md"
        self.env_file = self.files / "env"
        self.pip_log = self.files / "pip.log"
        for path in (self.summary, self.env_file):
            path.touch()
        defaults = {k: str(v.get("default", "")) for k, v in ACTION["inputs"].items()}
        self.values = {**defaults, **self.inputs}
        self.bin = self.files / "bin"
        self.bin.mkdir()
        # setup-python puts `python` on PATH; here it is this interpreter, with pip logged
        # instead of run (the plugin and the project's needs are installed already).
        shim = self.bin / "python"
        shim.write_text(
            "#!/usr/bin/env bash\n"
            f'if [ "$1 $2" = "-m pip" ]; then echo "${{@:3}}" >> {self.pip_log}; exit 0; fi\n'
            f'exec {sys.executable} "$@"\n'
        )
        shim.chmod(0o755)

    # --- expressions ---------------------------------------------------------------------

    def value(self, expr: str) -> str:
        github = {"token": "", "run_id": str(self.run_id), "run_attempt": "1"}
        parts = expr.split(".")
        if parts[0] == "inputs":
            return self.values[".".join(parts[1:])]
        if parts[0] == "github":
            return github[parts[1]]
        if parts[0] == "steps" and parts[2] == "outputs":
            return self.steps.get(parts[1], {}).get(parts[3], "")
        if expr.startswith("'") and expr.endswith("'"):
            return expr[1:-1]
        raise KeyError(f"expression the emulator does not know: {expr}")

    def subst(self, text: str) -> str:
        return _EXPR.sub(lambda m: self.value(m.group(1)), text)

    def condition(self, text: str | None) -> bool:
        """``always()``, ``&&`` and ``==`` / ``!=`` between values: all that action.yml uses."""
        if text is None:
            return self.failed is None
        terms = [t.strip() for t in _EXPR.sub(r"\1", text).split("&&")]
        if "always()" not in terms and self.failed is not None:
            return False
        for term in terms:
            if term == "always()":
                continue
            match = re.fullmatch(r"(\S+)\s*(==|!=)\s*(\S+)", term)
            assert match, f"condition the emulator does not know: {term}"
            left, right = self.value(match.group(1)), self.value(match.group(3))
            if (left == right) != (match.group(2) == "=="):
                return False
        return True

    # --- steps ---------------------------------------------------------------------------

    def run(self) -> dict[str, str]:
        for number, step in enumerate(ACTION["runs"]["steps"]):
            name = step.get("name") or step.get("uses")
            if not self.condition(step.get("if")):
                continue
            self.ran.append(name)
            if "uses" in step:
                ok = self.uses(
                    step["uses"], {k: self.subst(str(v)) for k, v in step["with"].items()}
                )
            else:
                ok = self.shell(step, number)
            if not ok and self.failed is None:
                self.failed = name
        return {k: self.subst(v["value"]) for k, v in ACTION["outputs"].items()}

    def shell(self, step: dict[str, Any], number: int) -> bool:
        output = self.files / f"output-{number}"
        output.touch()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RAGFT_", "CI"))}
        env.update(
            # setup-python's interpreter first, then the folder of its scripts (`ragft`).
            PATH=os.pathsep.join([str(self.bin), str(Path(sys.executable).parent), env["PATH"]]),
            GITHUB_ACTIONS="true",
            GITHUB_WORKSPACE=str(self.workspace),
            GITHUB_ACTION_PATH=str(ROOT),
            GITHUB_OUTPUT=str(output),
            GITHUB_STEP_SUMMARY=str(self.summary),
            GITHUB_ENV=str(self.env_file),
            GITHUB_REF_NAME="main",
        )
        env.update({k: self.subst(str(v)) for k, v in step.get("env", {}).items()})
        cwd = self.workspace / self.subst(step.get("working-directory", "."))
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", self.subst(step["run"])],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        self.log = getattr(self, "log", "") + done.stdout + done.stderr
        if "id" in step:
            lines = output.read_text().splitlines()
            self.steps[step["id"]] = dict(line.split("=", 1) for line in lines if "=" in line)
        return done.returncode == 0

    def uses(self, action: str, given: dict[str, str]) -> bool:
        if action == "actions/setup-python@v5":
            return given["python-version"] == self.values["python-version"]
        if action == "actions/cache/restore@v4":
            prefix = given["restore-keys"]
            keys = sorted(p.name for p in self.cache.iterdir() if p.name.startswith(prefix))
            if keys:
                self.restored = keys[-1]
                shutil.copytree(self.cache / keys[-1], self.workspace / given["path"])
            return True
        if action == "actions/cache/save@v4":
            source = self.workspace / given["path"]
            if source.exists():
                shutil.copytree(source, self.cache / given["key"])
            return True
        if action == "actions/upload-artifact@v4":
            files = sorted(
                str(p.relative_to(self.workspace))
                for line in given["path"].splitlines()
                if line.strip()
                for p in self.workspace.glob(line.strip())
            )
            self.artifacts[given["name"]] = files
            return bool(files) or given.get("if-no-files-found") != "error"
        raise AssertionError(f"an action the emulator does not know: {action}")


PIPELINE = """
def answer(input):
    return {"refund": "Refunds within 30 days.", "hours": "Open 9 to 5."}.get(input, "go away")
"""


def make_project(workspace: Path, *, behavior_threshold: float = 0.85, extra: str = "") -> Path:
    project = workspace / "bot"
    (project / "evals").mkdir(parents=True)
    (project / "bot.py").write_text(textwrap.dedent(PIPELINE))
    (project / "requirements.txt").write_text("pytest-ragft\n")
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [project]
            name = "bot"
            version = "0.1.0"

            [tool.pytest.ini_options]
            pythonpath = ["."]
            addopts = "-p no:randomly -p no:cacheprovider"

            [tool.ragft]
            pipeline = "bot:answer"
            suite = "bot"
            history = ".ragft/history.sqlite"
            {extra}

            [tool.ragft.thresholds]
            knowledge = 0.5
            behavior = {behavior_threshold}
            """
        )
    )
    cases = [
        {"id": "refund", "kind": "knowledge", "input": "refund", "expect": {"contains": "30 days"}},
        {"id": "hours", "kind": "knowledge", "input": "hours", "expect": {"contains": "9 to 5"}},
        {"id": "polite", "kind": "behavior", "input": "rude", "expect": {"contains": "please"}},
    ]
    (project / "evals" / "cases.yaml").write_text("".join(f"- {json.dumps(c)}\n" for c in cases))
    return project


def runs_in(history: Path) -> int:
    with sqlite3.connect(history) as db:
        return int(db.execute("SELECT count(*) FROM ragft_runs").fetchone()[0])


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    (tmp_path / "cache").mkdir()
    return path


def test_a_failing_gate_still_saves_history_uploads_and_sets_outputs(workspace: Path) -> None:
    project = make_project(workspace)
    cache = workspace.parent / "cache"
    job = Runner(workspace, cache, {"working-directory": "bot"})
    out = job.run()
    assert out["verdict"] == "fail", job.log
    assert out["exit-code"] == "1"
    assert json.loads(out["rates"]) == {"behavior": 0.0, "knowledge": 1.0}
    assert out["report-path"] == "bot/ragft-reports/ragft-report.json"
    assert job.artifacts == {
        "ragft-report": [
            "bot/ragft-reports/ragft-report.html",
            "bot/ragft-reports/ragft-report.json",
        ]
    }
    assert job.failed == "Gate"  # the job fails, at the very end
    assert job.ran[-1] == "Gate" and "Upload the reports" in job.ran
    assert "<!-- ragft:report suite=bot -->" in job.summary.read_text()
    assert (cache / "ragft-history-101-1" / "history.sqlite").is_file()
    pip = job.pip_log.read_text().splitlines()
    assert pip[0].endswith(f"install --disable-pip-version-check {ROOT}")
    assert pip[1].endswith("install --disable-pip-version-check -r requirements.txt")
    assert (project / "ragft-reports" / "ragft-report.json").is_file()


def test_the_next_run_restores_the_history_and_passes(workspace: Path) -> None:
    cache = workspace.parent / "cache"
    first_space = workspace
    make_project(first_space)
    Runner(first_space, cache, {"working-directory": "bot"}).run()
    second_space = workspace.parent / "workspace-2"
    second_space.mkdir()
    make_project(second_space, behavior_threshold=0.0)
    job = Runner(second_space, cache, {"working-directory": "bot", "pytest-args": "-q"}, run_id=102)
    out = job.run()
    assert job.restored == "ragft-history-101-1"
    assert (out["verdict"], out["exit-code"], job.failed) == ("pass", "0", None), job.log
    assert runs_in(cache / "ragft-history-102-1" / "history.sqlite") == 2


def test_a_configuration_error_gives_verdict_error_and_says_so(workspace: Path) -> None:
    make_project(workspace, extra='repeats = "many"')
    job = Runner(workspace, workspace.parent / "cache", {"working-directory": "bot"})
    out = job.run()
    assert (out["verdict"], out["report-path"], out["rates"]) == ("error", "", "{}")
    assert out["exit-code"] == "4"
    assert job.failed == "Gate"
    assert "Upload the reports" not in job.ran
    assert "ragft: no verdict" in job.summary.read_text()
    assert "pytest exited 4" in job.summary.read_text()


def test_post_report_mode_runs_no_suite(workspace: Path) -> None:
    make_project(workspace)
    job = Runner(
        workspace, workspace.parent / "cache", {"working-directory": "bot", "post-report": "r.json"}
    )
    job.run()
    assert job.ran == [
        "actions/setup-python@v5",
        "Install pytest-ragft and the project",
        "Post the sticky comment from the report",
    ]
    # No report downloaded here, so `ragft comment` says which file is missing.
    assert job.failed == "Post the sticky comment from the report"
    assert "r.json" in job.log
    assert len(job.pip_log.read_text().splitlines()) == 1  # the plugin only


def test_outputs_are_single_lines(tmp_path: Path) -> None:
    target = tmp_path / "out"
    write_outputs({"verdict": "pass"}, target)
    assert target.read_text() == "verdict=pass\n"
    with pytest.raises(ValueError, match="rates"):
        write_outputs({"rates": "a\nb"}, target)
    assert outputs(tmp_path / "nowhere", ".", 3)[0]["verdict"] == "error"


# --- the example's CI files --------------------------------------------------------------------

EXAMPLE = ROOT / "examples" / "support_bot"


def test_example_gitlab_ci_keeps_history_reports_and_junit() -> None:
    import tomllib

    ci = yaml.safe_load((EXAMPLE / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    report = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["tool"]["ragft"]["report"]
    job = ci["evals"]
    history = next(c for c in job["cache"] if ".ragft/" in c["paths"])
    assert history["when"] == "always"
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["paths"] == [report["json"], report["html"]]
    junit = job["artifacts"]["reports"]["junit"]
    assert any(f"--junitxml={junit}" in line for line in job["script"])
    rules = [r["if"] for r in ci["workflow"]["rules"]]
    assert '$CI_PIPELINE_SOURCE == "merge_request_event"' in rules


def test_example_workflows_use_the_action() -> None:
    for name in ("ragft.yml", "ragft-comment.yml"):
        flow = yaml.safe_load((EXAMPLE / ".github" / "workflows" / name).read_text())
        steps = next(iter(flow["jobs"].values()))["steps"]
        used = [s["uses"] for s in steps if "uses" in s]
        assert "pytest-ragft/pytest-ragft@v1" in used
        for step in steps:
            for key in step.get("with", {}):
                if step.get("uses", "").startswith("pytest-ragft/"):
                    assert key in ACTION["inputs"], f"{name}: unknown input {key}"
