"""The ``ragft`` command, called in-process on projects that pytest has run."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import Project, case_yaml
from records import case, summary
from reportdata import build_report

from pytest_ragft.cli import main
from pytest_ragft.report.jsonfile import write_json
from pytest_ragft.report.markdown import render_markdown
from pytest_ragft.runsummary import RunSummary


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


def test_report_without_history_says_so_and_creates_none(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project.configure(history=".ragft/h.sqlite")
    monkeypatch.chdir(project.path)
    code, _, err = ragft(capsys, "report")
    assert code == 2 and "no history yet at" in err and "run pytest" in err
    assert not (project.path / ".ragft").exists()


def test_comment_dry_run(ran: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = ragft(capsys, "comment", "--report", "ragft-report.json", "--dry-run")
    assert code == 0
    assert out.startswith("<!-- ragft:report suite=demo -->")
    assert "polite" in out


def test_comment_renders_a_report_file_as_its_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    report = build_report(6)
    write_json(report, tmp_path / "ragft-report.json")
    monkeypatch.chdir(tmp_path)
    code, out, _ = ragft(capsys, "comment", "--report", "ragft-report.json", "--dry-run")
    assert code == 0
    assert out == render_markdown(RunSummary.from_json(report)) + "\n"


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
    assert code == 2 and "the shards overlap" in err


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


# -- read-only verbs, run ids, errors as messages -------------------------------------------

READ_VERBS = [
    pytest.param(["history"], id="history"),
    pytest.param(["trend"], id="trend"),
    pytest.param(["checklist"], id="checklist"),
    pytest.param(["report"], id="report"),
    pytest.param(["comment", "--run", "abc", "--dry-run"], id="comment"),
    pytest.param(["export"], id="export"),
]


@pytest.mark.parametrize("argv", READ_VERBS)
def test_read_verbs_outside_a_project_say_so_and_write_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    monkeypatch.delenv("RAGFT_HISTORY", raising=False)
    monkeypatch.chdir(tmp_path)
    code, _, err = ragft(capsys, "--rootdir", str(tmp_path), *argv)
    assert code == 2
    assert f"no pyproject.toml in {tmp_path} or its parents: run `ragft init`" in err
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    code, _, err = ragft(capsys, "--rootdir", str(tmp_path), *argv)
    assert code == 2 and "pyproject.toml has no [tool.ragft] table" in err
    assert [p.name for p in tmp_path.iterdir()] == ["pyproject.toml"]


@pytest.mark.parametrize("argv", READ_VERBS)
def test_read_verbs_create_no_store(
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    project.configure(history=".ragft/h.sqlite")
    monkeypatch.chdir(project.path)
    code, out, err = ragft(capsys, *argv)
    assert (code, out) == (2, "")
    store = project.path / ".ragft" / "h.sqlite"
    assert err == (
        f"ragft {argv[0]}: no history yet at {store}: "
        "run pytest (with [tool.ragft] in pyproject.toml) first\n"
    )
    assert not (project.path / ".ragft").exists()


def test_trend_of_a_suite_without_runs_says_so(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_ragft.history import open_store

    project.configure(history="h.sqlite")
    open_store("h.sqlite", project.path).close()
    monkeypatch.chdir(project.path)
    code, out, _ = ragft(capsys, "trend")
    assert (code, out) == (0, f"no runs of suite 'demo' in {project.path / 'h.sqlite'}\n")
    code, _, err = ragft(capsys, "checklist")
    assert code == 2
    assert err == (
        f"ragft checklist: no runs of suite 'demo' in {project.path / 'h.sqlite'}: "
        "run pytest first\n"
    )


def test_report_and_comment_take_the_id_that_history_shows(
    ran: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = ragft(capsys, "history", "--last", "2")
    shown = [line.split()[0] for line in out.splitlines()[1:]]
    assert [len(s) for s in shown] == [12, 12]
    code, out, _ = ragft(capsys, "report", "--run", shown[1], "--format", "json")
    assert code == 0
    assert json.loads(out)["run_id"].startswith(shown[1])
    assert json.loads(out)["run_id"] != ran.report()["run_id"]
    code, out, _ = ragft(capsys, "comment", "--run", shown[0], "--dry-run")
    assert code == 0 and out.startswith("<!-- ragft:report suite=demo -->")
    code, _, err = ragft(capsys, "report", "--run", "nope")
    store = ran.path / ".ragft" / "history.sqlite"
    assert (code, err) == (2, f"ragft report: no run 'nope' in {store}: see `ragft history`\n")


def test_report_by_id_is_not_limited_to_the_configured_suite(
    ran: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = ran.report()["run_id"]
    text = (ran.path / "pyproject.toml").read_text()
    (ran.path / "pyproject.toml").write_text(text.replace('suite = "demo"', 'suite = "other"'))
    code, out, _ = ragft(capsys, "report", "--run", run_id[:8], "--format", "json")
    assert code == 0 and json.loads(out)["suite"] == "demo"


def test_report_creates_the_output_folder(ran: Project, capsys: pytest.CaptureFixture[str]) -> None:
    target = ran.path / "out" / "deeper" / "report.md"
    code, out, _ = ragft(capsys, "report", "-o", str(target))
    assert code == 0 and target.is_file() and "wrote" in out
    exported = ran.path / "dumps" / "runs.jsonl"
    code, _, _ = ragft(capsys, "export", "-o", str(exported))
    assert code == 0 and len(exported.read_text().splitlines()) == 2


def _other_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str = "") -> Path:
    other = tmp_path / "other"
    other.mkdir()
    (other / "pyproject.toml").write_text(
        '[project]\nname = "demo"\n[tool.ragft]\nsuite = "demo"\nhistory = "store.sqlite"\n' + extra
    )
    monkeypatch.chdir(other)
    return other


@pytest.mark.parametrize(
    ("line", "says"),
    [
        pytest.param("{oops", "is not JSON", id="not-json"),
        pytest.param("no-run-id", "'run_id' is a required property", id="no-run-id"),
    ],
)
def test_import_of_a_bad_line_names_it_and_imports_nothing(
    ran: Project,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    line: str,
    says: str,
) -> None:
    exported = tmp_path / "runs.jsonl"
    ragft(capsys, "export", "-o", str(exported))
    good = exported.read_text().splitlines()
    if line == "no-run-id":
        line = json.dumps({k: v for k, v in json.loads(good[0]).items() if k != "run_id"})
    exported.write_text("\n".join([good[0], line, good[1]]) + "\n")
    _other_project(tmp_path, monkeypatch)
    code, out, err = ragft(capsys, "import", str(exported))
    assert (code, out) == (2, "")
    assert err.startswith(f"ragft import: {exported}:2 ") and says in err
    assert "nothing was imported" in err and len(err.splitlines()) == 1
    _, out, _ = ragft(capsys, "history", "--json")
    assert json.loads(out) == []


def test_import_of_a_missing_file_is_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    other = _other_project(tmp_path, monkeypatch)
    code, _, err = ragft(capsys, "import", str(tmp_path / "nope.jsonl"))
    assert code == 2
    assert err == f"ragft import: {tmp_path / 'nope.jsonl'}: no such file " + (
        "(write one with `ragft export -o FILE`)\n"
    )
    assert not (other / "store.sqlite").exists()


def test_export_to_stdout_pairs_with_import_from_stdin(
    ran: Project,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import io

    _, exported, _ = ragft(capsys, "export")
    _, before, _ = ragft(capsys, "history", "--json")
    _other_project(tmp_path, monkeypatch)
    monkeypatch.setattr("sys.stdin", io.StringIO(exported))
    code, out, _ = ragft(capsys, "import", "-")
    assert code == 0 and "imported 2 run(s)" in out
    _, after, _ = ragft(capsys, "history", "--json")
    assert json.loads(after) == json.loads(before)


def test_import_honours_store_outputs_false(
    project: Project,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project.standard(history=".ragft/history.sqlite")
    project.run()
    monkeypatch.chdir(project.path)
    assert all(r["answer"] for c in project.report()["cases"] for r in c["repeats"])
    exported = tmp_path / "runs.jsonl"
    ragft(capsys, "export", "-o", str(exported))
    other = _other_project(tmp_path, monkeypatch, "store_outputs = false\n")
    code, out, _ = ragft(capsys, "import", str(exported))
    assert code == 0 and "imported 1 run(s)" in out
    _, out, _ = ragft(capsys, "report", "--format", "json")
    repeats = [r for c in json.loads(out)["cases"] for r in c["repeats"]]
    assert repeats and all(r["answer"] is None and r["answer_sha256"] for r in repeats)
    with sqlite3.connect(other / "store.sqlite") as conn:
        excerpts = conn.execute("SELECT answer_excerpt FROM ragft_results").fetchall()
    assert excerpts and set(excerpts) == {(None,)}


def test_merge_that_cannot_store_its_run_says_so(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_ragft.history import HistoryError, HistoryStore

    project.standard(history=".ragft/history.sqlite", thresholds={"behavior": 0.0})
    project.run("evals/knowledge.yaml", "--ragft-no-history", "--ragft-report-dir", "s1")
    project.run("evals/behavior.yaml", "--ragft-no-history", "--ragft-report-dir", "s2")
    monkeypatch.chdir(project.path)

    def refuse(self: HistoryStore, report: Any, *, store_outputs: bool = True) -> None:
        raise HistoryError("history store x.sqlite: disk I/O error")

    monkeypatch.setattr(HistoryStore, "write_run", refuse)
    code, out, err = ragft(capsys, "merge", "s1/ragft-report.json", "s2/ragft-report.json")
    # A run that could not be stored fails the job, as it fails a pytest run: nothing is lost
    # without a failing status.
    assert code == 1 and "stored in" not in out and "gate pass" in out
    assert "ragft merge: the run was not stored in history: history store x.sqlite" in err
    assert (project.path / "ragft-report.json").is_file()


def test_merge_writes_every_configured_report_and_prints_the_summary(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project.standard(report={"markdown": "out/report.md", "html": "out/report.html"})
    project.run("evals/knowledge.yaml", "--ragft-report-dir=s1")
    project.run("evals/behavior.yaml", "--ragft-report-dir=s2")
    monkeypatch.chdir(project.path)
    code, out, _ = ragft(capsys, "merge", "s1/ragft-report.json", "s2/ragft-report.json")
    assert code == 1  # behavior below its threshold, as in one run
    assert "gate: FAIL (below_threshold: behavior" in out
    assert "written: JSON ragft-report.json · Markdown out/report.md · HTML out/report.html" in out
    markdown = (project.path / "out" / "report.md").read_text()
    assert markdown.startswith("<!-- ragft:report suite=demo -->")
    assert "4/4" not in markdown and "2/2" in markdown  # the merged categories


def test_comment_without_a_token_says_how_to_give_one(
    ran: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("GITHUB_TOKEN", "RAGFT_GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_REPOSITORY", "o/r")
    monkeypatch.setenv("RAGFT_PR", "7")
    code, _, err = ragft(capsys, "comment", "--report", "ragft-report.json")
    assert code == 2
    assert (
        err
        == "ragft comment: cannot post: no GitHub token: set GITHUB_TOKEN or RAGFT_GITHUB_TOKEN\n"
    )


def test_a_query_password_never_reaches_history_output(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql+psycopg://ragft@127.0.0.1:1/nowhere?password=s3cret&connect_timeout=2"
    project.configure(history=url)
    monkeypatch.chdir(project.path)
    code, _, err = ragft(capsys, "history")
    assert code == 2 and "s3cret" not in err and "password=***" in err


def test_merge_of_some_shards_only_is_reported_but_not_stored(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project.standard(history=".ragft/history.sqlite", thresholds={"behavior": 0.0})
    project.run("evals/knowledge.yaml", "--ragft-no-history", "--ragft-report-dir=s1")
    monkeypatch.chdir(project.path)
    code, out, err = ragft(capsys, "merge", "s1/ragft-report.json", "-o", "m.json")
    assert code == 0
    assert "not stored in history: 2 of 4 file cases are in the shards" in err
    assert project.report("m.json")["complete"] is False
    assert not (project.path / ".ragft" / "history.sqlite").exists() or "stored in" not in out


def test_compare_pairs_two_stored_runs_and_judges_each_category(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    other = _other_project(tmp_path, monkeypatch)
    before = [
        case(f"b{i}", "behavior", "failed" if i < 9 else "passed", diagnosis="behavior")
        for i in range(20)
    ]
    after = [case(f"b{i}", "behavior", "passed") for i in range(20)]
    after[9] = case("b9", "behavior", "failed", diagnosis="behavior")
    lines = []
    for run_id, records in (("run-a", before), ("run-b", after)):
        report = summary(other, records, table={"suite": "demo"}).to_json()
        lines.append(json.dumps({**report, "run_id": run_id}))
    (tmp_path / "runs.jsonl").write_text("\n".join(lines) + "\n")
    assert ragft(capsys, "import", str(tmp_path / "runs.jsonl"))[0] == 0

    code, out, _ = ragft(capsys, "compare", "run-a", "run-b")
    assert code == 0, out
    assert out.splitlines()[0] == "run-b against run-a"
    # 10 discordant cases, 9 fixed: P(X >= 9) = 11/1024 = 0.0107.
    assert "9 fixed, 1 broken; McNemar exact p = 0.0107: better" in out
    assert "run-b: behavior better (9 fixed, 1 broken); may replace main" in out
    assert "    broken: b9 (behavior)" in out
    code, out, _ = ragft(capsys, "compare", "run-a", "run-b", "--json")
    data = json.loads(out)["variants"][0]["categories"]["behavior"]
    assert data["p_better"] == pytest.approx(11 / 1024)
    code, _, err = ragft(capsys, "compare", "run-a", "nope")
    assert code != 0 and "no run 'nope'" in err
