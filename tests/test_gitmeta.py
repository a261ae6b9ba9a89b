from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_ragft.history.gitmeta import changed_files, git_metadata, parse_file_list, pr_number

HEAD_SHA = "1" * 40
MERGE_SHA = "2" * 40


def github_env(tmp_path: Path, event: dict[str, object] | None) -> dict[str, str]:
    env = {
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_SHA": MERGE_SHA,
        "GITHUB_REF_NAME": "7/merge",
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_REPOSITORY": "acme/bot",
        "GITHUB_RUN_ID": "99",
    }
    if event is not None:
        path = tmp_path / "event.json"
        path.write_text(json.dumps(event), encoding="utf-8")
        env["GITHUB_EVENT_PATH"] = str(path)
    return env


def test_github_pull_request(tmp_path: Path) -> None:
    env = github_env(tmp_path, {"pull_request": {"number": 42, "head": {"sha": HEAD_SHA}}})
    env |= {"GITHUB_HEAD_REF": "feature/faq", "GITHUB_BASE_REF": "develop"}
    assert git_metadata(tmp_path, env, "main") == {
        "git": {
            "sha": HEAD_SHA,
            "branch": "feature/faq",
            "base_branch": "develop",
            "pr": 42,
            "dirty": None,
        },
        "ci": {"provider": "github", "run_url": "https://github.example/acme/bot/actions/runs/99"},
    }


def test_github_push(tmp_path: Path) -> None:
    env = github_env(tmp_path, {"ref": "refs/heads/main"})
    env["GITHUB_REF_NAME"] = "main"
    meta = git_metadata(tmp_path, env, "main")
    assert meta["git"] == {
        "sha": MERGE_SHA,
        "branch": "main",
        "base_branch": None,
        "pr": None,
        "dirty": None,
    }
    assert meta["ci"]["provider"] == "github"


@pytest.mark.parametrize(
    ("event", "pr"),
    [
        pytest.param({"issue": {"number": 5, "pull_request": {"url": "x"}}}, 5, id="pr-comment"),
        pytest.param({"issue": {"number": 5}}, None, id="issue-comment"),
        pytest.param(None, None, id="no-event-file"),
        pytest.param({"pull_request": {"number": "oops"}}, None, id="bad-number"),
        pytest.param(
            {"workflow_run": {"pull_requests": [{"number": 9}, {"number": 10}]}},
            9,
            id="workflow-run",
        ),
        pytest.param({"workflow_run": {"pull_requests": []}}, None, id="workflow-run-no-pr"),
    ],
)
def test_github_pr_number_from_the_event(
    tmp_path: Path, event: dict[str, object] | None, pr: int | None
) -> None:
    assert git_metadata(tmp_path, github_env(tmp_path, event), "main")["git"]["pr"] == pr


def test_unreadable_event_file_is_no_pr(tmp_path: Path) -> None:
    env = github_env(tmp_path, None) | {"GITHUB_EVENT_PATH": str(tmp_path / "missing.json")}
    assert git_metadata(tmp_path, env, "main")["git"]["pr"] is None
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    env["GITHUB_EVENT_PATH"] = str(tmp_path / "broken.json")
    assert git_metadata(tmp_path, env, "main")["git"]["pr"] is None


def test_ragft_pr_overrides(tmp_path: Path) -> None:
    env = github_env(tmp_path, {"pull_request": {"number": 42}}) | {"RAGFT_PR": "43"}
    assert git_metadata(tmp_path, env, "main")["git"]["pr"] == 43
    assert git_metadata(tmp_path, {"RAGFT_PR": "#8"}, "main")["git"]["pr"] == 8


@pytest.mark.parametrize(
    ("env", "event", "pr", "reason"),
    [
        pytest.param({"RAGFT_PR": "12"}, None, 12, None, id="ragft-pr"),
        pytest.param({"RAGFT_PR": "#12"}, None, 12, None, id="ragft-pr-with-hash"),
        pytest.param(
            {"RAGFT_PR": "13"}, {"pull_request": {"number": 4}}, 13, None, id="ragft-pr-wins"
        ),
        pytest.param({}, {"pull_request": {"number": 4}}, 4, None, id="pull-request"),
        pytest.param(
            {}, {"issue": {"number": 5, "pull_request": {"url": "u"}}}, 5, None, id="pr-comment"
        ),
        pytest.param(
            {}, {"workflow_run": {"pull_requests": [{"number": 6}]}}, 6, None, id="workflow-run"
        ),
        pytest.param({"RAGFT_PR": "abc"}, None, None, "RAGFT_PR='abc'", id="bad-ragft-pr"),
        pytest.param({"RAGFT_PR": "0"}, None, None, "RAGFT_PR='0'", id="ragft-pr-zero"),
        pytest.param({"RAGFT_PR": "#-3"}, None, None, "RAGFT_PR='#-3'", id="ragft-pr-negative"),
        pytest.param({}, None, None, "set RAGFT_PR", id="no-event-file"),
        pytest.param(
            {"GITHUB_EVENT_NAME": "issue_comment"},
            {"issue": {"number": 5}},
            None,
            "issue_comment event",
            id="comment-on-a-plain-issue",
        ),
        pytest.param({}, {"pull_request": {"number": True}}, None, "event", id="bool-number"),
        pytest.param({}, {"pull_request": {"number": "4"}}, None, "event", id="string-number"),
        pytest.param({}, ["not", "an", "object"], None, "not a JSON object", id="event-a-list"),
    ],
)
def test_pr_number(
    tmp_path: Path, env: dict[str, str], event: object, pr: int | None, reason: str | None
) -> None:
    environ = dict(env)
    if event is not None:
        path = tmp_path / "event.json"
        path.write_text(json.dumps(event), encoding="utf-8")
        environ["GITHUB_EVENT_PATH"] = str(path)
    number, why = pr_number(environ)
    assert number == pr
    if reason is None:
        assert why is None
    else:
        assert why is not None
        assert reason in why
    github = github_env(tmp_path, None) | environ
    assert git_metadata(tmp_path, github, "main")["git"]["pr"] == pr


def test_unreadable_event_file_says_where(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.json")
    number, why = pr_number({"GITHUB_EVENT_PATH": missing})
    assert number is None
    assert why is not None
    assert f"GITHUB_EVENT_PATH={missing} cannot be read" in why


def test_bad_ragft_pr_is_no_pr_on_any_ci(tmp_path: Path) -> None:
    env = {"GITLAB_CI": "true", "CI_MERGE_REQUEST_IID": "17", "RAGFT_PR": "#18"}
    assert git_metadata(tmp_path, env, "main")["git"]["pr"] == 18
    env["RAGFT_PR"] = "seventeen"
    assert git_metadata(tmp_path, env, "main")["git"]["pr"] is None


def test_gitlab_merge_request(tmp_path: Path) -> None:
    env = {
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_COMMIT_SHA": HEAD_SHA,
        "CI_COMMIT_REF_NAME": "feature-x",
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        "CI_MERGE_REQUEST_IID": "17",
        "CI_JOB_URL": "https://gitlab.example/acme/bot/-/jobs/5",
    }
    assert git_metadata(tmp_path, env, "main") == {
        "git": {
            "sha": HEAD_SHA,
            "branch": "feature-x",
            "base_branch": "main",
            "pr": 17,
            "dirty": None,
        },
        "ci": {"provider": "gitlab", "run_url": "https://gitlab.example/acme/bot/-/jobs/5"},
    }


@pytest.mark.parametrize(
    ("env", "provider"),
    [
        pytest.param({"CI": "true"}, "ci", id="other-ci"),
        pytest.param({"CI": "1"}, "ci", id="ci-1"),
        pytest.param({"CI": "false"}, None, id="ci-false"),
        pytest.param({}, None, id="local"),
    ],
)
def test_ci_provider(tmp_path: Path, env: dict[str, str], provider: str | None) -> None:
    meta = git_metadata(tmp_path, env, "main")
    assert meta["ci"] == {"provider": provider, "run_url": None}


def test_not_a_repository(tmp_path: Path) -> None:
    meta = git_metadata(tmp_path, {}, "main")
    assert meta["git"] == {
        "sha": None,
        "branch": None,
        "base_branch": None,
        "pr": None,
        "dirty": None,
    }
    assert changed_files(tmp_path, {}, "main") is None


def test_git_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert git_metadata(tmp_path, {}, "main")["git"]["sha"] is None
    assert changed_files(tmp_path, {}, "main") is None


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with one commit on main and a feature branch checked out."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "README.md").write_text("hi\n")
    (root / "finetune").mkdir()
    (root / "finetune" / "data.jsonl").write_text("{}\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "base")
    git(root, "checkout", "-q", "-b", "feature")
    return root


def test_real_repository(repo: Path) -> None:
    (repo / "finetune" / "data.jsonl").write_text('{"a": 1}\n')
    git(repo, "commit", "-q", "-am", "more data")
    (repo / "README.md").write_text("changed, not committed\n")
    (repo / "new.txt").write_text("untracked\n")
    (repo / "ignored.log").write_text("x\n")
    (repo / ".gitignore").write_text("*.log\n")

    meta = git_metadata(repo, {}, "main")
    assert meta["git"] == {
        "sha": git(repo, "rev-parse", "HEAD"),
        "branch": "feature",
        "base_branch": "main",
        "pr": None,
        "dirty": True,  # README.md is changed and not committed
    }
    assert changed_files(repo, {}, "main") == [
        ".gitignore",
        "README.md",
        "finetune/data.jsonl",
        "new.txt",
    ]
    # From a subfolder rootdir, paths are relative to it and limited to it.
    assert changed_files(repo / "finetune", {}, "main") == ["data.jsonl"]


def test_baseline_branch_only_on_the_remote(repo: Path) -> None:
    git(repo, "update-ref", "refs/remotes/origin/trunk", "main")
    (repo / "x.txt").write_text("x\n")
    assert changed_files(repo, {}, "trunk") == ["x.txt"]
    assert changed_files(repo, {}, "no-such-branch") is None


def test_detached_head_has_no_branch(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    assert git_metadata(repo, {}, "main")["git"]["branch"] is None


def test_changed_files_from_the_environment(repo: Path) -> None:
    env = {"RAGFT_CHANGED_FILES": "finetune/a.jsonl, adapters/x.bin\nREADME.md\n"}
    assert changed_files(repo, env, "main") == ["finetune/a.jsonl", "adapters/x.bin", "README.md"]
    assert changed_files(repo, {"RAGFT_CHANGED_FILES": ""}, "main") == []


_path = st.text(
    st.characters(blacklist_characters=",\n\r", blacklist_categories=("Cs", "Zs", "Cc")),
    min_size=1,
    max_size=30,
)


@given(paths=st.lists(_path, max_size=8), separator=st.sampled_from(["\n", ",", ", ", "\r\n"]))
def test_parse_file_list_round_trip(paths: list[str], separator: str) -> None:
    assert parse_file_list(separator.join(paths)) == [p.strip() for p in paths if p.strip()]


def test_a_work_tree_is_dirty_only_with_changes_to_tracked_files(repo: Path) -> None:
    assert git_metadata(repo, {}, "main")["git"]["dirty"] is False
    (repo / "reports").mkdir()
    (repo / "reports" / "ragft-report.json").write_text("{}\n")  # untracked output
    assert git_metadata(repo, {}, "main")["git"]["dirty"] is False
    (repo / "README.md").write_text("edited\n")
    assert git_metadata(repo, {}, "main")["git"]["dirty"] is True
