"""The ``ragft`` command, called in-process on projects that pytest has run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import Project, case_yaml

from pytest_ragft.cli import main


@pytest.fixture
def ran(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The standard project, run twice on ``main`` with history on; the cwd is its root."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_REF_NAME", "main")
    project.standard(history=".ragft/history.sqlite")
    for _ in range(2):
        assert project.run().ret == 1
    monkeypatch.chdir(project.path)
    return project


def ragft(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()  # drop what earlier in-process pytest runs printed
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_init_then_pytest(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project.path)
    project.pytester.makefile(".toml", pyproject='[project]\nname = "fresh"\n')
    code, out, _ = ragft(capsys, "init")
    assert code == 0
    assert "added [tool.ragft]" in out and "wrote" in out
    assert (project.path / "evals" / "starter.yaml").is_file()
    code, out, _ = ragft(capsys, "validate")
    assert (code, out.strip()) == (0, "ok: [tool.ragft] and 2 case(s) in 1 file(s)")
    code, out, _ = ragft(capsys, "init")
    assert "already has [tool.ragft]" in out and "exists" in out
    assert project.path.joinpath("pyproject.toml").read_text().count("[tool.ragft]") == 1

    project.pytester.makepyfile(
        **{
            "my_bot/__init__.py": "",
            "my_bot/pipeline.py": (
                "import json\n\ndef answer(q, **vars):\n"
                "    return json.dumps({'answer': 'Within 30 days.'})\n"
            ),
        }
    )
    result = project.run()
    result.assert_outcomes(passed=2)
    assert result.ret == 0


@pytest.mark.parametrize(
    ("text", "code", "says"),
    [
        pytest.param(
            "- id: a\n  kind: knowledge\n  input: x\n  expect: {contains: x}\n",
            0,
            "ok: [tool.ragft] and 1 case(s) in 1 file(s)",
            id="good",
        ),
        pytest.param(
            "- id: a\n  kind: knowledge\n  input: x\n  expect: {contanes: x}\n",
            1,
            "evals/cases.yaml:4",
            id="unknown-check",
        ),
        pytest.param(
            "- id: a\n  input: x\n  expect: {contains: x}\n", 1, "evals/cases.yaml:1", id="no-kind"
        ),
        pytest.param(
            "- id: a\n  kind: knowledge\n  input: x\n  expect: {contains: x}\n"
            "- id: a\n  kind: knowledge\n  input: y\n  expect: {contains: y}\n",
            1,
            "evals/cases.yaml:5",
            id="duplicate",
        ),
    ],
)
def test_validate(
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    text: str,
    code: int,
    says: str,
) -> None:
    project.configure()
    project.cases("cases", text)
    monkeypatch.chdir(project.path)
    got, out, _ = ragft(capsys, "validate")
    assert got == code
    assert says in out
    got, out, _ = ragft(capsys, "validate", "evals/cases.yaml")
    assert got == code


@pytest.mark.parametrize("which", ["config", "cases", "report"])
def test_schema_is_a_json_schema(capsys: pytest.CaptureFixture[str], which: str) -> None:
    code, out, _ = ragft(capsys, "schema", which)
    assert code == 0
    schema = json.loads(out)
    jsonschema.validators.validator_for(schema).check_schema(schema)


def test_report_schema_validates_a_real_report(
    ran: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = ragft(capsys, "schema", "report")
    schema = json.loads(out)
    report = ran.report()
    jsonschema.validate(report, schema)
    broken = {**report, "gate": {**report["gate"], "verdict": "maybe"}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_history(ran: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = ragft(capsys, "history", "--json")
    assert code == 0
    runs = json.loads(out)
    assert len(runs) == 2
    assert runs[0]["run_id"] == ran.report()["run_id"]
    assert {r["branch"] for r in runs} == {"main"}
    code, out, _ = ragft(capsys, "history", "--last", "1")
    lines = out.strip().splitlines()
    assert len(lines) == 2 and "main" in lines[1] and "100.0%" in lines[1]
    _, out, _ = ragft(capsys, "history", "--branch", "feature", "--json")
    assert json.loads(out) == []


def test_trend(ran: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = ragft(capsys, "trend")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("knowledge") and lines[0].endswith("100.0% 100.0%")
    assert lines[1].startswith("behavior") and lines[1].endswith("50.0% 50.0%")
    _, out, _ = ragft(capsys, "trend", "--kind", "behavior")
    assert out.startswith("behavior") and "knowledge" not in out
    _, out, _ = ragft(capsys, "trend", "--case", "polite")
    assert len(out.strip().splitlines()) == 2


def test_checklist(ran: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = ragft(capsys, "checklist")
    assert code == 0
    numbered = [line for line in out.splitlines() if line[:2] in {"1.", "2.", "3.", "4.", "5."}]
    assert len(numbered) == 5
    assert "NO" in numbered[0]


@pytest.mark.parametrize(
    ("fmt", "starts"),
    [
        pytest.param("md", "<!-- ragft:report suite=demo -->", id="md"),
        pytest.param("html", "<!DOCTYPE html>", id="html"),
        pytest.param("json", "{", id="json"),
    ],
)
def test_report(ran: Project, capsys: pytest.CaptureFixture[str], fmt: str, starts: str) -> None:
    target = ran.path / f"out.{fmt}"
    code, out, _ = ragft(capsys, "report", "--format", fmt, "-o", str(target))
    assert code == 0 and "wrote" in out
    text = target.read_text()
    assert text.lstrip().lower().startswith(starts.lower())
    assert "polite" in text
    if fmt == "json":
        assert json.loads(text)["run_id"] == ran.report()["run_id"]


def test_report_without_history_says_so(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project.configure(history=".ragft/h.sqlite")
    monkeypatch.chdir(project.path)
    code, _, err = ragft(capsys, "report")
    assert code == 2 and "run pytest first" in err


def test_comment_dry_run(ran: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = ragft(capsys, "comment", "--report", "ragft-report.json", "--dry-run")
    assert code == 0
    assert out.startswith("<!-- ragft:report suite=demo -->")
    assert "polite" in out


def _comparable(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "categories": report["categories"],
        "diagnosis": report["diagnosis"],
        "verdict": report["gate"]["verdict"],
        "cases": sorted((c["id"], c["outcome"], c["diagnosis"]) for c in report["cases"]),
    }


def test_merge_of_shards_equals_one_run(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project.standard()
    project.run()
    whole = project.report()
    project.run("evals/knowledge.yaml", "--ragft-report-dir", "shard1")
    project.run("evals/behavior.yaml", "--ragft-report-dir", "shard2")
    monkeypatch.chdir(project.path)
    code, out, _ = ragft(
        capsys, "merge", "shard1/ragft-report.json", "shard2/ragft-report.json", "-o", "merged.json"
    )
    assert code == 1  # behavior is below its threshold, as in the single run
    assert "merged 2 report(s), 4 case(s): gate fail" in out
    merged = project.report("merged.json")
    assert _comparable(merged) == _comparable(whole)

    code, _, err = ragft(capsys, "merge", "shard1/ragft-report.json", "shard1/ragft-report.json")
    assert code == 2 and "must not overlap" in err


def test_export_import_round_trip(
    ran: Project,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    exported = tmp_path / "runs.jsonl"
    code, _, err = ragft(capsys, "export", "-o", str(exported))
    assert code == 0 and "exported 2 run(s)" in err
    _, before, _ = ragft(capsys, "history", "--json")

    other = tmp_path / "other"
    other.mkdir()
    (other / "pyproject.toml").write_text(
        '[project]\nname = "demo"\n[tool.ragft]\nsuite = "demo"\nhistory = "store.sqlite"\n'
    )
    monkeypatch.chdir(other)
    code, out, _ = ragft(capsys, "import", str(exported))
    assert code == 0 and "imported 2 run(s)" in out
    _, after, _ = ragft(capsys, "history", "--json")
    assert json.loads(after) == json.loads(before)
    _, again, _ = ragft(capsys, "report", "--format", "json")
    assert json.loads(again)["cases"] == ran.report()["cases"]


def test_history_switched_off(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project.configure(history="")
    project.cases("k", [case_yaml("a", "knowledge", "ok")])
    monkeypatch.chdir(project.path)
    code, _, err = ragft(capsys, "history")
    assert code == 2 and "history is switched off" in err


def test_merge_judges_shards_against_the_history_and_stores_one_run(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project.standard(history=".ragft/history.sqlite", thresholds={"behavior": 0.0})
    monkeypatch.setenv("RAGFT_CHANGED_FILES", "")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")  # the branch comes from CI: not a git repo
    monkeypatch.setenv("GITHUB_REF_NAME", "main")
    for _ in range(3):
        project.run()
    monkeypatch.chdir(project.path)
    code, before, err = ragft(capsys, "history", "--json")
    assert code == 0, (before, err)
    project.run("evals/knowledge.yaml", "--ragft-no-history", "--ragft-report-dir", "s1")
    project.run("evals/behavior.yaml", "--ragft-no-history", "--ragft-report-dir", "s2")
    code, out, _ = ragft(capsys, "merge", "s1/ragft-report.json", "s2/ragft-report.json")
    assert code == 0, out
    assert "stored in" in out
    merged = project.report("ragft-report.json")
    code, after, err = ragft(capsys, "history", "--json")
    assert code == 0, (after, err)
    assert len(json.loads(after)) == len(json.loads(before)) + 1
    assert merged["run_id"] == json.loads(after)[0]["run_id"]
    assert merged["categories"]["knowledge"]["baseline"] == 1.0
    assert merged["categories"]["behavior"]["baseline"] == 0.5
    assert merged["checklist"][0]["evidence"].startswith("3 earlier runs")

    code, out, _ = ragft(
        capsys,
        "merge",
        "s1/ragft-report.json",
        "s2/ragft-report.json",
        "--no-history",
        "-o",
        "again.json",
    )
    assert code == 0 and "stored in" not in out
    _, last, _ = ragft(capsys, "history", "--json")
    assert len(json.loads(last)) == len(json.loads(after))
