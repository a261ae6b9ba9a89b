"""The sticky comment against a local stand-in for the GitHub REST API, failures included."""

from __future__ import annotations

import json
import logging
import re
import socket
import subprocess
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

import pytest_ragft.sticky
from pytest_ragft.github import (
    NO_TOKEN_CLI_HINT,
    NO_TOKEN_HINT,
    STEP_SUMMARY_BUDGET,
    GitHubError,
    PRContext,
    append_step_summary,
    missing_context,
    pick_comment,
    pr_context,
    upsert_comment,
)
from pytest_ragft.history.gitmeta import git_metadata, pr_number
from pytest_ragft.report.markdown import report_marker
from pytest_ragft.sticky import run_tag

TOKEN = "ghs_Sup3rSecretTokenValue0123456789abcd"
REPO = "acme/support-bot"
PR = 7
MARKER = report_marker("support-bot")


BOT = "github-actions[bot]"


@dataclass
class FakeGitHub:
    """Issue comments of one PR, plus queued responses served before the normal ones.

    The token posts as ``BOT``. ``refused`` maps comment ids to the status a PATCH of them gets;
    ``post_faults`` are the next POSTs' ``(status, created)``: the comment may be created and
    the answer still be an error; ``slow_posts`` POSTs are answered ``delay`` seconds late.
    """

    base: str = ""
    comments: list[dict[str, Any]] = field(default_factory=list)
    queued: list[tuple[int, dict[str, str], Any]] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    refused: dict[int, int] = field(default_factory=dict)
    post_faults: list[tuple[int, bool]] = field(default_factory=list)
    slow_posts: int = 0
    delay: float = 0.0
    next_id: int = 1000
    # The next POST waits for this event before it creates the comment (a post that lands late).
    hold: threading.Event | None = None
    endless: bool = False  # every page links to one more

    def stamp(self) -> str:
        self.next_id += 1
        return f"2024-05-01T10:{self.next_id // 60 % 60:02d}:{self.next_id % 60:02d}Z"

    def add(self, body: str, login: str = BOT, kind: str = "Bot") -> dict[str, Any]:
        when = self.stamp()
        comment = {
            "id": self.next_id,
            "body": body,
            "html_url": f"https://gh/c/{self.next_id}",
            "user": {"login": login, "type": kind},
            "created_at": when,
            "updated_at": when,
        }
        self.comments.append(comment)
        return comment


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        if status == 204:
            data = b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        gh = self.server.gh
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        gh.requests.append((method, self.path, dict(self.headers)))
        if gh.queued:
            status, headers, payload = gh.queued.pop(0)
            self._send(status, payload, headers)
            return
        auth = self.headers.get("Authorization", "")
        if auth != f"Bearer {TOKEN}":
            # Echo the credentials, as a careless proxy might: the client must scrub them.
            self._send(401, {"message": f"Bad credentials ({auth})"})
            return
        if self.headers.get("Accept") != "application/vnd.github+json":
            self._send(415, {"message": "bad Accept"})
            return
        url = urlsplit(self.path)
        listing = f"/repos/{REPO}/issues/{PR}/comments"
        one = re.fullmatch(rf"/repos/{REPO}/issues/comments/(\d+)", url.path)
        if method == "GET" and url.path == listing:
            query = parse_qs(url.query)
            per_page = int(query.get("per_page", ["30"])[0])
            page = int(query.get("page", ["1"])[0])
            chunk = gh.comments[(page - 1) * per_page : page * per_page]
            headers = {}
            if page * per_page < len(gh.comments) or gh.endless:
                nxt = f"{gh.base}{listing}?per_page={per_page}&page={page + 1}"
                headers["Link"] = f'<{nxt}>; rel="next", <{nxt}>; rel="last"'
            self._send(200, chunk, headers)
        elif method in ("POST", "PATCH") and (url.path == listing or one):
            body = json.loads(raw)["body"]
            if len(body) > 65_536:
                self._send(422, {"message": "Validation Failed: body is too long"})
            elif one:
                found = [c for c in gh.comments if c["id"] == int(one.group(1))]
                if not found or found[0]["id"] in gh.refused:
                    status = gh.refused.get(int(one.group(1)), 404)
                    self._send(status, {"message": "Resource not accessible by integration"})
                    return
                found[0]["body"] = body
                found[0]["updated_at"] = gh.stamp()
                self._send(200, found[0])
            elif gh.hold is not None:
                hold, gh.hold = gh.hold, None
                hold.wait(10)
                gh.add(body)
                self._send(201, gh.comments[-1])
            elif gh.post_faults:
                status, created = gh.post_faults.pop(0)
                if created:
                    gh.add(body)
                self._send(status, {"message": "Server Error"})
            else:
                comment = gh.add(body)
                if gh.slow_posts:
                    gh.slow_posts -= 1
                    time.sleep(gh.delay)  # created, but answered after the client gave up
                self._send(201, comment)
        elif method == "DELETE" and one:
            before = len(gh.comments)
            gh.comments[:] = [c for c in gh.comments if c["id"] != int(one.group(1))]
            self._send(204 if len(gh.comments) < before else 404, b"")
        else:
            self._send(404, {"message": "Not Found"})

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")


class _Server(ThreadingHTTPServer):
    gh: FakeGitHub

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that timed out
            super().handle_error(request, client_address)


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.gh = FakeGitHub(base=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server.gh
    finally:
        server.shutdown()
        server.server_close()


def ctx_for(gh: FakeGitHub, *, token: str = TOKEN, pr: int = PR) -> PRContext:
    return PRContext(repository=REPO, pr=pr, token=token, api_url=gh.base)


class Waits(list[float]):
    """An injected sleep that records each wait instead of sleeping, and the clock that
    counts those waits as time gone by (so the time budget sees them)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)

    def clock(self) -> float:
        return time.monotonic() + sum(self)


def fake_time() -> dict[str, Any]:
    waits = Waits()
    return {"sleep": waits, "clock": waits.clock}


def plain(comment: dict[str, Any]) -> str:
    """A comment's body without the run token its marker carries."""
    return re.sub(r"<!-- ragft:run [0-9a-f]{16} -->", "", comment["body"], count=1)


def body(text: str = "all good") -> str:
    return f"{MARKER}\n{text}"


# --- finding, updating, creating ------------------------------------------------------------


def test_two_upserts_leave_one_comment_updated(github: FakeGitHub) -> None:
    first = upsert_comment(ctx_for(github), body("run 1"), suite="support-bot", **fake_time())
    second = upsert_comment(ctx_for(github), body("run 2"), suite="support-bot", **fake_time())
    assert (first.action, second.action) == ("created", "updated")
    assert first.comment_id == second.comment_id
    assert [plain(c) for c in github.comments] == [body("run 2")]
    assert second.url == github.comments[0]["html_url"]


def test_marker_comment_on_page_three_is_found(github: FakeGitHub) -> None:
    for i in range(250):
        github.add(f"comment {i} mentioning {MARKER} but not first")
    mine = github.add(body("old"))
    result = upsert_comment(ctx_for(github), body("new"), suite="support-bot", **fake_time())
    assert (result.action, result.comment_id) == ("updated", mine["id"])
    assert plain(mine) == body("new")
    assert len(github.comments) == 251
    pages = [
        parse_qs(urlsplit(p).query).get("page", ["1"])[0]
        for m, p, _ in github.requests
        if m == "GET"
    ]
    assert pages == ["1", "2", "3"]
    assert all(c["body"].startswith("comment ") for c in github.comments[:250])


def test_another_suites_comment_is_not_touched(github: FakeGitHub) -> None:
    other = github.add(f"{report_marker('support-bot-v2')}\nother suite")
    prefix = github.add(f"{report_marker('support')}\nsuite whose name is a prefix")
    result = upsert_comment(ctx_for(github), body(), suite="support-bot", **fake_time())
    assert result.action == "created"
    assert other["body"] == f"{report_marker('support-bot-v2')}\nother suite"
    assert prefix["body"].endswith("suite whose name is a prefix")
    assert len(github.comments) == 3


@pytest.mark.parametrize(
    ("existing", "action", "count"),
    [
        pytest.param(False, "skipped", 0, id="nothing-to-update-creates-nothing"),
        pytest.param(True, "updated", 1, id="existing-comment-is-always-updated"),
    ],
)
def test_events_mode_creates_only_when_asked(
    github: FakeGitHub, existing: bool, action: str, count: int
) -> None:
    if existing:
        github.add(body("stale"))
    result = upsert_comment(ctx_for(github), body("fresh"), suite="support-bot", create=False)
    assert result.action == action
    assert len(github.comments) == count
    assert not [m for m, _, _ in github.requests if m == "POST"]
    if existing:
        assert plain(github.comments[0]) == body("fresh")


def test_body_over_the_limit_is_cut_before_sending(github: FakeGitHub) -> None:
    result = upsert_comment(ctx_for(github), body("x" * 80_000), suite="support-bot")
    assert result.action == "created"
    sent = plain(github.comments[0])
    assert len(sent) <= 65_536
    assert sent.startswith(MARKER + "\n")
    assert "cut" in sent[-200:]


def test_body_without_the_marker_gets_it(github: FakeGitHub) -> None:
    upsert_comment(ctx_for(github), "no marker here", suite="support-bot")
    upsert_comment(ctx_for(github), "second run", suite="support-bot")
    assert [plain(c) for c in github.comments] == [f"{MARKER}\nsecond run"]


def test_request_headers(github: FakeGitHub) -> None:
    upsert_comment(ctx_for(github), body(), suite="support-bot")
    for _, _, headers in github.requests:
        assert headers["Authorization"] == f"Bearer {TOKEN}"
        assert headers["Accept"] == "application/vnd.github+json"
        assert headers["X-GitHub-Api-Version"] == "2022-11-28"
        assert headers["User-Agent"].startswith("pytest-ragft/")


# --- whose comment is updated ---------------------------------------------------------------


def test_forged_marker_before_the_bots_comment_is_not_touched(github: FakeGitHub) -> None:
    forged = github.add(body("forged"), login="mallory", kind="User")
    mine = github.add(body("run 1"))
    result = upsert_comment(ctx_for(github), body("run 2"), suite="support-bot", **fake_time())
    assert (result.action, result.comment_id, result.note) == ("updated", mine["id"], None)
    assert plain(forged) == body("forged")
    assert plain(mine) == body("run 2")


def test_forged_only_pr_gets_a_new_comment_when_the_update_is_refused(
    github: FakeGitHub,
) -> None:
    forged = github.add(body("forged"), login="mallory", kind="User")
    github.refused[forged["id"]] = 403
    result = upsert_comment(ctx_for(github), body("run 1"), suite="support-bot", **fake_time())
    assert result.action == "created"
    assert result.comment_id == github.comments[1]["id"] != forged["id"]
    assert result.note is not None
    assert f"id {forged['id']}, by mallory" in result.note
    assert "HTTP 403" in result.note
    assert "new comment was created" in result.note
    assert plain(forged) == body("forged")
    assert [plain(c) for c in github.comments] == [body("forged"), body("run 1")]
    # The next run updates the bot's comment and leaves the forged one alone.
    again = upsert_comment(ctx_for(github), body("run 2"), suite="support-bot", **fake_time())
    assert (again.action, again.comment_id, again.note) == ("updated", result.comment_id, None)
    assert len(github.comments) == 2


def test_comment_deleted_before_the_update_is_created_again(github: FakeGitHub) -> None:
    gone = github.add(body("run 1"))
    github.refused[gone["id"]] = 404
    result = upsert_comment(ctx_for(github), body("run 2"), suite="support-bot", **fake_time())
    assert result.action == "created"
    assert result.note is not None
    assert "HTTP 404" in result.note


def test_refused_update_in_events_mode_creates_nothing(github: FakeGitHub) -> None:
    forged = github.add(body("forged"), login="mallory", kind="User")
    github.refused[forged["id"]] = 403
    result = upsert_comment(ctx_for(github), body(), suite="support-bot", create=False)
    assert result.action == "skipped"
    assert result.note is not None
    assert "left alone" in result.note
    assert not [m for m, _, _ in github.requests if m == "POST"]


def test_rate_limited_update_does_not_create_a_second_comment(github: FakeGitHub) -> None:
    mine = github.add(body("run 1"))
    github.queued = [(200, {}, [mine]), (403, {"Retry-After": "3600"}, {})]
    with pytest.raises(GitHubError, match="rate limit"):
        upsert_comment(ctx_for(github), body("run 2"), suite="support-bot", **fake_time())
    assert len(github.comments) == 1
    assert not [m for m, _, _ in github.requests if m == "POST"]


def _comment(
    number: int, login: str, kind: str, updated: str, text: str = MARKER
) -> dict[str, Any]:
    return {
        "id": number,
        "body": f"{text}\nrun",
        "user": {"login": login, "type": kind},
        "updated_at": f"2024-05-01T{updated}Z",
    }


OTHER_SUITE = report_marker("other-suite")


@pytest.mark.parametrize(
    ("comments", "picked"),
    [
        pytest.param([], None, id="no-comments"),
        pytest.param([_comment(1, BOT, "Bot", "10:00:00", "plain")], None, id="no-marker"),
        pytest.param(
            [_comment(1, "mallory", "User", "12:00:00"), _comment(2, BOT, "Bot", "10:00:00")],
            2,
            id="bot-wins-over-a-newer-user-comment",
        ),
        pytest.param(
            [_comment(1, BOT, "Bot", "11:00:00"), _comment(2, BOT, "Bot", "10:00:00")],
            1,
            id="latest-updated-bot-comment",
        ),
        pytest.param(
            [
                _comment(1, "alice", "User", "09:00:00", OTHER_SUITE),
                _comment(2, "alice", "User", "10:00:00"),
                _comment(3, "mallory", "User", "11:00:00"),
            ],
            2,
            id="user-who-wrote-another-suites-comment",
        ),
        pytest.param(
            [_comment(1, "alice", "User", "10:00:00"), _comment(2, "bob", "User", "11:00:00")],
            2,
            id="any-user-comment-latest-first",
        ),
        pytest.param(
            [{"id": 1, "body": MARKER}, {"id": 2, "body": MARKER, "user": "x"}],
            2,
            id="author-unknown",
        ),
    ],
)
def test_pick_comment(comments: list[dict[str, Any]], picked: int | None) -> None:
    chosen = pick_comment(comments, MARKER)
    assert (chosen["id"] if chosen is not None else None) == picked


# --- failures ---------------------------------------------------------------------------------

SOON, FAR = "soon", "far"


def _reset(when: str) -> str:
    return str(int(time.time()) + (5 if when == SOON else 3600))


@pytest.mark.parametrize(
    ("queued", "outcome", "waits"),
    [
        pytest.param([(500, {}, {})], "created", [1.0], id="500-then-success"),
        pytest.param([(502, {}, {})] * 2, "created", [1.0, 2.0], id="502-twice-then-success"),
        pytest.param([(502, {}, {})] * 5, 502, [1.0, 2.0, 4.0, 8.0], id="502-until-give-up"),
        pytest.param(
            [(403, {"Retry-After": "7"}, {"message": "You have exceeded a secondary rate limit"})],
            "created",
            [7.0],
            id="secondary-rate-limit-retry-after",
        ),
        pytest.param([(429, {"Retry-After": "3"}, {})], "created", [3.0], id="429-retry-after"),
        pytest.param([(429, {}, {})], "created", [60.0], id="429-without-retry-after"),
        pytest.param(
            [(403, {}, {"message": "You have exceeded a secondary rate limit."})],
            "created",
            [60.0],
            id="secondary-rate-limit-named-in-body",
        ),
        pytest.param(
            [(403, {"Retry-After": "10"}, {})] * 5,
            403,
            [10.0] * 4,
            id="rate-limited-until-give-up",
        ),
        pytest.param(
            [(403, {"Retry-After": "60"}, {})] * 5,
            403,
            [60.0],
            id="rate-limited-until-the-time-budget-is-spent",
        ),
        pytest.param(
            [(429, {"Retry-After": "100"}, {})] * 5, 429, [], id="retry-after-over-the-budget"
        ),
        pytest.param(
            [(403, {"Retry-After": "3600"}, {})], 403, [], id="retry-after-too-long-gives-up"
        ),
        pytest.param(
            [(403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": FAR}, {})],
            403,
            [],
            id="primary-rate-limit-resets-too-late",
        ),
        pytest.param(
            [(403, {}, {"message": "Resource not accessible by integration"})],
            403,
            [],
            id="403-permissions-not-retried",
        ),
    ],
)
def test_retries_and_rate_limits(
    github: FakeGitHub,
    queued: list[tuple[int, dict[str, str], Any]],
    outcome: Any,
    waits: list[float],
) -> None:
    github.queued = [
        (s, {k: _reset(v) if v in (SOON, FAR) else v for k, v in h.items()}, p)
        for s, h, p in queued
    ]
    recorded = Waits()
    if isinstance(outcome, str):
        result = upsert_comment(
            ctx_for(github), body(), suite="support-bot", sleep=recorded, clock=recorded.clock
        )
        assert result.action == outcome
        assert len(github.comments) == 1
    else:
        with pytest.raises(GitHubError) as info:
            upsert_comment(
                ctx_for(github), body(), suite="support-bot", sleep=recorded, clock=recorded.clock
            )
        assert info.value.status == outcome
        assert TOKEN not in str(info.value)
        assert github.comments == []
    assert recorded == waits


def test_primary_rate_limit_waits_until_reset(github: FakeGitHub) -> None:
    github.queued = [(403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": _reset(SOON)}, {})]
    recorded = Waits()
    result = upsert_comment(
        ctx_for(github), body(), suite="support-bot", sleep=recorded, clock=recorded.clock
    )
    assert result.action == "created"
    assert len(recorded) == 1
    assert 0 < recorded[0] <= 7


@pytest.mark.parametrize(
    ("faults", "action", "posts", "waits"),
    [
        pytest.param([(502, True)], "created", 1, [1.0], id="502-after-creating-is-found"),
        # Posted again, then one time-out's wait for the first post to land late.
        pytest.param(
            [(500, False)], "created", 2, [1.0, 10.0], id="500-before-creating-posts-again"
        ),
        pytest.param(
            [(502, False), (503, True)], "created", 2, [1.0, 2.0], id="second-post-created-it"
        ),
    ],
)
def test_failed_post_is_not_resent_blindly(
    github: FakeGitHub, faults: list[tuple[int, bool]], action: str, posts: int, waits: list[float]
) -> None:
    github.post_faults = list(faults)
    recorded = Waits()
    result = upsert_comment(
        ctx_for(github), body(), suite="support-bot", sleep=recorded, clock=recorded.clock
    )
    assert result.action == action
    assert [plain(c) for c in github.comments] == [body()]
    assert result.comment_id == github.comments[0]["id"]
    assert len([m for m, _, _ in github.requests if m == "POST"]) == posts
    assert recorded == waits


def test_post_failing_every_time_gives_up(github: FakeGitHub) -> None:
    github.post_faults = [(502, False)] * 5
    with pytest.raises(GitHubError, match="tried 3 times") as info:
        upsert_comment(ctx_for(github), body(), suite="support-bot", max_retries=2, **fake_time())
    assert info.value.status == 502
    assert github.comments == []
    assert len([m for m, _, _ in github.requests if m == "POST"]) == 3


def test_post_answered_after_the_time_out_leaves_one_comment(
    github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pytest_ragft.sticky, "TIMEOUT_S", 0.3)
    github.slow_posts, github.delay = 1, 1.0
    result = upsert_comment(ctx_for(github), body(), suite="support-bot", **fake_time())
    assert len(github.comments) == 1
    assert (result.action, result.comment_id) == ("created", github.comments[0]["id"])
    # Listed again after the time-out and found by its run token instead of posting twice.
    assert [m for m, _, _ in github.requests if m != "GET"] == ["POST"]


def test_post_that_never_connected_is_resent_at_once() -> None:
    import httpx

    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        if request.method == "POST" and seen.count("POST") == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(
            201 if request.method == "POST" else 200,
            json=[] if request.method == "GET" else {"id": 5, "html_url": "u"},
        )

    ctx = PRContext(REPO, PR, TOKEN, "https://api.example")
    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        result = upsert_comment(ctx, body(), suite="support-bot", client=client, **fake_time())
    assert (result.action, result.comment_id) == ("created", 5)
    assert seen == ["GET", "POST", "POST"]


def test_rate_limited_post_waits_and_posts_once(github: FakeGitHub) -> None:
    github.queued = [(200, {}, []), (429, {"Retry-After": "3"}, {})]
    recorded = Waits()
    result = upsert_comment(
        ctx_for(github), body(), suite="support-bot", sleep=recorded, clock=recorded.clock
    )
    assert result.action == "created"
    assert len(github.comments) == 1
    assert recorded == [3.0]


@pytest.mark.parametrize(
    ("payload", "said"),
    [
        pytest.param(["no", "message"], '["no", "message"]', id="json-list"),
        pytest.param("Not Found", '"Not Found"', id="json-string"),
        pytest.param(None, "null", id="json-null"),
        pytest.param({"message": ["odd"]}, '{"message": ["odd"]}', id="message-not-a-string"),
        pytest.param(
            f"<html>Not Found {TOKEN}</html>".encode(), "<html>Not Found ***</html>", id="html"
        ),
    ],
)
def test_error_body_of_any_shape_gives_a_github_error(
    github: FakeGitHub, payload: Any, said: str
) -> None:
    github.queued = [(404, {}, payload)]
    with pytest.raises(GitHubError) as info:
        upsert_comment(ctx_for(github), body(), suite="support-bot", **fake_time())
    assert info.value.status == 404
    assert "not found" in str(info.value)
    assert f"(GitHub said: {said})" in str(info.value)
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize(
    ("ctx_kwargs", "status", "advice"),
    [
        pytest.param({"token": "ghp_WrongTokenValue0123456789abcdefgh"}, 401, "check", id="401"),
        pytest.param({"pr": 999}, 404, "not found", id="404-unknown-pr"),
    ],
)
def test_client_errors_say_what_to_do_without_the_token(
    github: FakeGitHub,
    caplog: pytest.LogCaptureFixture,
    ctx_kwargs: dict[str, Any],
    status: int,
    advice: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    ctx = ctx_for(github, **ctx_kwargs)
    with pytest.raises(GitHubError) as info:
        upsert_comment(ctx, body(), suite="support-bot", **fake_time())
    message = str(info.value)
    assert info.value.status == status
    assert advice in message
    for secret in (TOKEN, ctx.token):
        assert secret not in message
        assert secret not in caplog.text
        assert secret not in repr(ctx)


def test_403_names_the_missing_permissions(github: FakeGitHub) -> None:
    github.queued = [(403, {}, {"message": f"Resource not accessible ({TOKEN})"})]
    with pytest.raises(GitHubError) as info:
        upsert_comment(ctx_for(github), body(), suite="support-bot", **fake_time())
    assert "pull-requests: write" in str(info.value)
    assert "issues: write" in str(info.value)
    assert TOKEN not in str(info.value)


def test_connection_refused_retries_then_gives_up(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ctx = PRContext(REPO, PR, TOKEN, f"http://127.0.0.1:{port}")
    recorded = Waits()
    with pytest.raises(GitHubError) as info:
        upsert_comment(
            ctx, body(), suite="support-bot", max_retries=2, sleep=recorded, clock=recorded.clock
        )
    assert "cannot reach" in str(info.value)
    assert recorded == [1.0, 2.0]
    assert TOKEN not in str(info.value)
    assert TOKEN not in caplog.text


def test_next_page_on_another_host_is_not_followed(github: FakeGitHub) -> None:
    evil = "http://attacker.invalid/repos/x?page=2"
    github.queued = [(200, {"Link": f'<{evil}>; rel="next"'}, [])]
    with pytest.raises(GitHubError, match="next page"):
        upsert_comment(ctx_for(github), body(), suite="support-bot", **fake_time())
    assert len(github.requests) == 1


# --- paging, the time budget, duplicates, markers ---------------------------------------------


def test_next_link_back_to_a_read_page_is_not_followed(github: FakeGitHub) -> None:
    first = f"{github.base}/repos/{REPO}/issues/{PR}/comments?per_page=100"
    second = f"{first}&page=2"
    github.queued = [
        (200, {"Link": f'<{second}>; rel="next"'}, []),
        (200, {"Link": f'<{first}>; rel="next", <{second}>; rel="last"'}, []),
    ]
    result = upsert_comment(ctx_for(github), body(), suite="support-bot", **fake_time())
    assert result.action == "created"
    assert [m for m, _, _ in github.requests] == ["GET", "GET", "POST"]


def test_endless_pages_stop_at_the_cap(github: FakeGitHub) -> None:
    github.endless = True
    with pytest.raises(GitHubError, match="more than 100 pages") as info:
        upsert_comment(ctx_for(github), body(), suite="support-bot", **fake_time())
    assert "rather than risk a second comment" in str(info.value)
    assert len(github.requests) == 100
    assert github.comments == []


def test_422_on_the_listing_is_not_called_a_rejected_body(github: FakeGitHub) -> None:
    github.queued = [(422, {}, {"message": "Validation Failed"})]
    with pytest.raises(GitHubError) as info:
        upsert_comment(ctx_for(github), body(), suite="support-bot", **fake_time())
    message = str(info.value)
    assert message.startswith(f"listing the comments for {REPO}#{PR} failed with HTTP 422")
    assert "comment body" not in message
    assert "check RAGFT_PR" in message


def test_422_on_the_post_names_the_body(github: FakeGitHub) -> None:
    github.queued = [(200, {}, []), (422, {}, {"message": "Validation Failed"})]
    with pytest.raises(GitHubError, match="rejected the comment body"):
        upsert_comment(ctx_for(github), body(), suite="support-bot", **fake_time())


def test_persistent_retry_after_100_gives_up_at_once_and_says_why(github: FakeGitHub) -> None:
    github.queued = [(429, {"Retry-After": "100"}, {})] * 10
    started = time.monotonic()
    with pytest.raises(GitHubError) as info:
        upsert_comment(ctx_for(github), body(), suite="support-bot")  # real sleep and clock
    assert time.monotonic() - started < 30  # generous: it must not wait the 100 s
    message = str(info.value)
    assert "asks to wait 100 s" in message
    assert "time budget" in message
    assert "the run goes on without it" in message
    assert len(github.requests) == 1


def test_primary_limit_spent_until_later_gives_up_at_once(github: FakeGitHub) -> None:
    github.queued = [(403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": _reset(FAR)}, {})]
    started = time.monotonic()
    with pytest.raises(GitHubError, match="rate limit"):
        upsert_comment(ctx_for(github), body(), suite="support-bot")
    assert time.monotonic() - started < 30
    assert len(github.requests) == 1


def test_retries_stop_when_the_time_budget_is_spent(github: FakeGitHub) -> None:
    """A clock that moves only when the engine waits: the first back-off (1 s) fits in a 3 s
    budget, the next (2 s) would leave too little for a request, so two requests are made."""
    github.queued = [(502, {}, {})] * 10
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    with pytest.raises(GitHubError, match="3 s time budget") as info:
        upsert_comment(
            ctx_for(github),
            body(),
            suite="support-bot",
            budget_s=3.0,
            sleep=sleep,
            clock=lambda: now[0],
        )
    assert info.value.status is None
    assert slept == [1.0]  # then 2 s more would leave too little for a request
    assert len(github.requests) == 2


def test_a_post_that_lands_late_is_removed(
    github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pytest_ragft.sticky, "TIMEOUT_S", 0.3)
    held = threading.Event()
    github.hold = held
    waits = Waits()

    def sleep(seconds: float) -> None:
        waits(seconds)
        if seconds == 0.3:  # the wait for a late post: let the held one land now
            held.set()
            deadline = time.monotonic() + 5
            while len(github.comments) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)

    result = upsert_comment(ctx_for(github), body(), suite="support-bot", sleep=sleep)
    assert result.action == "created"
    assert [m for m, _, _ in github.requests if m != "GET"] == ["POST", "POST", "DELETE"]
    assert [c["id"] for c in github.comments] == [result.comment_id]
    assert result.note is not None and "removed a duplicate comment" in result.note
    assert waits == [1.0, 0.3]


def test_duplicates_from_an_earlier_run_are_removed_and_others_kept(github: FakeGitHub) -> None:
    older = github.add(f"{MARKER}{run_tag('a' * 16)}\nrun 1")
    newer = github.add(f"{MARKER}{run_tag('b' * 16)}\nrun 1 again")
    forged = github.add(f"{MARKER}{run_tag('c' * 16)}\nforged", login="mallory", kind="User")
    legacy = github.add(body("written by an older ragft"))
    result = upsert_comment(ctx_for(github), body("run 2"), suite="support-bot", **fake_time())
    assert (result.action, result.comment_id) == ("updated", legacy["id"])
    assert {c["id"] for c in github.comments} == {forged["id"], legacy["id"]}
    assert result.note is not None
    assert f"id {older['id']}" in result.note and f"id {newer['id']}" in result.note
    again = upsert_comment(ctx_for(github), body("run 3"), suite="support-bot", **fake_time())
    assert (again.action, again.comment_id, again.note) == ("updated", legacy["id"], None)


def test_suites_whose_slugs_collide_keep_their_own_comments(github: FakeGitHub) -> None:
    first = upsert_comment(ctx_for(github), "A", suite="team a", **fake_time())
    second = upsert_comment(ctx_for(github), "B", suite="team_a", **fake_time())
    again = upsert_comment(ctx_for(github), "A2", suite="team a", **fake_time())
    assert first.comment_id != second.comment_id
    assert again.comment_id == first.comment_id
    assert [plain(c) for c in github.comments] == [
        f"{report_marker('team a')}\nA2",
        f"{report_marker('team_a')}\nB",
    ]


def test_each_post_carries_a_fresh_run_token(github: FakeGitHub) -> None:
    upsert_comment(ctx_for(github), body("1"), suite="support-bot", **fake_time())
    first = github.comments[0]["body"].split("\n", 1)[0]
    upsert_comment(ctx_for(github), body("2"), suite="support-bot", **fake_time())
    second = github.comments[0]["body"].split("\n", 1)[0]
    pattern = r"<!-- ragft:report suite=support-bot --><!-- ragft:run [0-9a-f]{16} -->"
    assert re.fullmatch(pattern, first) and re.fullmatch(pattern, second)
    assert first != second


# --- where the comment goes ----------------------------------------------------------------------


def _event(tmp_path: Path, payload: dict[str, Any]) -> str:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    return str(path)


@pytest.mark.parametrize(
    ("env", "event", "expected"),
    [
        pytest.param(
            {"GITHUB_TOKEN": "t1", "GITHUB_REPOSITORY": "a/b"},
            {"pull_request": {"number": 12}},
            ("t1", "a/b", 12, "https://api.github.com"),
            id="pull-request-event",
        ),
        pytest.param(
            {"GITHUB_TOKEN": "t1", "RAGFT_GITHUB_TOKEN": "t2", "GITHUB_REPOSITORY": "a/b"},
            {"issue": {"number": 5, "pull_request": {"url": "x"}}},
            ("t2", "a/b", 5, "https://api.github.com"),
            id="issue-comment-on-pr-ragft-token-wins",
        ),
        pytest.param(
            {"GITHUB_TOKEN": "t1", "GITHUB_REPOSITORY": "a/b", "RAGFT_PR": "99"},
            {"pull_request": {"number": 12}},
            ("t1", "a/b", 99, "https://api.github.com"),
            id="ragft-pr-wins",
        ),
        pytest.param(
            {
                "GITHUB_TOKEN": "t1",
                "GITHUB_REPOSITORY": "a/b",
                "GITHUB_API_URL": "https://ghe.example/api/v3/",
            },
            {"workflow_run": {"pull_requests": [{"number": 3}]}},
            ("t1", "a/b", 3, "https://ghe.example/api/v3"),
            id="enterprise-api-workflow-run",
        ),
    ],
)
def test_pr_context(
    tmp_path: Path, env: dict[str, str], event: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    environ = {**env, "GITHUB_EVENT_PATH": _event(tmp_path, event)}
    ctx = pr_context(environ)
    assert ctx is not None
    assert (ctx.token, ctx.repository, ctx.pr, ctx.api_url) == expected
    assert missing_context(environ) == []


@pytest.mark.parametrize(
    ("env", "event", "missing"),
    [
        pytest.param(
            {"GITHUB_REPOSITORY": "a/b", "RAGFT_PR": "1"}, None, [NO_TOKEN_HINT], id="no-token"
        ),
        pytest.param(
            {"GITHUB_TOKEN": "t", "RAGFT_PR": "1"}, None, ["GITHUB_REPOSITORY"], id="no-repo"
        ),
        pytest.param(
            {"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "a/b"}, None, ["RAGFT_PR"], id="no-pr"
        ),
        pytest.param(
            {"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "a/b", "GITHUB_EVENT_NAME": "push"},
            {"ref": "refs/heads/main"},
            ["push event"],
            id="push-event-has-no-pr",
        ),
        pytest.param(
            {"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "a/b"},
            {"issue": {"number": 4}},
            ["RAGFT_PR"],
            id="comment-on-plain-issue",
        ),
        pytest.param(
            {"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "a/b", "RAGFT_PR": "abc"},
            None,
            ["RAGFT_PR='abc'"],
            id="bad-ragft-pr",
        ),
        pytest.param({}, None, [NO_TOKEN_HINT, "GITHUB_REPOSITORY", "RAGFT_PR"], id="nothing"),
    ],
)
def test_missing_context_says_what(
    tmp_path: Path, env: dict[str, str], event: dict[str, Any] | None, missing: list[str]
) -> None:
    environ = dict(env)
    if event is not None:
        environ["GITHUB_EVENT_PATH"] = _event(tmp_path, event)
    assert pr_context(environ) is None
    problems = missing_context(environ)
    assert len(problems) == len(missing)
    for problem, words in zip(problems, missing, strict=True):
        assert words in problem


@pytest.mark.parametrize(
    ("env", "event", "pr"),
    [
        pytest.param({"RAGFT_PR": "12"}, None, 12, id="ragft-pr"),
        pytest.param({"RAGFT_PR": " #12 "}, None, 12, id="ragft-pr-with-hash"),
        pytest.param({}, {"pull_request": {"number": 4}}, 4, id="pull-request"),
        pytest.param({}, {"issue": {"number": 5, "pull_request": {}}}, 5, id="comment-on-a-pr"),
        pytest.param(
            {}, {"workflow_run": {"pull_requests": [{"number": 6}]}}, 6, id="workflow-run"
        ),
        pytest.param({}, {"issue": {"number": 5}}, None, id="comment-on-an-issue"),
        pytest.param({"RAGFT_PR": "#"}, {"pull_request": {"number": 4}}, None, id="bad-ragft-pr"),
    ],
)
def test_comment_and_run_metadata_agree_on_the_pr(
    tmp_path: Path, env: dict[str, str], event: dict[str, Any] | None, pr: int | None
) -> None:
    environ = {"GITHUB_ACTIONS": "true", "GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "a/b", **env}
    if event is not None:
        environ["GITHUB_EVENT_PATH"] = _event(tmp_path, event)
    ctx = pr_context(environ)
    assert (ctx.pr if ctx is not None else None) == pr
    assert git_metadata(tmp_path, environ, "main")["git"]["pr"] == pr
    assert pr_number(environ)[0] == pr
    if pr is None:
        assert pr_number(environ)[1] in missing_context(environ)


@pytest.mark.parametrize(
    ("cli", "hint"),
    [
        pytest.param(False, NO_TOKEN_HINT, id="pytest-run"),
        pytest.param(True, NO_TOKEN_CLI_HINT, id="ragft-comment"),
    ],
)
def test_missing_token_hint_fits_where_it_is_shown(cli: bool, hint: str) -> None:
    environ = {"GITHUB_REPOSITORY": "a/b", "RAGFT_PR": "1"}
    assert missing_context(environ, cli=cli) == [hint]
    assert missing_context(environ) == [NO_TOKEN_HINT]


def test_cli_hint_does_not_send_the_user_back_to_the_same_command() -> None:
    assert "ragft comment" not in NO_TOKEN_CLI_HINT
    assert "GITHUB_TOKEN" in NO_TOKEN_CLI_HINT
    assert "RAGFT_GITHUB_TOKEN" in NO_TOKEN_CLI_HINT


def test_no_token_hint_tells_how_to_post_later() -> None:
    assert "ragft comment --report ragft-report.json" in NO_TOKEN_HINT
    assert "fork" in NO_TOKEN_HINT


# --- job summary --------------------------------------------------------------------------------


def test_step_summary_unset() -> None:
    assert append_step_summary("# hi", {}) is False


def test_step_summary_appends(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    path.write_text("earlier step")
    env = {"GITHUB_STEP_SUMMARY": str(path)}
    assert append_step_summary("# one", env) is True
    assert append_step_summary("# two", env) is True
    assert path.read_text() == "earlier step\n# one\n# two\n"


@pytest.mark.parametrize(
    ("existing", "written"),
    [
        pytest.param(0, True, id="huge-report-is-cut"),
        pytest.param(STEP_SUMMARY_BUDGET - 500, False, id="full-file-is-left-alone"),
    ],
)
def test_step_summary_stays_under_the_cap(tmp_path: Path, existing: int, written: bool) -> None:
    path = tmp_path / "summary.md"
    path.write_bytes(b"x" * existing)
    markdown = "é" * 1_000_000  # two bytes each in UTF-8
    assert append_step_summary(markdown, {"GITHUB_STEP_SUMMARY": str(path)}) is written
    size = path.stat().st_size
    assert size <= STEP_SUMMARY_BUDGET < 1024 * 1024
    assert (size > existing) is written
    path.read_text(encoding="utf-8")  # still valid UTF-8 after the cut


def test_importing_does_not_import_httpx() -> None:
    code = "import sys, pytest_ragft.github; sys.exit('httpx' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
