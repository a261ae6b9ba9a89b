"""The sticky PR comment and the job summary on GitHub (SPEC 11).

One comment per suite, found by its hidden marker and updated in place, so a PR shows the latest
run instead of a pile of stale ones. httpx is imported only when something is posted.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pytest_ragft.history.gitmeta import pr_number
from pytest_ragft.report.markdown import MARKER_PREFIX, report_marker

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("pytest_ragft.github")

DEFAULT_API_URL = "https://api.github.com"
MAX_BODY_CHARS = 65_536
TIMEOUT_S = 10.0
# Longest wait ragft accepts for a rate limit; past it the run goes on without the comment.
MAX_WAIT_S = 120.0
# The step summary file is capped at 1 MiB per step by GitHub; stay well under it.
STEP_SUMMARY_BUDGET = 900 * 1024
_TOKEN_SHAPES = re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{20,})")
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
NO_TOKEN_HINT = (
    "no GitHub token (fork pull requests get none): the comment was not posted; upload "
    "ragft-report.json and post it from a workflow_run job with "
    "`ragft comment --report ragft-report.json`"
)
# For `ragft comment` itself, where pointing back at that same command would go in circles.
NO_TOKEN_CLI_HINT = "no GitHub token: set GITHUB_TOKEN or RAGFT_GITHUB_TOKEN"


class GitHubError(Exception):
    """A comment that could not be posted; the message says why and what to do, never the token."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class _RateLimited(GitHubError):
    """Still rate limited after waiting: a refusal of the request, not of the token's rights."""


class _MaybeSent(GitHubError):
    """A POST that failed after it may have reached GitHub, so resending it could duplicate it."""


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


def _scrub(text: str, token: str) -> str:
    """Remove the token (and anything shaped like a GitHub token) from text meant for people."""
    if token:
        text = text.replace(token, "***")
    return _TOKEN_SHAPES.sub("***", text)


def _headers(ctx: PRContext) -> dict[str, str]:
    from pytest_ragft import __version__

    return {
        "Authorization": f"Bearer {ctx.token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
        "User-Agent": f"pytest-ragft/{__version__}",
    }


def _backoff(attempt: int) -> float:
    return float(min(2**attempt, 30))


def _rate_limit_wait(response: httpx.Response, attempt: int) -> float | None:
    """Seconds to wait on a rate-limited response; None when the 403/429 is not a rate limit."""
    retry_after = response.headers.get("Retry-After")
    if retry_after:
        try:
            return max(float(retry_after), 0.0)
        except ValueError:
            try:
                return max(parsedate_to_datetime(retry_after).timestamp() - time.time(), 0.0)
            except (TypeError, ValueError):
                return 60.0
    if response.headers.get("X-RateLimit-Remaining") == "0":
        try:
            reset = float(response.headers.get("X-RateLimit-Reset", ""))
        except ValueError:
            return 60.0
        return max(reset - time.time(), 0.0) + 1.0
    if response.status_code == 429 or "rate limit" in response.text.lower():
        # A secondary limit without Retry-After: GitHub asks for at least a minute.
        return max(60.0, _backoff(attempt))
    return None


def _status_error(response: httpx.Response, ctx: PRContext, what: str) -> GitHubError:
    status = response.status_code
    try:
        payload: Any = response.json()
    except ValueError:
        payload = None
    message = payload.get("message") if isinstance(payload, dict) else None
    # A proxy or an outage page may answer with a list, a bare string or HTML instead.
    detail = message if isinstance(message, str) else response.text
    detail = _scrub(detail.strip()[:200], ctx.token)
    said = f" (GitHub said: {detail})" if detail else ""
    where = f"{ctx.repository}#{ctx.pr}"
    if status == 401:
        advice = "the token was refused: check RAGFT_GITHUB_TOKEN / GITHUB_TOKEN is set and valid"
    elif status == 403:
        advice = (
            "the token may not comment: give the workflow `permissions: pull-requests: write` "
            "and `issues: write` (fork pull requests get a read-only token)"
        )
    elif status == 404:
        advice = (
            f"repository or pull request {where} not found, or the token cannot see it: "
            "check GITHUB_REPOSITORY, RAGFT_PR and GITHUB_API_URL"
        )
    elif status == 422:
        advice = "GitHub rejected the comment body"
    else:
        advice = "unexpected answer from GitHub"
    return GitHubError(f"{what} for {where} failed with HTTP {status}: {advice}{said}", status)


def _request(
    client: httpx.Client,
    ctx: PRContext,
    method: str,
    url: str,
    *,
    what: str,
    body: Mapping[str, Any] | None,
    max_retries: int,
    sleep: Callable[[float], None],
) -> httpx.Response:
    """One API call with retries on transport errors, 5xx and rate limits.

    A POST is resent here only when it surely never arrived (no connection was made); after a
    failure it may have survived, ``_MaybeSent`` is raised for the caller to look before resending.
    """
    import httpx

    idempotent = method != "POST"
    for attempt in range(max_retries + 1):
        last = attempt == max_retries
        try:
            response = client.request(
                method, url, headers=_headers(ctx), json=body, timeout=TIMEOUT_S
            )
        except httpx.TransportError as exc:
            reason = _scrub(f"{type(exc).__name__}: {exc}", ctx.token)
            unsent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
            if not (idempotent or unsent):
                raise _MaybeSent(
                    f"{what} failed: no answer from {ctx.api_url} ({reason}); "
                    "check the network and GITHUB_API_URL"
                ) from None
            if last:
                raise GitHubError(
                    f"{what} failed: cannot reach {ctx.api_url} after {attempt + 1} attempts "
                    f"({reason}); check the network and GITHUB_API_URL"
                ) from None
            wait = _backoff(attempt)
            log.debug("%s: %s; retrying in %.0f s", what, reason, wait)
            sleep(wait)
            continue
        status = response.status_code
        if status in (403, 429):
            wait_s = _rate_limit_wait(response, attempt)
            if wait_s is None:
                raise _status_error(response, ctx, what)
            if wait_s > MAX_WAIT_S or last:
                raise _RateLimited(
                    f"{what} failed: GitHub rate limit (HTTP {status}); "
                    + (
                        f"it lifts in {wait_s:.0f} s, longer than ragft waits ({MAX_WAIT_S:.0f} s)"
                        if wait_s > MAX_WAIT_S
                        else f"still limited after {attempt + 1} attempts"
                    )
                    + ": post later with `ragft comment --report ragft-report.json`",
                    status,
                )
            log.debug("%s: rate limited (HTTP %d); waiting %.0f s", what, status, wait_s)
            sleep(wait_s)
            continue
        if status >= 500:
            if not idempotent or last:
                error = GitHubError if idempotent else _MaybeSent
                raise error(
                    f"{what} failed: GitHub answered HTTP {status}"
                    + (f" {attempt + 1} times in a row" if idempotent else "")
                    + "; see https://www.githubstatus.com and post later with "
                    "`ragft comment --report ragft-report.json`",
                    status,
                )
            wait = _backoff(attempt)
            log.debug("%s: HTTP %d; retrying in %.0f s", what, status, wait)
            sleep(wait)
            continue
        if status >= 300:
            raise _status_error(response, ctx, what)
        return response
    raise AssertionError("unreachable")  # pragma: no cover


def _json(response: httpx.Response, ctx: PRContext, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise GitHubError(f"{what}: GitHub's answer is not JSON ({ctx.api_url})") from None


def cap_body(body: str, limit: int = MAX_BODY_CHARS) -> str:
    """GitHub refuses comments over 65,536 characters: cut (keeping the marker line) and say so."""
    if len(body) <= limit:
        return body
    tail = "\n\n...(cut to fit GitHub's comment limit: see the JSON report)\n"
    return body[: limit - len(tail)] + tail


def _author(comment: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``(login, type)`` of a comment's author, None where GitHub did not say."""
    user = comment.get("user")
    if not isinstance(user, dict):
        return None, None
    login, kind = user.get("login"), user.get("type")
    return (login if isinstance(login, str) else None), (kind if isinstance(kind, str) else None)


def _latest(comments: list[Mapping[str, Any]]) -> Mapping[str, Any]:
    def key(comment: Mapping[str, Any]) -> tuple[str, int]:
        when = comment.get("updated_at") or comment.get("created_at")
        number = comment.get("id")
        return (when if isinstance(when, str) else "", number if isinstance(number, int) else 0)

    return max(comments, key=key)


def pick_comment(comments: list[Mapping[str, Any]], marker: str) -> Mapping[str, Any] | None:
    """The comment to update among the PR's ``comments``, or None when none bears ``marker``.

    Anyone can write the marker, so a comment by a bot (what GITHUB_TOKEN and GitHub Apps post
    as) wins, the latest updated first; else one by an author of another suite's ragft comment
    (a personal token's user); else any, the latest updated.
    """
    marked = [c for c in comments if str(c.get("body") or "").startswith(marker)]
    if not marked:
        return None
    bots = [c for c in marked if _author(c)[1] == "Bot"]
    if bots:
        return _latest(bots)
    posters = {
        _author(c)[0]
        for c in comments
        if str(c.get("body") or "").startswith(MARKER_PREFIX)
        and not str(c.get("body") or "").startswith(marker)
    } - {None}
    known = [c for c in marked if _author(c)[0] in posters]
    return _latest(known or marked)


def upsert_comment(
    ctx: PRContext,
    body: str,
    *,
    suite: str,
    create: bool = True,
    client: httpx.Client | None = None,
    max_retries: int = 4,
    sleep: Callable[[float], None] = time.sleep,
) -> CommentResult:
    """Update this suite's comment on the PR (found on any page), else create it if ``create``.

    A comment bearing the marker that GitHub refuses to update (HTTP 403 or 404: someone
    else's, or deleted meanwhile) is left alone and a new one is created. A POST that may have
    arrived is not resent blindly: the comments are listed again and the new one updated.
    """
    import httpx

    marker = report_marker(suite)
    body = cap_body(body)
    if not body.startswith(marker):
        body = f"{marker}\n{body}"
        body = cap_body(body)
    own_client = client is None
    http = client if client is not None else httpx.Client(timeout=TIMEOUT_S, follow_redirects=False)
    base = ctx.api_url.rstrip("/")
    origin = urlsplit(base)[:2]

    def send(
        method: str, url: str, what: str, payload: Mapping[str, Any] | None
    ) -> tuple[httpx.Response, Any]:
        response = _request(
            http, ctx, method, url, what=what, body=payload, max_retries=max_retries, sleep=sleep
        )
        return response, _json(response, ctx, what)

    def listing() -> list[Mapping[str, Any]]:
        url: str | None = f"{base}/repos/{ctx.repository}/issues/{ctx.pr}/comments?per_page=100"
        comments: list[Mapping[str, Any]] = []
        while url:
            if urlsplit(url)[:2] != origin:  # never send the token to another host
                raise GitHubError(f"listing PR comments: the next page is not on {base}")
            response, page = send("GET", url, "listing PR comments", None)
            if not isinstance(page, list):
                raise GitHubError("listing PR comments: GitHub's answer is not a list")
            comments.extend(c for c in page if isinstance(c, dict))
            match = _NEXT_LINK.search(response.headers.get("Link", ""))
            url = match.group(1) if match else None
        return comments

    def result(action: Literal["created", "updated"], data: Any, note: str | None) -> CommentResult:
        data = data if isinstance(data, dict) else {}
        html_url, comment_id = data.get("html_url"), data.get("id")
        return CommentResult(
            action,
            html_url if isinstance(html_url, str) else None,
            comment_id if isinstance(comment_id, int) else None,
            note,
        )

    try:
        refused: set[Any] = set()
        note: str | None = None
        found = pick_comment(listing(), marker)
        for post in range(max_retries + 1):
            if found is not None:
                comment_id = found.get("id")
                comment_url = f"{base}/repos/{ctx.repository}/issues/comments/{comment_id}"
                try:
                    _, data = send("PATCH", comment_url, "updating the PR comment", {"body": body})
                except GitHubError as exc:
                    if exc.status not in (403, 404) or isinstance(exc, _RateLimited):
                        raise
                    refused.add(comment_id)
                    login = _author(found)[0] or "someone"
                    note = (
                        f"the comment bearing the marker (id {comment_id}, by {login}) could not "
                        f"be updated (HTTP {exc.status}) and was left alone"
                    )
                    log.debug("%s", note)
                else:
                    return result("updated", data, note)
            if not create:
                return CommentResult("skipped", note=note)
            new_url = f"{base}/repos/{ctx.repository}/issues/{ctx.pr}/comments"
            try:
                _, data = send("POST", new_url, "creating the PR comment", {"body": body})
            except _MaybeSent as exc:
                if post == max_retries:
                    raise GitHubError(f"{exc} (tried {post + 1} times)", exc.status) from None
                wait = _backoff(post)
                log.debug("%s; listing the comments again in %.0f s", exc, wait)
                sleep(wait)
                # Only a comment that appeared since, and was not refused, can be the one sent.
                again = [c for c in listing() if c.get("id") not in refused]
                found = pick_comment(again, marker)
                continue
            if note is not None:
                note += "; a new comment was created"
            return result("created", data, note)
        raise AssertionError("unreachable")  # pragma: no cover
    finally:
        if own_client:
            http.close()


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
