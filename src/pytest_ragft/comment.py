"""Posting the report as the sticky comment: which forge, whether to post, what to tell the user.

The session and ``ragft comment`` both call ``post_report`` and act on the ``PostOutcome``
it returns: lines for "written:", warnings, and whether ``github = "always"`` fails the gate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pytest_ragft.config import CommentProvider, GitHubMode, Settings

Forge = Literal["github", "gitlab"]
_WHAT: dict[Forge, str] = {"github": "PR comment", "gitlab": "MR note"}


@dataclass(frozen=True)
class PostOutcome:
    """What posting did. ``failure`` is set when the post failed under ``github = "always"``:
    the caller fails the gate with it; otherwise a failed post is only a note."""

    forge: Forge | None  # None: posting is off (github = "never")
    action: Literal["created", "updated", "skipped"] | None = None  # None: nothing was posted
    url: str | None = None
    notes: tuple[str, ...] = ()
    failure: str | None = None

    @property
    def written(self) -> str | None:
        """The line for the run's "written:" list, e.g. ``PR comment: created``."""
        if self.forge is None or self.action is None:
            return None
        return f"{_WHAT[self.forge]}: {self.action}"


def choose_forge(setting: CommentProvider, environ: Mapping[str, str]) -> Forge:
    """GitLab inside a GitLab CI job (or where only GitLab's variables say where), else GitHub."""
    if setting != "auto":
        return setting
    if environ.get("GITLAB_CI") or (
        environ.get("CI_API_V4_URL") and not environ.get("GITHUB_ACTIONS")
    ):
        return "gitlab"
    return "github"


def post_report(
    settings: Settings,
    environ: Mapping[str, str],
    markdown: str,
    suite: str,
    *,
    create: bool,
    cli: bool = False,
) -> PostOutcome:
    """Post ``markdown`` as ``suite``'s sticky comment where ``settings`` and ``environ`` say.

    ``create`` is False when only an existing comment may be updated (``github = "events"``
    with no event that heads the comment). Never raises for a failed post: the outcome says it.
    """
    mode: GitHubMode = settings.report.github
    if mode == "never":
        return PostOutcome(None)
    forge = choose_forge(settings.report.comment, environ)
    what = _WHAT[forge]
    failure = f"the {what} could not be posted (github = always)" if mode == "always" else None
    missing, expected = _missing(forge, environ, cli)
    if missing:
        notes = (f"{what} not posted: " + "; ".join(missing),) if expected or failure else ()
        return PostOutcome(forge, notes=notes, failure=failure)
    from pytest_ragft.sticky import PostError

    try:
        posted = _upsert(forge, environ, markdown, suite, create)
    except PostError as exc:
        return PostOutcome(forge, notes=(f"{what} not posted: {exc}",), failure=failure)
    return PostOutcome(forge, posted[0], posted[1], posted[2])


def _missing(forge: Forge, environ: Mapping[str, str], cli: bool) -> tuple[list[str], bool]:
    """What stops a post, and whether this job is for a PR or MR (so a note is expected)."""
    if forge == "gitlab":
        from pytest_ragft import gitlab

        return gitlab.missing_context(environ), gitlab.in_merge_request(environ)
    from pytest_ragft import github

    in_pr = bool(environ.get("RAGFT_PR")) or environ.get("GITHUB_EVENT_NAME", "").startswith(
        "pull_request"
    )
    return github.missing_context(environ, cli=cli), in_pr


def _upsert(
    forge: Forge, environ: Mapping[str, str], markdown: str, suite: str, create: bool
) -> tuple[Literal["created", "updated", "skipped"], str | None, tuple[str, ...]]:
    if forge == "gitlab":
        from pytest_ragft import gitlab

        mr = gitlab.mr_context(environ)
        assert mr is not None  # _missing said nothing is missing
        posted = gitlab.upsert_note(mr, markdown, suite=suite, create=create)
        return posted.action, posted.url, posted.notes
    from pytest_ragft import github

    pr = github.pr_context(environ)
    assert pr is not None
    result = github.upsert_comment(pr, markdown, suite=suite, create=create)
    return result.action, result.url, (result.note,) if result.note else ()
