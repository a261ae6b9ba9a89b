"""The sticky PR comment and the job summary on GitHub (SPEC 11).

One comment per suite, found by its hidden marker and updated in place, so a PR shows the latest
run instead of a pile of stale ones. httpx is imported only when something is posted.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pytest_ragft import sticky
from pytest_ragft.history.gitmeta import pr_number
from pytest_ragft.sticky import MAX_BODY_CHARS, Note

if TYPE_CHECKING:
    import httpx

DEFAULT_API_URL = "https://api.github.com"
# The step summary file is capped at 1 MiB per step by GitHub; stay well under it.
STEP_SUMMARY_BUDGET = 900 * 1024
NO_TOKEN_HINT = (
    "no GitHub token (fork pull requests get none): the comment was not posted; upload "
    "ragft-report.json and post it from a workflow_run job with "
    "`ragft comment --report ragft-report.json`"
)
# For `ragft comment` itself, where pointing back at that same command would go in circles.
NO_TOKEN_CLI_HINT = "no GitHub token: set GITHUB_TOKEN or RAGFT_GITHUB_TOKEN"


# A comment that could not be posted; the message says why and what to do, never the token.
GitHubError = sticky.PostError


@dataclass(frozen=True)
class PRContext:
    """Where the comment goes and with what credentials."""

    repository: str
    pr: int
    token: str = field(repr=False)
    api_url: str = DEFAULT_API_URL


@dataclass(frozen=True)
class CommentResult:
    action: Literal["created", "updated", "skipped"]
    url: str | None = None
    comment_id: int | None = None
    # Said when the comment bearing the marker could not be updated and was left alone.
    note: str | None = None


def _resolve(
    environ: Mapping[str, str], *, cli: bool = False
) -> tuple[PRContext | None, list[str]]:
    problems: list[str] = []
    token = environ.get("RAGFT_GITHUB_TOKEN") or environ.get("GITHUB_TOKEN") or ""
    if not token.strip():
        problems.append(NO_TOKEN_CLI_HINT if cli else NO_TOKEN_HINT)
    repository = environ.get("GITHUB_REPOSITORY", "")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repository):
        problems.append(
            f"GITHUB_REPOSITORY={repository!r} is not owner/name"
            if repository
            else "no repository (GITHUB_REPOSITORY is not set)"
        )
    pr, problem = pr_number(environ)
    if problem:
        problems.append(problem)
    api_url = (environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
    if urlsplit(api_url).scheme not in ("http", "https"):
        problems.append(f"GITHUB_API_URL={api_url!r} is not an http(s) URL")
    if problems or pr is None:
        return None, problems
    return PRContext(repository=repository, pr=pr, token=token.strip(), api_url=api_url), []


def pr_context(environ: Mapping[str, str]) -> PRContext | None:
    """Token, repository and PR number when all are present; ``missing_context`` says why not."""
    return _resolve(environ)[0]


def missing_context(environ: Mapping[str, str], *, cli: bool = False) -> list[str]:
    """Each reason no comment can be posted, worded for the user; empty when nothing is missing.

    ``cli`` words the missing token for ``ragft comment``, which cannot point back at itself.
    """
    return _resolve(environ, cli=cli)[1]


class GitHubForge:
    """The GitHub REST API's spelling of the sticky engine's calls (issue comments of a PR)."""

    name = "GitHub"

    def __init__(self, ctx: PRContext) -> None:
        self.ctx = ctx
        self.api_url = ctx.api_url.rstrip("/")
        self.where = f"{ctx.repository}#{ctx.pr}"
        self.token = ctx.token
        self._repo = f"{self.api_url}/repos/{ctx.repository}"

    def headers(self) -> dict[str, str]:
        from pytest_ragft import __version__

        return {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": f"pytest-ragft/{__version__}",
        }

    def list_url(self) -> str:
        return f"{self._repo}/issues/{self.ctx.pr}/comments?per_page=100"

    def next_url(self, response: httpx.Response, url: str) -> str | None:
        return sticky.next_link(response)

    def note(self, item: Any) -> Note | None:
        return comment_note(item)

    def create_call(self) -> tuple[str, str]:
        return "POST", f"{self._repo}/issues/{self.ctx.pr}/comments"

    def update_call(self, note_id: int) -> tuple[str, str]:
        return "PATCH", f"{self._repo}/issues/comments/{note_id}"

    def delete_call(self, note_id: int) -> tuple[str, str]:
        return "DELETE", f"{self._repo}/issues/comments/{note_id}"

    def identity_url(self) -> str | None:
        return None  # GITHUB_TOKEN may not read /user: the authors' kinds decide instead

    def identity(self, payload: Any) -> int | None:
        return None

    def rate_limit_wait(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait on a rate-limited response; None when the 403/429 is not a limit."""
        wait = sticky.retry_after(response)
        if wait is None:
            wait = sticky.until_reset(response, "X-RateLimit-Remaining", "X-RateLimit-Reset")
        if wait is not None:
            return wait
        if response.status_code == 429 or "rate limit" in response.text.lower():
            # A secondary limit without Retry-After: GitHub asks for at least a minute.
            return max(60.0, sticky.backoff(attempt))
        return None

    def advice(self, status: int, method: str) -> str:
        if status == 401:
            return "the token was refused: check RAGFT_GITHUB_TOKEN / GITHUB_TOKEN is set and valid"
        if status == 403:
            return (
                "the token may not comment: give the workflow `permissions: pull-requests: write` "
                "and `issues: write` (fork pull requests get a read-only token)"
            )
        if status == 404:
            return (
                f"repository or pull request {self.where} not found, or the token cannot see it: "
                "check GITHUB_REPOSITORY, RAGFT_PR and GITHUB_API_URL"
            )
        if status == 422 and method in ("POST", "PATCH"):
            return "GitHub rejected the comment body"
        if status == 422:
            return (
                "GitHub refused the request's parameters (not the comment): check RAGFT_PR "
                "and GITHUB_API_URL"
            )
        return "unexpected answer from GitHub"

    def outage(self) -> str:
        return "see https://www.githubstatus.com"


def comment_note(item: Any) -> Note | None:
    """A GitHub issue comment as the engine sees it; None for anything that is not one."""
    if not isinstance(item, Mapping) or not isinstance(item.get("id"), int):
        return None
    user = item.get("user")
    user = user if isinstance(user, Mapping) else {}
    login, kind, uid = user.get("login"), user.get("type"), user.get("id")
    when = item.get("updated_at") or item.get("created_at")
    url = item.get("html_url")
    return Note(
        id=item["id"],
        body=str(item.get("body") or ""),
        author=login if isinstance(login, str) else None,
        author_id=uid if isinstance(uid, int) else None,
        bot=kind == "Bot",
        updated=when if isinstance(when, str) else "",
        url=url if isinstance(url, str) else None,
    )


def cap_body(body: str, limit: int = MAX_BODY_CHARS) -> str:
    """GitHub refuses comments over 65,536 characters: cut (keeping the marker line) and say so."""
    if len(body) <= limit:
        return body
    tail = "\n\n...(cut to fit GitHub's comment limit: see the JSON report)\n"
    return body[: limit - len(tail)] + tail


def pick_comment(comments: list[Mapping[str, Any]], marker: str) -> Mapping[str, Any] | None:
    """The comment to update among the PR's ``comments``, or None when none bears ``marker``.

    Anyone can write the marker, so a comment by a bot (what GITHUB_TOKEN and GitHub Apps post
    as) wins, the latest updated first; else one by an author of another suite's ragft comment
    (a personal token's user); else any, the latest updated.
    """
    key = Note(0, marker).marker
    notes = [n for n in map(comment_note, comments) if n is not None]
    chosen = sticky.pick(notes, key[0], None) if key is not None else None
    return None if chosen is None else next(c for c in comments if c.get("id") == chosen.id)


def upsert_comment(
    ctx: PRContext,
    body: str,
    *,
    suite: str,
    create: bool = True,
    client: httpx.Client | None = None,
    max_retries: int = 4,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    budget_s: float = sticky.BUDGET_S,
) -> CommentResult:
    """Update this suite's comment on the PR (found on any page), else create it if ``create``.

    All of it within ``budget_s`` seconds, waits included; see ``sticky.Engine.upsert``.
    """
    options = sticky.Options(client, max_retries, sleep, clock, budget_s)
    posted = sticky.post(GitHubForge(ctx), body, suite, create=create, options=options)
    return CommentResult(posted.action, posted.url, posted.note_id, "; ".join(posted.notes) or None)


def append_step_summary(markdown: str, environ: Mapping[str, str]) -> bool:
    """Append to ``$GITHUB_STEP_SUMMARY``, cut to keep the file well under GitHub's 1 MiB cap.

    False when the variable is unset or the file has no room left; OSError if it cannot be written.
    """
    target = environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return False
    path = Path(target)
    existing = path.stat().st_size if path.exists() else 0
    room = STEP_SUMMARY_BUDGET - existing - 2
    tail = "\n\n...(cut to fit the job summary: see the JSON report)\n"
    if room < 1024:
        return False
    data = markdown.encode("utf-8")
    if len(data) > room:
        keep = room - len(tail.encode("utf-8"))
        data = data[:keep].decode("utf-8", errors="ignore").encode("utf-8") + tail.encode("utf-8")
    separator = b"\n" if existing and not _ends_with_newline(path) else b""
    with path.open("ab") as handle:
        handle.write(separator + data + (b"" if data.endswith(b"\n") else b"\n"))
    return True


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, 2)
        return handle.read(1) == b"\n"
