"""The ``ragft`` command on bad input: exit statuses as its help says, messages that say what
to do, checks from the hook accepted, every option explained."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from conftest import Project, case_yaml

from pytest_ragft.cli import _parser, main


def ragft(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


HOOK = (
    "from pytest_ragft import CheckOutcome\n\n"
    "def starts_with(case, result, expected):\n"
    "    return CheckOutcome('starts_with', result.answer.startswith(expected), 'starts_with')\n\n"
    "def pytest_ragft_checks():\n"
    "    return {CHECKS}\n"
)
CASE = "- id: a\n  kind: behavior\n  input: x\n  expect: {starts_with: x}\n"


def test_validate_accepts_checks_from_the_hook(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project.configure()
    project.cases("cases", CASE)
    project.pytester.makeconftest(HOOK.replace("{CHECKS}", "{'starts_with': starts_with}"))
    monkeypatch.chdir(project.path)
    code, out, _ = ragft(capsys, "validate")
    assert (code, out.strip()) == (0, "ok: [tool.ragft] and 1 case(s) in 1 file(s)")
    code, out, _ = ragft(capsys, "validate", "--no-conftest")
    assert code == 1 and "unknown check 'starts_with'" in out


def test_validate_names_a_broken_hook_check(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project.configure()
    project.cases("cases", CASE)
    project.pytester.makeconftest(HOOK.replace("{CHECKS}", "{'starts_with': 'oops'}"))
    monkeypatch.chdir(project.path)
    code, out, _ = ragft(capsys, "validate")
    assert code == 1
    assert "pytest_ragft_checks in " in out and "conftest.py:" in out
    assert "check 'starts_with' is a str, not a callable" in out


def test_validate_names_a_conftest_that_does_not_import(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project.configure()
    project.cases("cases", CASE)
    project.pytester.makeconftest("import no_such_module_here\n")
    monkeypatch.chdir(project.path)
    code, out, _ = ragft(capsys, "validate")
    assert code == 1
    assert "conftest.py could not be loaded" in out and "no_such_module_here" in out
    assert "--no-conftest" in out


def test_validate_exits_1_on_a_misspelt_key(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project.pytester.makefile(".toml", pyproject="[tool.ragft]\nrepeets = 3\n")
    monkeypatch.chdir(project.path)
    code, out, _ = ragft(capsys, "validate")
    assert code == 1
    assert "[tool.ragft] has no key 'repeets' (did you mean 'repeats'?)" in out


def test_validate_exits_1_on_a_glob_that_matches_nothing(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project.configure(cases=["evals/**/*.yaml", "evlas/*.yaml"])
    project.cases("k", [case_yaml("a", "knowledge", "ok")])
    monkeypatch.chdir(project.path)
    code, out, _ = ragft(capsys, "validate", "--no-conftest")
    assert code == 1
    assert "cases[1] 'evlas/*.yaml'" in out and "matches no file" in out


def _ran(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_REF_NAME", "main")
    project.standard(history=".ragft/history.sqlite")
    assert project.run().ret == 1
    monkeypatch.chdir(project.path)


def test_trend_of_an_unknown_case_is_an_error(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _ran(project, monkeypatch)
    code, _, err = ragft(capsys, "trend", "--case", "nope")
    assert code == 2
    assert "no results for case 'nope'" in err and "check the id" in err


def test_import_twice_says_how_many_were_already_present(
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    _ran(project, monkeypatch)
    exported = tmp_path / "runs.jsonl"
    assert ragft(capsys, "export", "-o", str(exported))[0] == 0
    code, out, _ = ragft(capsys, "import", str(exported))
    assert code == 0
    assert "imported 0 run(s)" in out and "1 already present" in out


@pytest.mark.parametrize("value", ["0", "-3", "x"])
def test_last_must_be_positive(capsys: pytest.CaptureFixture[str], value: str) -> None:
    with pytest.raises(SystemExit) as info:
        main(["history", "--last", value])
    assert info.value.code == 2
    assert "expected a whole number >= 1" in capsys.readouterr().err


def _actions(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.Action]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.extend((f"{name} {n}", a) for n, a in _actions(sub))
        elif not isinstance(action, argparse._HelpAction):
            found.append((action.dest, action))
    return found


def test_every_option_has_help() -> None:
    missing = [name for name, action in _actions(_parser()) if not action.help]
    assert missing == []
