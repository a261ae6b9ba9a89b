"""Whole pytest sessions sharing one history store: none is lost, none is half-written."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

PIPELINE = """
import os, time

def answer(question):
    delay = float(os.environ.get("BOT_DELAY", "0"))
    if delay:
        time.sleep(delay)
    return "Refunds are accepted within 30 days. [1]"
"""

CASES = """
defaults: {kind: knowledge}
cases:
""" + "".join(
    f'  - {{id: case-{i}, input: "How long for refunds?", expect: {{contains: "30 days"}}}}\n'
    for i in range(20)
)

PYPROJECT = """
[project]
name = "concurrency"
version = "0"

[tool.pytest.ini_options]
pythonpath = ["."]

[tool.ragft]
pipeline = "bot:answer"
cases = ["evals/*.yaml"]
history = "{history}"
concurrency = 4

[tool.ragft.report]
markdown = ""
html = ""
json = ""
"""


def _project(root: Path, history: Path) -> Path:
    root.mkdir(parents=True)
    (root / "evals").mkdir()
    (root / "bot.py").write_text(textwrap.dedent(PIPELINE))
    (root / "evals" / "cases.yaml").write_text(CASES)
    (root / "pyproject.toml").write_text(PYPROJECT.format(history=history.as_posix()))
    return root


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAGFT_", "GITHUB_", "CI"))}
    env.update(extra)
    return env


PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]


def _pytest(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        PYTEST, cwd=project, env=_env(), capture_output=True, text=True, timeout=240
    )


def _runs(history: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(history) as db:
        runs = db.execute("SELECT run_id, id FROM ragft_runs").fetchall()
        counts = [
            (
                run_id,
                db.execute("SELECT COUNT(*) FROM ragft_results WHERE run_pk = ?", (pk,)).fetchone()[
                    0
                ],
            )
            for run_id, pk in runs
        ]
    return counts


def test_four_sessions_write_one_store_at_once(tmp_path: Path) -> None:
    history = tmp_path / "shared" / "history.sqlite"
    projects = [_project(tmp_path / f"p{i}", history) for i in range(4)]
    procs = [
        subprocess.Popen(
            PYTEST,
            cwd=p,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for p in projects
    ]
    outputs = [proc.communicate(timeout=240)[0] for proc in procs]
    for proc, out in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out[-2000:]
        assert "database is locked" not in out
    runs = _runs(history)
    assert len(runs) == 4
    assert all(count == 20 for _, count in runs)


def test_a_session_killed_mid_run_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    history = tmp_path / "history.sqlite"
    project = _project(tmp_path / "p", history)
    first = _pytest(project)
    assert first.returncode == 0, first.stdout[-2000:]
    before = _runs(history)
    assert len(before) == 1
    slow = subprocess.Popen(
        PYTEST,
        cwd=project,
        env=_env(BOT_DELAY="5"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    time.sleep(2.0)  # collection is done and the calls are in flight
    slow.send_signal(signal.SIGKILL)
    slow.wait(timeout=30)
    assert slow.returncode == -signal.SIGKILL
    assert _runs(history) == before
    with sqlite3.connect(history) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    again = _pytest(project)
    assert again.returncode == 0, again.stdout[-2000:]
    assert len(_runs(history)) == 2
    assert json.dumps(before[0]) in json.dumps(_runs(history))
