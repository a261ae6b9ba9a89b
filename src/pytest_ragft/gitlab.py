"""The sticky merge-request note on GitLab (SPEC 11), through the engine in ``sticky.py``.

Same rules as the GitHub comment: found by its marker over every page and updated, else
created; one time budget; a failed post never fails the run unless asked. Only the token's own
notes are ever updated (GitLab says who the token is), so a marker someone else wrote is inert.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pytest_ragft import sticky
from pytest_ragft.sticky import Note

if TYPE_CHECKING:
    import httpx

NO_TOKEN_HINT = (
    "no GitLab token (RAGFT_GITLAB_TOKEN is not set; CI_JOB_TOKEN cannot write merge-request "
    "notes): create a project access token with the `api` scope and the Reporter role, and "
    "store it as a masked CI/CD variable named RAGFT_GITLAB_TOKEN"
)


@dataclass(frozen=True)
class MRContext:
    """Where the note goes and with what credentials."""

    api_url: str  # https://gitlab.example.com/api/v4
    project: str  # the numeric id of the merge request's (target) project
    mr: int  # the merge request's iid
    token: str = field(repr=False)
    web_url: str | None = None  # the merge request's page, for links to the note


def _mr_iid(environ: Mapping[str, str]) -> tuple[int | None, str | None]:
    raw = (environ.get("RAGFT_PR") or "").strip()
    name = "RAGFT_PR"
    if not raw:
        raw, name = (environ.get("CI_MERGE_REQUEST_IID") or "").strip(), "CI_MERGE_REQUEST_IID"
    if not raw:
        return None, (
            "no merge request (CI_MERGE_REQUEST_IID is not set): run the job in a merge-request "
            'pipeline (`if: $CI_PIPELINE_SOURCE == "merge_request_event"`) or set RAGFT_PR'
        )
    match = re.fullmatch(r"[!#]?([0-9]{1,9})", raw)
    if match is None or int(match.group(1)) == 0:
        return None, f"{name}={raw!r} is not a merge request number (write 12 or !12)"
    return int(match.group(1)), None


def _resolve(environ: Mapping[str, str]) -> tuple[MRContext | None, list[str]]:
    problems: list[str] = []
    token = (environ.get("RAGFT_GITLAB_TOKEN") or "").strip()
    if not token:
        problems.append(NO_TOKEN_HINT)
    server = (environ.get("CI_SERVER_URL") or "").strip().rstrip("/")
    api_url = (environ.get("CI_API_V4_URL") or "").strip().rstrip("/") or (
        f"{server}/api/v4" if server else ""
    )
    if not api_url:
        problems.append("no GitLab API URL (neither CI_API_V4_URL nor CI_SERVER_URL is set)")
    elif urlsplit(api_url).scheme not in ("http", "https"):
        problems.append(f"CI_API_V4_URL={api_url!r} is not an http(s) URL")
    project = (
        environ.get("CI_MERGE_REQUEST_PROJECT_ID") or environ.get("CI_PROJECT_ID") or ""
    ).strip()
    if not project.isdigit():
        problems.append(
            f"CI_PROJECT_ID={project!r} is not a project id"
            if project
            else "no project (CI_PROJECT_ID is not set)"
        )
    mr, problem = _mr_iid(environ)
    if problem:
        problems.append(problem)
    if problems or mr is None:
        return None, problems
    page = (
        environ.get("CI_MERGE_REQUEST_PROJECT_URL") or environ.get("CI_PROJECT_URL") or ""
    ).strip()
    web_url = f"{page.rstrip('/')}/-/merge_requests/{mr}" if page else None
    return MRContext(api_url, project, mr, token, web_url), []


def mr_context(environ: Mapping[str, str]) -> MRContext | None:
    """Token, API, project and merge request when all are present, else None (see below)."""
    return _resolve(environ)[0]


def missing_context(environ: Mapping[str, str]) -> list[str]:
    """Each reason no note can be posted, worded for the user; empty when nothing is missing."""
    return _resolve(environ)[1]


def in_merge_request(environ: Mapping[str, str]) -> bool:
    """Whether this job runs for a merge request, so a note was to be expected."""
    return bool(
        environ.get("CI_MERGE_REQUEST_IID")
        or environ.get("RAGFT_PR")
        or environ.get("CI_PIPELINE_SOURCE") == "merge_request_event"
    )


class GitLabForge:
    """The GitLab v4 API's spelling of the sticky engine's calls (merge-request notes)."""

    name = "GitLab"

    def __init__(self, ctx: MRContext) -> None:
        self.ctx = ctx
        self.api_url = ctx.api_url.rstrip("/")
        self.where = f"project {ctx.project} !{ctx.mr}"
        self.token = ctx.token
        self._notes = f"{self.api_url}/projects/{ctx.project}/merge_requests/{ctx.mr}/notes"

    def headers(self) -> dict[str, str]:
        from pytest_ragft import __version__

        return {
            "PRIVATE-TOKEN": self.token,
            "Accept": "application/json",
            "User-Agent": f"pytest-ragft/{__version__}",
        }

    def list_url(self) -> str:
        return f"{self._notes}?per_page=100&sort=asc&order_by=created_at"

    def next_url(self, response: httpx.Response, url: str) -> str | None:
        """``Link: rel="next"``, else ``X-Next-Page`` (GitLab may omit the Link header)."""
        link = sticky.next_link(response)
        if link is not None:
            return link
        page = response.headers.get("X-Next-Page", "").strip()
        if not page.isdigit():
            return None
        parts = urlsplit(url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "page"] + [("page", page)]
        return urlunsplit(parts._replace(query=urlencode(query)))

    def note(self, item: Any) -> Note | None:
        """A user's note as the engine sees it; None for system notes and anything else."""
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), int):
            return None
        if item.get("system") is True:
            return None
        author = item.get("author")
        author = author if isinstance(author, Mapping) else {}
        username, uid = author.get("username"), author.get("id")
        when = item.get("updated_at") or item.get("created_at")
        web = self.ctx.web_url
        return Note(
            id=item["id"],
            body=str(item.get("body") or ""),
            author=username if isinstance(username, str) else None,
            author_id=uid if isinstance(uid, int) else None,
            updated=when if isinstance(when, str) else "",
            url=f"{web}#note_{item['id']}" if web else None,
        )

    def create_call(self) -> tuple[str, str]:
        return "POST", self._notes

    def update_call(self, note_id: int) -> tuple[str, str]:
        return "PUT", f"{self._notes}/{note_id}"

    def delete_call(self, note_id: int) -> tuple[str, str]:
        return "DELETE", f"{self._notes}/{note_id}"

    def identity_url(self) -> str | None:
        return f"{self.api_url}/user"

    def identity(self, payload: Any) -> int | None:
        uid = payload.get("id") if isinstance(payload, Mapping) else None
        return uid if isinstance(uid, int) else None

    def rate_limit_wait(self, response: httpx.Response, attempt: int) -> float | None:
        wait = sticky.retry_after(response)
        if wait is None:
            wait = sticky.until_reset(response, "RateLimit-Remaining", "RateLimit-Reset")
        if wait is None and response.status_code == 429:
            wait = sticky.backoff(attempt)
        return wait

    def advice(self, status: int, method: str) -> str:
        if status == 401:
            return (
                "the token was refused: check that RAGFT_GITLAB_TOKEN holds a valid, unexpired "
                "access token"
            )
        if status == 403:
            return (
                "the token may not write notes here: it needs the `api` scope and at least the "
                "Reporter role in the project (CI_JOB_TOKEN never can)"
            )
        if status == 404:
            return (
                f"merge request {self.where} not found, or the token cannot see it: check "
                "CI_PROJECT_ID, CI_MERGE_REQUEST_IID (or RAGFT_PR) and CI_API_V4_URL"
            )
        if status in (400, 413, 422) and method in ("POST", "PUT"):
            return "GitLab rejected the note body"
        if status in (400, 422):
            return "GitLab refused the request's parameters (not the note): check RAGFT_PR"
        return "unexpected answer from GitLab"

    def outage(self) -> str:
        return "check the GitLab instance's status"


def upsert_note(
    ctx: MRContext,
    body: str,
    *,
    suite: str,
    create: bool = True,
    client: httpx.Client | None = None,
    max_retries: int = 4,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    budget_s: float = sticky.BUDGET_S,
) -> sticky.Posted:
    """Update this suite's note on the merge request, else create it if ``create``."""
    options = sticky.Options(client, max_retries, sleep, clock, budget_s)
    return sticky.post(GitLabForge(ctx), body, suite, create=create, options=options)
