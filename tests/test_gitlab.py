"""The sticky merge-request note against a local stand-in for the GitLab v4 API, and
``post_report`` choosing the forge from the environment."""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from pytest_ragft.comment import choose_forge, post_report
from pytest_ragft.config import ReportSettings, Settings
from pytest_ragft.gitlab import (
    NO_TOKEN_HINT,
    MRContext,
    missing_context,
    mr_context,
    upsert_note,
)
from pytest_ragft.report.markdown import report_marker
from pytest_ragft.sticky import Posted, PostError

TOKEN = "glpat-Sup3rSecretTokenValue0123"
MALLORY_TOKEN = "glpat-MalloryTokenValue01234567"
PROJECT, MR = "42", 7
USERS = {
    TOKEN: {"id": 11, "username": "project_42_bot_x1"},
    MALLORY_TOKEN: {"id": 12, "username": "mallory"},
}
MARKER = report_marker("support-bot")
NOTES = f"/api/v4/projects/{PROJECT}/merge_requests/{MR}/notes"


@dataclass
class FakeGitLab:
    """The notes of one merge request. ``queued`` responses are served first, whatever the
    request; ``link`` chooses the paging header GitLab sends (``Link`` or only ``X-Next-Page``)."""

    base: str = ""
    notes: list[dict[str, Any]] = field(default_factory=list)
    queued: list[tuple[int, dict[str, str], Any]] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    link: bool = True
    next_id: int = 500

    def add(self, body: str, user: str = TOKEN, system: bool = False) -> dict[str, Any]:
        self.next_id += 1
        when = f"2024-05-01T10:{self.next_id // 60 % 60:02d}:{self.next_id % 60:02d}Z"
        note = {
            "id": self.next_id,
            "body": body,
            "author": dict(USERS[user]),
            "system": system,
            "created_at": when,
            "updated_at": when,
        }
        self.notes.append(note)
        return note


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = b"" if status == 204 else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _page(self, query: str) -> None:
        gl = self.server.gl
        params = parse_qs(query)
        per_page, page = int(params["per_page"][0]), int(params.get("page", ["1"])[0])
        chunk = gl.notes[(page - 1) * per_page : page * per_page]
        headers = {"X-Page": str(page), "X-Per-Page": str(per_page), "X-Total": str(len(gl.notes))}
        if page * per_page < len(gl.notes):
            headers["X-Next-Page"] = str(page + 1)
            if gl.link:
                nxt = f"{gl.base}{NOTES}?per_page={per_page}&sort=asc&page={page + 1}"
                headers["Link"] = f'<{nxt}>; rel="next", <{nxt}>; rel="last"'
        self._send(200, chunk, headers)

    def _handle(self, method: str) -> None:
        gl = self.server.gl
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        gl.requests.append((method, self.path, dict(self.headers)))
        if gl.queued:
            status, headers, payload = gl.queued.pop(0)
            self._send(status, payload, headers)
            return
        user = USERS.get(self.headers.get("PRIVATE-TOKEN", ""))
        if user is None:
            self._send(401, {"message": "401 Unauthorized"})
            return
        url = urlsplit(self.path)
        one = re.fullmatch(rf"{NOTES}/(\d+)", url.path)
        found = [n for n in gl.notes if one and n["id"] == int(one.group(1))]
        if method == "GET" and url.path == "/api/v4/user":
            self._send(200, user)
        elif method == "GET" and url.path == NOTES:
            self._page(url.query)
        elif method == "POST" and url.path == NOTES:
            token = self.headers["PRIVATE-TOKEN"]
            self._send(201, gl.add(json.loads(raw)["body"], user=token))
        elif one and not found:
            self._send(404, {"message": "404 Not found"})
        elif one and found[0]["author"]["id"] != user["id"]:
            self._send(403, {"message": "403 Forbidden"})
        elif method == "PUT" and one:
            found[0]["body"] = json.loads(raw)["body"]
            self._send(200, found[0])
        elif method == "DELETE" and one:
            gl.notes.remove(found[0])
            self._send(204, None)
        else:
            self._send(404, {"message": "404 Not found"})

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")


class _Server(ThreadingHTTPServer):
    gl: FakeGitLab

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture
def gitlab() -> Iterator[FakeGitLab]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.gl = FakeGitLab(base=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server.gl
    finally:
        server.shutdown()
        server.server_close()


class Waits(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)

    def clock(self) -> float:
        return time.monotonic() + sum(self)


def ctx_for(gl: FakeGitLab, token: str = TOKEN, mr: int = MR) -> MRContext:
    return MRContext(
        f"{gl.base}/api/v4", PROJECT, mr, token, "https://gl.example/acme/bot/-/merge_requests/7"
    )


def post(gl: FakeGitLab, text: str = "all good", waits: Waits | None = None, **kw: Any) -> Posted:
    waits = Waits() if waits is None else waits
    return upsert_note(
        kw.pop("ctx", None) or ctx_for(gl),
        f"{MARKER}\n{text}",
        suite="support-bot",
        sleep=waits,
        clock=waits.clock,
        **kw,
    )


def plain(note: dict[str, Any]) -> str:
    return re.sub(r"<!-- ragft:run [0-9a-f]{16} -->", "", note["body"], count=1)


def methods(gl: FakeGitLab) -> list[str]:
    return [m for m, _, _ in gl.requests]


# --- create, update, paging -------------------------------------------------------------------


def test_create_then_update_leaves_one_note(gitlab: FakeGitLab) -> None:
    first = post(gitlab, "run 1")
    second = post(gitlab, "run 2")
    assert (first.action, second.action) == ("created", "updated")
    assert first.note_id == second.note_id
    assert [plain(n) for n in gitlab.notes] == [f"{MARKER}\nrun 2"]
    assert second.url == f"https://gl.example/acme/bot/-/merge_requests/7#note_{first.note_id}"
    assert methods(gitlab) == ["GET", "GET", "POST", "GET", "GET", "PUT"]
    for _, _, headers in gitlab.requests:
        assert headers["PRIVATE-TOKEN"] == TOKEN
        assert headers["User-Agent"].startswith("pytest-ragft/")


@pytest.mark.parametrize(
    "link", [pytest.param(True, id="link-header"), pytest.param(False, id="x-next-page-only")]
)
def test_note_on_page_three_is_updated(gitlab: FakeGitLab, link: bool) -> None:
    gitlab.link = link
    for i in range(120):
        gitlab.add(f"review note {i} quoting {MARKER}", user=MALLORY_TOKEN)
    gitlab.add("merged main into this branch", system=True)
    for i in range(120):
        gitlab.add(f"another note {i}", user=MALLORY_TOKEN)
    mine = gitlab.add(f"{MARKER}\nold")
    result = post(gitlab, "new")
    assert (result.action, result.note_id) == ("updated", mine["id"])
    assert plain(mine) == f"{MARKER}\nnew"
    pages = [
        parse_qs(urlsplit(p).query).get("page", ["1"])[0]
        for m, p, _ in gitlab.requests
        if m == "GET" and "/notes" in p
    ]
    assert pages == ["1", "2", "3"]
    assert len(gitlab.notes) == 242


def test_forged_marker_in_another_users_note_is_never_touched(gitlab: FakeGitLab) -> None:
    forged = gitlab.add(f"{MARKER}\nforged", user=MALLORY_TOKEN)
    result = post(gitlab, "run 1")
    assert result.action == "created"
    assert result.note_id != forged["id"]
    again = post(gitlab, "run 2")
    assert (again.action, again.note_id) == ("updated", result.note_id)
    assert forged["body"] == f"{MARKER}\nforged"
    assert "PUT" not in [m for m, p, _ in gitlab.requests if p.endswith(str(forged["id"]))]
    assert "DELETE" not in methods(gitlab)


def test_events_mode_without_a_note_creates_nothing(gitlab: FakeGitLab) -> None:
    result = post(gitlab, create=False)
    assert result.action == "skipped"
    assert gitlab.notes == []


def test_next_link_back_to_the_first_page_is_not_followed(gitlab: FakeGitLab) -> None:
    first = f"{gitlab.base}{NOTES}?per_page=100&sort=asc&order_by=created_at"
    gitlab.queued = [
        (200, {"id": "11"}, {"id": 11}),
        (200, {"Link": f'<{first}&page=2>; rel="next"'}, []),
        (200, {"Link": f'<{first}>; rel="next"', "X-Next-Page": "1"}, []),
    ]
    result = post(gitlab)
    assert result.action == "created"
    assert methods(gitlab) == ["GET", "GET", "GET", "POST"]


def test_a_duplicate_of_an_earlier_run_is_removed(gitlab: FakeGitLab) -> None:
    older = gitlab.add(f"{MARKER}<!-- ragft:run {'a' * 16} -->\nrun 1")
    newer = gitlab.add(f"{MARKER}<!-- ragft:run {'b' * 16} -->\nrun 1 landed late")
    result = post(gitlab, "run 2")
    assert (result.action, result.note_id) == ("updated", newer["id"])
    assert [n["id"] for n in gitlab.notes] == [newer["id"]]
    assert any(f"id {older['id']}" in note for note in result.notes)


# --- failures ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("queued", "ctx_kwargs", "status", "advice"),
    [
        pytest.param(
            [], {"token": "glpat-WrongWrongWrongWrong1"}, 401, "RAGFT_GITLAB_TOKEN", id="401"
        ),
        pytest.param(
            [(200, {}, {"id": 11}), (200, {}, []), (403, {}, {"message": "403 Forbidden"})],
            {},
            403,
            "Reporter role",
            id="403-on-create",
        ),
        pytest.param([], {"mr": 999}, 404, "CI_MERGE_REQUEST_IID", id="404-unknown-mr"),
        pytest.param(
            [(200, {}, {"id": 11}), (400, {}, {"message": {"base": ["bad page"]}})],
            {},
            400,
            "not the note",
            id="400-on-a-listing",
        ),
    ],
)
def test_client_errors_say_what_to_do_without_the_token(
    gitlab: FakeGitLab,
    caplog: pytest.LogCaptureFixture,
    queued: list[tuple[int, dict[str, str], Any]],
    ctx_kwargs: dict[str, Any],
    status: int,
    advice: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    gitlab.queued = list(queued)
    ctx = ctx_for(gitlab, **ctx_kwargs)
    with pytest.raises(PostError) as info:
        post(gitlab, ctx=ctx)
    message = str(info.value)
    assert info.value.status == status
    assert advice in message
    assert f"project {PROJECT} !" in message
    for secret in (TOKEN, ctx.token):
        assert secret not in message
        assert secret not in caplog.text
        assert secret not in repr(ctx)


def test_403_on_the_user_endpoint_falls_back_on_the_authors(gitlab: FakeGitLab) -> None:
    gitlab.queued = [(403, {}, {"message": "403 Forbidden - insufficient_scope"})]
    result = post(gitlab)
    assert result.action == "created"


@pytest.mark.parametrize(
    ("queued", "action", "waits"),
    [
        pytest.param([(500, {}, {})], "created", [1.0], id="500-on-user-then-success"),
        pytest.param(
            [(200, {}, {"id": 11}), (502, {}, {}), (503, {}, {})],
            "created",
            [1.0, 2.0],
            id="5xx-listing",
        ),
        pytest.param([(429, {"Retry-After": "3"}, {})], "created", [3.0], id="429-retry-after"),
        pytest.param([(429, {}, {})], "created", [1.0], id="429-without-retry-after"),
        pytest.param(
            [(429, {"RateLimit-Remaining": "0", "RateLimit-Reset": "SOON"}, {})],
            "created",
            None,
            id="ratelimit-reset",
        ),
    ],
)
def test_retries_and_rate_limits(
    gitlab: FakeGitLab,
    queued: list[tuple[int, dict[str, str], Any]],
    action: str,
    waits: list[float] | None,
) -> None:
    soon = str(int(time.time()) + 4)
    gitlab.queued = [
        (s, {k: soon if v == "SOON" else v for k, v in h.items()}, p) for s, h, p in queued
    ]
    recorded = Waits()
    result = post(gitlab, waits=recorded)
    assert result.action == action
    assert len(gitlab.notes) == 1
    if waits is None:
        assert len(recorded) == 1 and 0 < recorded[0] <= 6
    else:
        assert recorded == waits


def test_persistent_429_with_retry_after_100_gives_up_at_once(gitlab: FakeGitLab) -> None:
    gitlab.queued = [(429, {"Retry-After": "100"}, {"message": "Retry later"})] * 10
    started = time.monotonic()
    with pytest.raises(PostError) as info:
        upsert_note(ctx_for(gitlab), "x", suite="support-bot")  # real clock and sleep
    assert time.monotonic() - started < 30
    assert "asks to wait 100 s" in str(info.value)
    assert "the run goes on without it" in str(info.value)
    assert info.value.status == 429
    assert len(gitlab.requests) == 1


def test_post_failing_with_502_lists_again_before_posting(gitlab: FakeGitLab) -> None:
    gitlab.queued = [(200, {}, {"id": 11}), (200, {}, []), (502, {}, {"message": "502"})]
    recorded = Waits()
    result = post(gitlab, waits=recorded)
    assert result.action == "created"
    assert len(gitlab.notes) == 1
    assert methods(gitlab) == ["GET", "GET", "POST", "GET", "POST", "GET"]
    assert recorded == [1.0, 10.0]


# --- where the note goes ---------------------------------------------------------------------

MR_ENV = {
    "GITLAB_CI": "true",
    "CI_API_V4_URL": "https://gitlab.example.com/api/v4",
    "CI_PROJECT_ID": "42",
    "CI_MERGE_REQUEST_IID": "7",
    "CI_PIPELINE_SOURCE": "merge_request_event",
    "CI_PROJECT_URL": "https://gitlab.example.com/acme/bot",
}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param(
            {**MR_ENV, "RAGFT_GITLAB_TOKEN": "t"},
            ("https://gitlab.example.com/api/v4", "42", 7),
            id="merge-request-pipeline",
        ),
        pytest.param(
            {
                **MR_ENV,
                "RAGFT_GITLAB_TOKEN": "t",
                "CI_API_V4_URL": "",
                "CI_SERVER_URL": "https://gl.test/",
            },
            ("https://gl.test/api/v4", "42", 7),
            id="server-url-only",
        ),
        pytest.param(
            {**MR_ENV, "RAGFT_GITLAB_TOKEN": "t", "CI_MERGE_REQUEST_PROJECT_ID": "9"},
            ("https://gitlab.example.com/api/v4", "9", 7),
            id="fork-mr-goes-to-the-target-project",
        ),
        pytest.param(
            {**MR_ENV, "RAGFT_GITLAB_TOKEN": "t", "RAGFT_PR": "!12"},
            ("https://gitlab.example.com/api/v4", "42", 12),
            id="ragft-pr-wins",
        ),
    ],
)
def test_mr_context(env: dict[str, str], expected: tuple[Any, ...]) -> None:
    ctx = mr_context(env)
    assert ctx is not None
    assert (ctx.api_url, ctx.project, ctx.mr) == expected
    assert missing_context(env) == []


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        pytest.param(
            {**MR_ENV, "CI_JOB_TOKEN": "x"}, ["CI_JOB_TOKEN cannot write"], id="job-token-only"
        ),
        pytest.param(
            {**MR_ENV, "RAGFT_GITLAB_TOKEN": "t", "CI_MERGE_REQUEST_IID": ""},
            ["merge_request_event"],
            id="branch-pipeline",
        ),
        pytest.param(
            {**MR_ENV, "RAGFT_GITLAB_TOKEN": "t", "CI_PROJECT_ID": ""},
            ["CI_PROJECT_ID"],
            id="no-project",
        ),
        pytest.param(
            {**MR_ENV, "RAGFT_GITLAB_TOKEN": "t", "RAGFT_PR": "x1"},
            ["RAGFT_PR='x1'"],
            id="bad-ragft-pr",
        ),
        pytest.param(
            {"GITLAB_CI": "true"},
            [NO_TOKEN_HINT, "CI_API_V4_URL", "CI_PROJECT_ID", "CI_MERGE_REQUEST_IID"],
            id="nothing",
        ),
    ],
)
def test_missing_context_says_what(env: dict[str, str], missing: list[str]) -> None:
    assert mr_context(env) is None
    problems = missing_context(env)
    assert len(problems) == len(missing)
    for problem, words in zip(problems, missing, strict=True):
        assert words in problem


def test_no_token_hint_says_how_to_make_one() -> None:
    assert "RAGFT_GITLAB_TOKEN" in NO_TOKEN_HINT
    assert "`api` scope" in NO_TOKEN_HINT
    assert "masked" in NO_TOKEN_HINT


# --- post_report -----------------------------------------------------------------------------


def settings(tmp_path: Path, github: Any = "auto", comment: Any = "auto") -> Settings:
    return Settings(rootdir=tmp_path, report=ReportSettings(github=github, comment=comment))


@pytest.mark.parametrize(
    ("setting", "env", "forge"),
    [
        pytest.param("auto", {"GITLAB_CI": "true"}, "gitlab", id="gitlab-ci"),
        pytest.param("auto", {"GITHUB_ACTIONS": "true"}, "github", id="github-actions"),
        pytest.param("auto", {}, "github", id="anywhere-else"),
        pytest.param("auto", {"CI_API_V4_URL": "https://gl/api/v4"}, "gitlab", id="gitlab-vars"),
        pytest.param("github", {"GITLAB_CI": "true"}, "github", id="forced-github"),
        pytest.param("gitlab", {"GITHUB_ACTIONS": "true"}, "gitlab", id="forced-gitlab"),
    ],
)
def test_choose_forge(setting: Any, env: dict[str, str], forge: str) -> None:
    assert choose_forge(setting, env) == forge


def test_post_report_creates_then_updates_the_mr_note(gitlab: FakeGitLab, tmp_path: Path) -> None:
    env = {**MR_ENV, "CI_API_V4_URL": f"{gitlab.base}/api/v4", "RAGFT_GITLAB_TOKEN": TOKEN}
    first = post_report(settings(tmp_path), env, f"{MARKER}\none", "support-bot", create=True)
    second = post_report(settings(tmp_path), env, f"{MARKER}\ntwo", "support-bot", create=True)
    assert (first.forge, first.written, first.failure) == ("gitlab", "MR note: created", None)
    assert second.written == "MR note: updated"
    assert (
        second.url
        == f"https://gitlab.example.com/acme/bot/-/merge_requests/7#note_{first_id(gitlab)}"
    )
    assert [plain(n) for n in gitlab.notes] == [f"{MARKER}\ntwo"]


def first_id(gl: FakeGitLab) -> int:
    return int(gl.notes[0]["id"])


@pytest.mark.parametrize(
    ("github", "env", "notes", "failure"),
    [
        pytest.param("never", {**MR_ENV}, [], False, id="never-posts-nothing"),
        pytest.param(
            "auto",
            {**MR_ENV, "CI_JOB_TOKEN": "j"},
            ["MR note not posted: no GitLab token"],
            False,
            id="mr-without-token",
        ),
        pytest.param(
            "auto",
            {"GITLAB_CI": "true", "CI_JOB_TOKEN": "j"},
            [],
            False,
            id="branch-pipeline-says-nothing",
        ),
        pytest.param(
            "always",
            {"GITLAB_CI": "true"},
            ["MR note not posted: no GitLab token"],
            True,
            id="always-fails",
        ),
        pytest.param(
            "auto",
            {"GITHUB_ACTIONS": "true", "RAGFT_PR": "3"},
            ["PR comment not posted: no GitHub token"],
            False,
            id="github-pr-without-token",
        ),
    ],
)
def test_post_report_without_what_it_needs(
    tmp_path: Path, github: Any, env: dict[str, str], notes: list[str], failure: bool
) -> None:
    outcome = post_report(settings(tmp_path, github), env, "x", "support-bot", create=True)
    assert outcome.written is None
    assert len(outcome.notes) == len(notes)
    for note, words in zip(outcome.notes, notes, strict=True):
        assert note.startswith(words)
    assert (outcome.failure is not None) is failure


@pytest.mark.parametrize(
    ("github", "failure"),
    [
        pytest.param("auto", None, id="auto-warns"),
        pytest.param(
            "always", "the MR note could not be posted (github = always)", id="always-fails"
        ),
    ],
)
def test_post_report_failed_post(
    gitlab: FakeGitLab, tmp_path: Path, github: Any, failure: str | None
) -> None:
    env = {
        **MR_ENV,
        "CI_API_V4_URL": f"{gitlab.base}/api/v4",
        "RAGFT_GITLAB_TOKEN": "glpat-NotAValidTokenAtAll0",
    }
    outcome = post_report(settings(tmp_path, github), env, "x", "support-bot", create=True)
    assert outcome.failure == failure
    assert outcome.written is None
    assert len(outcome.notes) == 1 and "HTTP 401" in outcome.notes[0]
    assert "glpat-" not in outcome.notes[0]


# --- ragft comment -----------------------------------------------------------------------------


def test_ragft_comment_posts_the_report_as_an_mr_note(
    gitlab: FakeGitLab,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pytest_ragft.cli import main
    from pytest_ragft.report.jsonfile import write_json
    from tests.reportdata import build_report

    path = tmp_path / "ragft-report.json"
    report = build_report(6, suite="support-bot")
    report["git"]["pr"] = MR  # the merge request the run was for: where the note goes
    write_json(report, path)
    monkeypatch.chdir(tmp_path)
    for name, value in {**MR_ENV, "CI_API_V4_URL": f"{gitlab.base}/api/v4"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("RAGFT_GITLAB_TOKEN", raising=False)
    assert main(["comment", "--report", str(path)]) == 2
    assert "CI_JOB_TOKEN cannot write merge-request notes" in capsys.readouterr().err
    monkeypatch.setenv("RAGFT_GITLAB_TOKEN", TOKEN)
    code = main(["comment", "--report", str(path)])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert (
        out
        == f"note created: {MR_ENV['CI_PROJECT_URL']}/-/merge_requests/7#note_{first_id(gitlab)}\n"
    )
    assert gitlab.notes[0]["body"].startswith(MARKER + "<!-- ragft:run ")
    assert TOKEN not in out
