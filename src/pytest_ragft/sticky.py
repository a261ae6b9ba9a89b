"""One sticky note per suite on a pull or merge request, whatever the forge (SPEC 11).

The engine lists every page of the request's notes (a visited set and a page cap, so a broken
``Link`` header cannot loop), updates the note bearing the suite's marker or creates one, and
does it all within one time budget: retries, back-off and ``Retry-After`` waits included, after
which it gives up and says so. Each post stamps its marker with a run token: a POST that timed
out is looked for by that token before any retry, and a late duplicate is found and deleted.
``github.py`` and ``gitlab.py`` only say how their API spells each call.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlsplit

from pytest_ragft.report.markdown import MARKER_PREFIX, report_marker

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("pytest_ragft.sticky")

MAX_BODY_CHARS = 65_536
TIMEOUT_S = 10.0  # one request
BUDGET_S = 90.0  # everything one post does, waits included
MIN_REQUEST_S = 1.0  # a request is not started with less time than this left
MAX_PAGES = 100
MAX_TRIES = 5
LATER = "post later with `ragft comment --report ragft-report.json`"
_MARKER_LINE = re.compile(
    r"<!-- ragft:report suite=([A-Za-z0-9_.:/+%~-]+) -->(?:<!-- ragft:run ([0-9a-f]{16}) -->)?"
)
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_TOKEN_SHAPES = re.compile(
    r"\b(gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{20,}"
    r"|gl(?:pat|ptt|dt|cbt|oas|rt|soat|ft|imt|agent|ffct)-[A-Za-z0-9_.-]{16,})"
)


class PostError(Exception):
    """A note that could not be posted; the message says why and what to do, never the token."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RateLimited(PostError):
    """Still rate limited, or limited for longer than the budget allows."""


class MaybeSent(PostError):
    """A POST that failed after it may have arrived, so resending it could duplicate it."""


class OutOfTime(PostError):
    """The time budget of the post is spent; the run goes on without the note."""


@dataclass(frozen=True)
class Note:
    """One comment or note, as much of it as the engine needs."""

    id: int
    body: str
    author: str | None = None
    author_id: int | None = None
    bot: bool = False
    updated: str = ""
    url: str | None = None

    @property
    def marker(self) -> tuple[str, str | None] | None:
        """``(escaped suite, run token or None)`` from the first line; None without a marker."""
        match = _MARKER_LINE.fullmatch(self.body.split("\n", 1)[0].rstrip("\r"))
        return (match.group(1), match.group(2)) if match else None


@dataclass(frozen=True)
class Posted:
    action: Literal["created", "updated", "skipped"]
    url: str | None = None
    note_id: int | None = None
    # What the user should know: a note left alone, a duplicate removed.
    notes: tuple[str, ...] = ()


class Forge(Protocol):
    """How one forge's REST API spells the calls the engine makes."""

    name: str  # "GitHub", "GitLab"
    api_url: str
    where: str  # the request, for messages: "acme/bot#7"
    token: str

    def headers(self) -> dict[str, str]: ...
    def list_url(self) -> str: ...
    def next_url(self, response: httpx.Response, url: str) -> str | None: ...
    def note(self, item: Any) -> Note | None: ...
    def create_call(self) -> tuple[str, str]: ...
    def update_call(self, note_id: int) -> tuple[str, str]: ...
    def delete_call(self, note_id: int) -> tuple[str, str]: ...
    def identity_url(self) -> str | None: ...
    def identity(self, payload: Any) -> int | None: ...
    def rate_limit_wait(self, response: httpx.Response, attempt: int) -> float | None: ...
    def advice(self, status: int, method: str) -> str: ...
    def outage(self) -> str: ...


def suite_key(suite: str) -> str:
    """The escaped suite name that the marker carries."""
    return report_marker(suite)[len(MARKER_PREFIX) : -len(" -->")]


def stamp(body: str, suite: str, token: str, limit: int = MAX_BODY_CHARS) -> str:
    """``body`` with its first line the suite's marker carrying ``token``, cut to ``limit``."""
    marker = report_marker(suite)
    if body.startswith(marker + "\n") or body == marker:
        body = body[len(marker) + 1 :]
    head = f"{marker}{run_tag(token)}\n"
    text = head + body
    if len(text) <= limit:
        return text
    tail = "\n\n...(cut to fit the comment size limit: see the JSON report)\n"
    return text[: limit - len(tail)] + tail


def run_tag(token: str) -> str:
    """What follows the marker on the first line of a post: this post's run token."""
    return f"<!-- ragft:run {token} -->"


def scrub(text: str, token: str) -> str:
    """Remove the token (and anything shaped like a GitHub or GitLab token) from text."""
    if token:
        text = text.replace(token, "***")
    return _TOKEN_SHAPES.sub("***", text)


def backoff(attempt: int) -> float:
    return float(min(2**attempt, 30))


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date), None when absent."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        try:
            return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
        except (TypeError, ValueError):
            return 60.0


def until_reset(response: httpx.Response, remaining: str, reset: str) -> float | None:
    """Seconds until a spent rate limit resets (``remaining`` is 0), else None."""
    if response.headers.get(remaining) != "0":
        return None
    try:
        return max(float(response.headers.get(reset, "")) - time.time(), 0.0) + 1.0
    except ValueError:
        return 60.0


def next_link(response: httpx.Response) -> str | None:
    match = _NEXT_LINK.search(response.headers.get("Link", ""))
    return match.group(1) if match else None


class Budget:
    """One time budget for everything a post does; ``clock`` and ``sleep`` are injectable."""

    def __init__(
        self,
        total_s: float = BUDGET_S,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.total_s = total_s
        self._clock = clock
        self._sleep = sleep
        self._start = clock()

    def left(self) -> float:
        return self.total_s - (self._clock() - self._start)

    def spent(self, doing: str) -> OutOfTime:
        return OutOfTime(
            f"{doing}: gave up, the comment's time budget of {self.total_s:.0f} s is spent; "
            f"the run goes on without it ({LATER})"
        )

    def timeout(self, doing: str) -> float:
        """The time-out for the next request; OutOfTime when too little is left to start one."""
        left = self.left()
        if left < MIN_REQUEST_S:
            raise self.spent(doing)
        return min(TIMEOUT_S, left)

    def wait(self, seconds: float, doing: str, why: str) -> None:
        left = self.left() - MIN_REQUEST_S
        if seconds > left:
            raise OutOfTime(
                f"{doing}: gave up, {why} asks to wait {seconds:.0f} s, more than the "
                f"{max(left, 0):.0f} s left of the comment's {self.total_s:.0f} s time budget; "
                f"the run goes on without it ({LATER})"
            )
        self._sleep(seconds)


@dataclass
class Engine:
    """Finds, updates, creates and de-duplicates one suite's note on one request."""

    forge: Forge
    client: httpx.Client
    budget: Budget = field(default_factory=Budget)
    max_tries: int = MAX_TRIES

    # --- one request ---------------------------------------------------------------------

    def send(self, method: str, url: str, doing: str, body: Mapping[str, Any] | None) -> Any:
        """The JSON answer of ``call`` (None for 204 No Content)."""
        response = self.call(method, url, doing, body)
        return None if response.status_code == 204 else self._json(response, doing)

    def call(
        self, method: str, url: str, doing: str, body: Mapping[str, Any] | None
    ) -> httpx.Response:
        """One API call with retries on transport errors, 5xx and rate limits, in the budget.

        A POST is resent here only when it surely never arrived (no connection was made);
        after a failure it may have survived, ``MaybeSent`` tells the caller to look first.
        """
        import httpx

        forge = self.forge
        for attempt in range(self.max_tries):
            last = attempt == self.max_tries - 1
            try:
                response = self.client.request(
                    method,
                    url,
                    headers=forge.headers(),
                    json=body,
                    timeout=self.budget.timeout(doing),
                )
            except httpx.TransportError as exc:
                self._transport_failed(exc, method, doing, attempt, last)
                continue
            status = response.status_code
            if status in (403, 429):
                self._maybe_rate_limited(response, method, doing, attempt, last)
                continue
            if status >= 500:
                self._server_failed(status, method, doing, attempt, last)
                continue
            if status >= 300:
                raise self.status_error(response, method, doing)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _transport_failed(
        self, exc: Exception, method: str, doing: str, attempt: int, last: bool
    ) -> None:
        import httpx

        reason = scrub(f"{type(exc).__name__}: {exc}", self.forge.token)
        unsent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
        where = self.forge.api_url
        if method == "POST" and not unsent:
            raise MaybeSent(f"{doing} failed: no answer from {where} ({reason})") from None
        if last:
            raise PostError(
                f"{doing} failed: cannot reach {where} after {attempt + 1} attempts ({reason}); "
                "check the network and the API URL"
            ) from None
        log.debug("%s: %s; retrying", doing, reason)
        self.budget.wait(backoff(attempt), doing, f"reaching {where}")

    def _maybe_rate_limited(
        self, response: httpx.Response, method: str, doing: str, attempt: int, last: bool
    ) -> None:
        status = response.status_code
        wait_s = self.forge.rate_limit_wait(response, attempt)
        if wait_s is None:
            raise self.status_error(response, method, doing)
        if last:
            raise RateLimited(
                f"{doing} failed: {self.forge.name} rate limit (HTTP {status}), still limited "
                f"after {attempt + 1} attempts: {LATER}",
                status,
            )
        log.debug("%s: rate limited (HTTP %d); waiting %.0f s", doing, status, wait_s)
        try:
            self.budget.wait(wait_s, doing, f"the {self.forge.name} rate limit (HTTP {status})")
        except OutOfTime as exc:
            raise RateLimited(str(exc), status) from None

    def _server_failed(
        self, status: int, method: str, doing: str, attempt: int, last: bool
    ) -> None:
        said = f"{doing} failed: {self.forge.name} answered HTTP {status}"
        if method == "POST":
            raise MaybeSent(said, status)
        if last:
            raise PostError(
                f"{said} {attempt + 1} times in a row; {self.forge.outage()} and {LATER}", status
            )
        log.debug("%s: HTTP %d; retrying", doing, status)
        self.budget.wait(backoff(attempt), doing, f"HTTP {status}")

    def status_error(self, response: httpx.Response, method: str, doing: str) -> PostError:
        status = response.status_code
        try:
            payload: Any = response.json()
        except ValueError:
            payload = None
        message = payload.get("message") if isinstance(payload, dict) else None
        # A proxy or an outage page may answer with a list, a bare string or HTML instead.
        detail = message if isinstance(message, str) else response.text
        detail = scrub(detail.strip()[:200], self.forge.token)
        said = f" ({self.forge.name} said: {detail})" if detail else ""
        advice = self.forge.advice(status, method)
        return PostError(
            f"{doing} for {self.forge.where} failed with HTTP {status}: {advice}{said}", status
        )

    def _json(self, response: httpx.Response, doing: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise PostError(
                f"{doing}: {self.forge.name}'s answer is not JSON ({self.forge.api_url})"
            ) from None

    # --- listing -------------------------------------------------------------------------

    def listing(self) -> list[Note]:
        """Every note of the request, each page read once, at most ``MAX_PAGES`` pages."""
        doing = "listing the comments"
        origin = urlsplit(self.forge.api_url)[:2]
        url: str | None = self.forge.list_url()
        seen: set[str] = set()
        notes: list[Note] = []
        while url is not None and url not in seen:
            if urlsplit(url)[:2] != origin:  # never send the token to another host
                raise PostError(f"{doing}: the next page is not on {self.forge.api_url}")
            if len(seen) == MAX_PAGES:
                raise PostError(
                    f"{doing}: more than {MAX_PAGES} pages of comments on {self.forge.where}; "
                    "stopped there rather than risk a second comment"
                )
            seen.add(url)
            response = self.call("GET", url, doing, None)
            page = self._json(response, doing)
            if not isinstance(page, list):
                raise PostError(f"{doing}: {self.forge.name}'s answer is not a list")
            notes.extend(n for n in map(self.forge.note, page) if n is not None)
            url = self.forge.next_url(response, url)
            if url is not None and url in seen:
                log.debug("%s: the next page %s was read already; stopping", doing, url)
        return notes

    def whoami(self) -> int | None:
        """The id of the token's user where the forge says it; None where it cannot."""
        url = self.forge.identity_url()
        if url is None:
            return None
        try:
            return self.forge.identity(self.send("GET", url, "asking who the token is", None))
        except PostError as exc:
            if exc.status not in (403, 404) or isinstance(exc, RateLimited):
                raise
            return None  # a token that may not read its own user: fall back on the authors

    # --- updating, creating, de-duplicating ----------------------------------------------

    def upsert(self, body: str, suite: str, *, create: bool = True) -> Posted:
        """Update this suite's note (found on any page), else create it if ``create``.

        A note bearing the marker that the forge refuses to update (HTTP 403 or 404: someone
        else's, or deleted meanwhile) is left alone and a new one is created.
        """
        key, token = suite_key(suite), secrets.token_hex(8)
        text = stamp(body, suite, token)
        me = self.whoami()
        notes = self.listing()
        said: list[str] = []
        refused: set[int] = set()
        action: Literal["created", "updated"] = "updated"
        target = pick(notes, key, me)
        done = None if target is None else self._update(target, text, said)
        if done is None:
            if target is not None:
                refused.add(target.id)
            if not create:
                return Posted("skipped", notes=tuple(said))
            done, action, notes = self._create(text, (key, token), me, refused)
            if said:
                said[-1] += "; a new comment was created"
        said.extend(self._remove_duplicates(notes, key, done))
        return Posted(action, done.url, done.id, tuple(said))

    def _update(self, target: Note, text: str, said: list[str]) -> Note | None:
        """The updated note, or None (and a word in ``said``) when the forge refuses."""
        method, url = self.forge.update_call(target.id)
        try:
            data = self.send(method, url, "updating the comment", {"body": text})
        except PostError as exc:
            if exc.status not in (403, 404) or isinstance(exc, RateLimited):
                raise
            said.append(
                f"the comment bearing the marker (id {target.id}, by "
                f"{target.author or 'someone'}) could not be updated (HTTP {exc.status}) "
                "and was left alone"
            )
            log.debug("%s", said[-1])
            return None
        return self.forge.note(data) or target

    def _create(
        self, text: str, marker: tuple[str, str], me: int | None, refused: set[int]
    ) -> tuple[Note, Literal["created", "updated"], list[Note]]:
        """POST the note; after a POST that may have arrived, list again before any retry."""
        method, url = self.forge.create_call()
        doing = "creating the comment"
        abandoned: MaybeSent | None = None
        for attempt in range(self.max_tries):
            if abandoned is not None:
                self.budget.wait(backoff(attempt - 1), doing, "a post that may have arrived")
                notes = [n for n in self.listing() if n.id not in refused]
                ours = [n for n in notes if n.marker == marker]
                if ours:  # the post that timed out did arrive
                    return min(ours, key=lambda n: n.id), "created", notes
                other = pick(notes, marker[0], me)
                updated = None if other is None else self._update(other, text, [])
                if updated is not None:
                    return updated, "updated", notes
                refused.update([] if other is None else [other.id])
            try:
                data = self.send(method, url, doing, {"body": text})
            except MaybeSent as exc:
                abandoned = exc
                log.debug("%s; listing the comments again before a retry", exc)
                continue
            made = self.forge.note(data)
            if made is None:
                raise PostError(f"{doing}: {self.forge.name}'s answer does not describe a comment")
            return made, "created", self._settle() if abandoned is not None else []
        assert abandoned is not None
        raise PostError(f"{abandoned} (tried {self.max_tries} times)", abandoned.status)

    def _settle(self) -> list[Note]:
        """After a post that timed out, wait one time-out for it to land, then list again."""
        if self.budget.left() < 2 * TIMEOUT_S + MIN_REQUEST_S:
            return []  # no time to look: the next run removes a late duplicate
        try:
            self.budget.wait(TIMEOUT_S, "creating the comment", "a post that timed out")
            return self.listing()
        except PostError:
            return []

    def _remove_duplicates(self, notes: list[Note], key: str, kept: Note) -> list[str]:
        """Delete this suite's other notes that ragft posted as the same author."""
        said: list[str] = []
        for note in notes:
            marker = note.marker
            if note.id == kept.id or marker is None or marker[0] != key or marker[1] is None:
                continue
            same = (kept.author_id is not None and note.author_id == kept.author_id) or (
                kept.author is not None and note.author == kept.author
            )
            if not same:
                continue
            method, url = self.forge.delete_call(note.id)
            try:
                self.send(method, url, "removing a duplicate comment", None)
            except PostError as exc:
                said.append(f"a duplicate comment (id {note.id}) was not removed: {exc}")
                if isinstance(exc, OutOfTime):
                    break
                continue
            said.append(f"removed a duplicate comment (id {note.id}) left by a post that timed out")
        return said


def pick(notes: list[Note], key: str, me: int | None) -> Note | None:
    """The note to update among ``notes``, or None when none bears the suite's marker.

    Anyone can write the marker. Where the forge says who the token is (``me``), only that
    user's notes count. Else a note by a bot (what GITHUB_TOKEN and GitHub Apps post as) wins,
    the latest updated first; else one by an author of another suite's ragft note; else any.
    """
    marked = [n for n in notes if n.marker is not None and n.marker[0] == key]
    if me is not None:
        marked = [n for n in marked if n.author_id == me]
    if not marked:
        return None
    bots = [n for n in marked if n.bot]
    if bots:
        return _latest(bots)
    posters = {n.author for n in notes if n.marker is not None and n.marker[0] != key}
    known = [n for n in marked if n.author is not None and n.author in posters]
    return _latest(known or marked)


def _latest(notes: list[Note]) -> Note:
    return max(notes, key=lambda n: (n.updated, n.id))


@dataclass(frozen=True)
class Options:
    """How a post may run: a client to use (tests), retries, and the time budget."""

    client: httpx.Client | None = None
    max_retries: int = 4
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    budget_s: float = BUDGET_S


def post(forge: Any, body: str, suite: str, *, create: bool, options: Options) -> Posted:
    """Find this suite's note through ``forge`` and update it, else create it if ``create``,
    within the options' budget; a client made here is closed here."""
    import httpx

    http = options.client or httpx.Client(follow_redirects=False)
    budget = Budget(options.budget_s, clock=options.clock, sleep=options.sleep)
    try:
        return Engine(forge, http, budget, options.max_retries + 1).upsert(
            body, suite, create=create
        )
    finally:
        if options.client is None:
            http.close()
