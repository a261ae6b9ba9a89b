"""Where a run came from: commit, branch, pull request and CI job, from git and CI variables.

No SQLAlchemy here; git is asked with a short time-out and its absence is not an error.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

GIT_TIMEOUT_S = 5.0
_TRUE = {"1", "true", "yes", "on"}


def _git(rootdir: Path, *args: str) -> str | None:
    """Output of a git command run in ``rootdir``, or None when git is missing or fails."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=rootdir,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout


def _first_line(text: str | None) -> str | None:
    if not text:
        return None
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    return line or None


def _event(environ: Mapping[str, str]) -> dict[str, Any]:
    """The GitHub event payload, or {} when absent or unreadable."""
    path = environ.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _int(value: Any) -> int | None:
    """A positive number given as an int, ``"12"`` or ``"#12"``; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value <= _PR_MAX else None
    match = re.fullmatch(r"#?([0-9]{1,12})", value.strip()) if isinstance(value, str) else None
    number = int(match.group(1)) if match else 0
    return number if 0 < number <= _PR_MAX else None


_PR_MAX = 2**31 - 1  # what GitHub issues and the store's integer column can hold


def _pull_request(event: Mapping[str, Any]) -> Mapping[str, Any]:
    pr = event.get("pull_request")
    return pr if isinstance(pr, Mapping) else {}


def _event_pr(event: Mapping[str, Any]) -> int | None:
    """The PR number of a pull_request(_target) event, a comment on a PR, or a workflow_run."""
    candidates: list[Any] = [_pull_request(event).get("number")]
    issue = event.get("issue")
    if isinstance(issue, Mapping) and issue.get("pull_request") is not None:
        candidates.append(issue.get("number"))  # a comment on a PR, not on a plain issue
    run = event.get("workflow_run")
    pulls = run.get("pull_requests") if isinstance(run, Mapping) else None
    if isinstance(pulls, list) and pulls and isinstance(pulls[0], Mapping):
        candidates.append(pulls[0].get("number"))
    # The event is GitHub's JSON: its numbers are ints, never strings.
    return next((n for n in candidates if isinstance(n, int) and _int(n) is not None), None)


def pr_number(environ: Mapping[str, str]) -> tuple[int | None, str | None]:
    """The pull request this run is for, or why there is none, worded for the user.

    ``RAGFT_PR`` (``12`` or ``#12``) wins; else the event file at ``GITHUB_EVENT_PATH``:
    ``pull_request.number``, ``issue.number`` of a comment on a PR, or the first of
    ``workflow_run.pull_requests``. The run metadata and the PR comment both use this one rule.
    """
    raw = environ.get("RAGFT_PR", "").strip()
    if raw:
        number = _int(raw)
        if number is None:
            return None, f"RAGFT_PR={raw!r} is not a pull request number (write 12 or #12)"
        return number, None
    path = environ.get("GITHUB_EVENT_PATH")
    if not path:
        return None, "no pull request number (set RAGFT_PR, or run on a pull_request event)"
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return None, f"the event file GITHUB_EVENT_PATH={path} cannot be read ({exc})"
    if not isinstance(event, dict):
        return None, f"the event file GITHUB_EVENT_PATH={path} is not a JSON object"
    number = _event_pr(event)
    if number is None:
        name = environ.get("GITHUB_EVENT_NAME") or "this"
        return None, f"no pull request number in the {name} event (set RAGFT_PR to post anyway)"
    return number, None


def _env(environ: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            return value
    return None


def git_metadata(rootdir: Path, environ: Mapping[str, str], baseline_branch: str) -> dict[str, Any]:
    """``{"git": {sha, branch, base_branch, pr}, "ci": {provider, run_url}}`` for this run.

    CI variables win over git, because CI checkouts are often detached or merge commits. On a
    GitHub pull request the sha is the PR head's (``GITHUB_SHA`` there is a temporary merge
    commit nobody recognises). ``RAGFT_PR`` overrides the PR number found elsewhere.
    """
    sha = _first_line(_git(rootdir, "rev-parse", "HEAD"))
    branch = _first_line(_git(rootdir, "rev-parse", "--abbrev-ref", "HEAD"))
    if branch == "HEAD":  # detached
        branch = None
    base: str | None = None
    pr: int | None = None
    provider: str | None = None
    run_url: str | None = None

    if environ.get("GITHUB_ACTIONS", "").lower() == "true" or environ.get("GITHUB_SHA"):
        provider = "github"
        event = _event(environ)
        head = _pull_request(event).get("head")
        head_sha = head.get("sha") if isinstance(head, Mapping) else None
        sha = (
            (head_sha if isinstance(head_sha, str) and head_sha else None)
            or _env(environ, "GITHUB_SHA")
            or sha
        )
        branch = _env(environ, "GITHUB_HEAD_REF", "GITHUB_REF_NAME") or branch
        base = _env(environ, "GITHUB_BASE_REF")
        pr = pr_number(environ)[0]
        server = _env(environ, "GITHUB_SERVER_URL") or "https://github.com"
        repository, run_id = _env(environ, "GITHUB_REPOSITORY"), _env(environ, "GITHUB_RUN_ID")
        if repository and run_id:
            run_url = f"{server.rstrip('/')}/{repository}/actions/runs/{run_id}"
    elif environ.get("GITLAB_CI") or environ.get("CI_COMMIT_SHA"):
        provider = "gitlab"
        sha = _env(environ, "CI_COMMIT_SHA") or sha
        branch = (
            _env(environ, "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "CI_COMMIT_REF_NAME") or branch
        )
        base = _env(environ, "CI_MERGE_REQUEST_TARGET_BRANCH_NAME")
        pr = _int(environ.get("CI_MERGE_REQUEST_IID"))
        run_url = _env(environ, "CI_JOB_URL", "CI_PIPELINE_URL")
    elif environ.get("CI", "").strip().lower() in _TRUE:
        provider = "ci"

    if environ.get("RAGFT_PR", "").strip():
        pr = pr_number(environ)[0]  # wins everywhere; one the comment would refuse is no PR
    if base is None and branch and branch != baseline_branch:
        base = baseline_branch
    return {
        "git": {
            "sha": sha,
            "branch": branch,
            "base_branch": base,
            "pr": pr,
            "dirty": dirty(rootdir),
        },
        "ci": {"provider": provider, "run_url": run_url},
    }


def dirty(rootdir: Path) -> bool | None:
    """Whether tracked files have uncommitted changes (untracked files, such as reports and
    the history store, do not count); None outside a git work tree."""
    status = _git(rootdir, "status", "--porcelain", "--untracked-files=no")
    if status is None:
        return None
    return bool(status.strip())


def parse_file_list(value: str) -> list[str]:
    """``RAGFT_CHANGED_FILES``: paths separated by newlines or commas, blanks dropped."""
    return [p.strip() for p in re.split(r"[\n,]", value) if p.strip()]


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def changed_files(
    rootdir: Path, environ: Mapping[str, str], baseline_branch: str
) -> list[str] | None:
    """Files this change touches, relative to ``rootdir``; None when it cannot be known.

    ``RAGFT_CHANGED_FILES`` when set; else the diff from the merge base with the baseline branch
    (local or ``origin/``) to the working tree, plus untracked files.
    """
    if "RAGFT_CHANGED_FILES" in environ:
        return parse_file_list(environ["RAGFT_CHANGED_FILES"])
    candidates: Sequence[str] = (baseline_branch, f"origin/{baseline_branch}")
    merge_base = None
    for ref in candidates:
        merge_base = _first_line(_git(rootdir, "merge-base", "HEAD", ref))
        if merge_base:
            break
    if not merge_base:
        return None
    diff = _git(rootdir, "diff", "--name-only", "--relative", merge_base, "--")
    if diff is None:
        return None
    untracked = _git(rootdir, "ls-files", "--others", "--exclude-standard")
    return sorted(set(_lines(diff)) | set(_lines(untracked)))
