"""The plugin through pytest: the PR comment, the job summary, and what must not be lost."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import Project, case_yaml

# --------------------------------------------------------------------------------------------
# The PR comment and the job summary


class FakeGitHub:
    """Just enough of the REST API for PR comments, on 127.0.0.1."""

    def __init__(self, fail_with: int | None = None) -> None:
        self.comments: dict[int, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.fail_with = fail_with
        self.next_id = 1
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"{}")  # type: ignore[no-any-return]

            def _handle(self) -> None:
                fake.requests.append((self.command, self.path))
                if fake.fail_with is not None:
                    self._send(fake.fail_with, {"message": "Not Found"})
                    return
                if self.command == "GET" and "/issues/7/comments" in self.path:
                    self._send(200, list(fake.comments.values()))
                elif self.command == "POST" and self.path.endswith("/issues/7/comments"):
                    comment = {
                        "id": fake.next_id,
                        "body": self._body()["body"],
                        "html_url": f"http://example.test/c/{fake.next_id}",
                    }
                    fake.comments[fake.next_id] = comment
                    fake.next_id += 1
                    self._send(201, comment)
                elif self.command == "PATCH" and "/issues/comments/" in self.path:
                    number = int(self.path.rsplit("/", 1)[1])
                    fake.comments[number]["body"] = self._body()["body"]
                    self._send(200, fake.comments[number])
                else:
                    self._send(404, {"message": "Not Found"})

            do_GET = do_POST = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeGitHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def github_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        monkeypatch.setenv("GITHUB_API_URL", fake.url)
        monkeypatch.setenv("GITHUB_REPOSITORY", "acme/bot")
        monkeypatch.setenv("GITHUB_TOKEN", "ghs_" + "x" * 36)
        monkeypatch.setenv("RAGFT_PR", "7")
        yield fake


def test_two_runs_leave_one_updated_comment(project: Project, github_env: FakeGitHub) -> None:
    project.standard(report={"github": "auto"})
    first = project.run()
    assert first.ret == 1
    first.stdout.fnmatch_lines(["written:*PR comment: created*"])
    (project.path / "evals" / "behavior.yaml").unlink()
    second = project.run()
    assert second.ret == 0
    second.stdout.fnmatch_lines(["written:*PR comment: updated*"])
    assert len(github_env.comments) == 1
    body = github_env.comments[1]["body"]
    assert body.startswith("<!-- ragft:report suite=demo -->")
    assert "behavior" not in body.split("\n", 3)[1]  # updated: the second run has no behavior
    assert [m for m, _ in github_env.requests] == ["GET", "POST", "GET", "PATCH"]


@pytest.mark.parametrize(
    ("mode", "ret"),
    [pytest.param("auto", 0, id="auto"), pytest.param("always", 1, id="always")],
)
def test_a_failing_api(project: Project, github_env: FakeGitHub, mode: str, ret: int) -> None:
    github_env.fail_with = 404
    project.standard(thresholds={"behavior": 0.0}, report={"github": mode})
    result = project.run()
    assert result.ret == ret
    result.stdout.fnmatch_lines(["warning: PR comment not posted:*404*"])
    assert "ghs_" not in result.stdout.str()


def test_step_summary(project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "step-summary.md"
    summary.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    project.standard(thresholds={"behavior": 0.0})
    project.run()
    text = summary.read_text()
    assert text.startswith("# earlier step\n<!-- ragft:report suite=demo -->")
    assert "polite" in text


def test_no_token_is_said_once(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGFT_PR", "7")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/bot")
    project.standard(thresholds={"behavior": 0.0}, report={"github": "auto"})
    result = project.run()
    assert result.ret == 0
    assert result.stdout.str().count("no GitHub token") == 1


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_closing_the_caller_closes_its_loop_and_late_answers_are_dropped() -> None:
    """Nothing of a run's call loop outlives it: not its sockets, not a late answer's error."""
    from pytest_ragft.pipeline import Caller

    release = threading.Event()

    def pipeline(question: str) -> str:
        if question == "late":
            release.wait(5)
        return question

    caller = Caller(pipeline, concurrency=2, timeout_s=0.05)
    assert caller.submit(caller.call("hi", {})).result().answer == "hi"  # type: ignore[union-attr]
    late = caller.submit(caller.call("late", {})).result()
    assert "timeout_s = 0.05" in late.message  # type: ignore[union-attr]
    caller.close()
    assert caller.loop.is_closed()
    release.set()
    for thread in threading.enumerate():
        if thread.name == "ragft-call":
            thread.join(5)


@pytest.mark.parametrize(
    ("regression_action", "exit_code"),
    [
        pytest.param("fail", 1, id="regression-gate-fails"),
        pytest.param("warn", 0, id="regression-gate-warns"),
    ],
)
def test_an_unusable_history_store_is_said_and_loses_no_report(
    project: Project, regression_action: str, exit_code: int
) -> None:
    project.standard(
        history=".ragft/history.sqlite",
        thresholds={"behavior": 0.0},
        gate={"regression": regression_action},
    )
    store = project.path / ".ragft" / "history.sqlite"
    store.parent.mkdir()
    store.write_bytes(b"this is not a database" * 100)
    result = project.run()
    assert result.ret == exit_code
    result.stdout.fnmatch_lines(["*history.sqlite is not a SQLite database or is damaged*"])
    assert store.read_bytes() == b"this is not a database" * 100  # left as it was
    report = project.report()
    assert report["gate"]["verdict"] == ("fail" if exit_code else "pass")
    assert len(report["cases"]) == 4
    assert "Traceback" not in result.stdout.str()


@pytest.mark.parametrize(
    "define", [pytest.param("def", id="sync"), pytest.param("async def", id="async")]
)
def test_a_pipeline_that_exits_is_an_error_and_the_run_goes_on(
    project: Project, define: str
) -> None:
    project.configure(thresholds={"knowledge": 0.0})
    project.pipeline(
        f"""
        import sys

        {define} answer(question, **vars):
            if question == "exit":
                sys.exit(3)
            return question
        """
    )
    project.cases(
        "knowledge",
        [
            case_yaml("exits", "knowledge", "exit", {"contains": "x"}),
            case_yaml("answers", "knowledge", "30 days", {"contains": "30 days"}),
        ],
    )
    result = project.run_subprocess()
    result.stdout.fnmatch_lines(["*the pipeline raised SystemExit: 3*"])
    assert project.outcomes() == {"exits": "error", "answers": "passed"}
    assert result.ret == 0


@pytest.mark.parametrize(
    "selection",
    [
        pytest.param([], id="whole-suite"),
        pytest.param(["evals/behavior.yaml"], id="other-file-only"),
        pytest.param(["-k", "short"], id="keyword"),
    ],
)
def test_contamination_counts_every_eval_case_whatever_is_selected(
    project: Project, selection: list[str]
) -> None:
    project.standard(
        thresholds={"behavior": 0.0},
        checklist={"training_data": ["finetune/*.jsonl"], "min_training_examples": 1},
    )
    train = project.path / "finetune" / "train.jsonl"
    train.parent.mkdir()
    rows = [
        {"prompt": "30 days", "completion": "leaks the refund-window case"},
        {"prompt": "something new", "completion": "fine"},
    ]
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    project.run(*selection)
    evidence = project.report()["checklist"][2]["evidence"]
    assert "1 equal to an eval case's input" in evidence, evidence
    assert evidence.startswith("1 valid example"), evidence
