"""Schema 3: variant results stored as rows of their own (and never read as the main
pipeline's), each category's retrieval and usage measures, and the upgrade from schema 2."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import Project
from test_history import (  # noqa: F401 (fixtures)
    make_case,
    make_report,
    result_rows,
    sql_url,
    stored_version,
    target,
)
from test_run_variants import _project as variant_project

from pytest_ragft.cli import main
from pytest_ragft.history import HistoryError, HistoryStore, migrations, open_store, tables

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
SCHEMA_2_FILE = Path(__file__).parent / "data" / "history-schema2.sqlite"
"""A store written by pytest-ragft at schema 2 (two runs of suite ``bot`` on ``main``)."""


def _variant_cases(run: int) -> list[dict[str, Any]]:
    """A variant that disagrees with the main pipeline everywhere: it fails what the main one
    passes and the reverse, alternates run to run, has another expectations digest and a case
    of its own."""
    flip = "failed" if run % 2 else "passed"
    cases = [
        make_case("k1", "knowledge", "failed", answer=f"variant {run}"),
        make_case("b1", "behavior", flip, repeats=["passed", "failed"]),
        make_case("only-in-variant", "knowledge", flip),
    ]
    for case in cases:
        case["content"] = f"variant-digest-{run}"
    return cases


def _main_cases(run: int) -> list[dict[str, Any]]:
    cases = [make_case("k1"), make_case("b1", "behavior", "failed")]
    for case in cases:
        case["content"] = "main-digest"
    return cases


def _everything_read(store: HistoryStore) -> dict[str, Any]:
    cases = ["k1", "b1", "only-in-variant"]
    snap = store.snapshot("bot", "main", 5, horizon_start=LONG_AGO, signal_cases=cases)
    return {
        "baseline": snap.baseline,
        "prior_runs": snap.prior_runs,
        "series": snap.series,
        "flaky": snap.flaky,
        "observations": snap.observations,
        "contents": snap.contents,
        "spans": snap.spans_horizon,
        "flaky_cases": store.flaky_cases("bot"),
        "observations_alone": store.observations("bot"),
        "case_series": [store.case_series("bot", c) for c in ("k1", "b1", "only-in-variant")],
        "main_records": store.pipeline_records("run-0")[1],
    }


def test_no_variant_row_reaches_any_question_asked_of_past_runs(tmp_path: Path) -> None:
    """Two stores with the same main runs, one also holding variants that disagree with them
    in every way: each read of past runs must give the same answer from both."""
    read = []
    for with_variants in (False, True):
        path = tmp_path / f"store-{with_variants}.sqlite"
        with open_store(str(path), tmp_path) as store:
            for run in range(4):
                variants = {"strict": _variant_cases(run)} if with_variants else None
                report = make_report(f"run-{run}", minute=run, cases=_main_cases(run))
                store.write_run(report, variants=variants)
            read.append(_everything_read(store))
    assert read[0]["baseline"].latest_outcomes == {
        "k1": ("knowledge", True),
        "b1": ("behavior", False),
    }
    assert read[0]["contents"] == {"k1": {"main-digest"}, "b1": {"main-digest"}}
    assert read[0]["case_series"][2] == [] and read[0]["flaky"] == []
    for key in read[0]:
        assert read[1][key] == read[0][key], key


def test_variant_rows_are_written_with_the_run_and_marked(tmp_path: Path) -> None:
    target_path = str(tmp_path / "h.sqlite")
    with open_store(target_path, tmp_path) as store:
        store.write_run(make_report("r", cases=_main_cases(0)), variants={"v2": _variant_cases(1)})
        run_id, records, names = store.pipeline_records("r", "v2")
    assert (run_id, names) == ("r", ["v2"])
    assert [(r.id, r.outcome) for r in records] == [
        ("k1", "failed"),
        ("b1", "failed"),
        ("only-in-variant", "failed"),
    ]
    assert [r.outcome for r in records[1].repeats] == ["passed", "failed"]
    rows = result_rows(target_path, "r")
    assert sorted({r["pipeline"] for r in rows}, key=str) == [None, "v2"]
    assert sum(r["pipeline"] == "v2" for r in rows) == 4  # b1 has two repeats


def test_a_failed_variant_write_leaves_no_run(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "h.sqlite"), tmp_path) as store:
        bad = [{**make_case("k1"), "repeats": [{"repeat": "not a number", "outcome": "passed"}]}]
        with pytest.raises(ValueError):
            store.write_run(make_report("r"), variants={"v": bad})
        assert store.recent_runs("bot") == []


def test_variant_rows_keep_no_answer_when_outputs_are_off(tmp_path: Path) -> None:
    target_path = str(tmp_path / "h.sqlite")
    with open_store(target_path, tmp_path) as store:
        cases = [make_case("k1", answer="the secret variant answer")]
        store.write_run(make_report("r"), store_outputs=False, variants={"v": cases})
    engine = sa.create_engine(sql_url(target_path))
    with engine.connect() as conn:
        dumped = repr(conn.execute(sa.select(tables.results)).all())
    engine.dispose()
    assert "secret variant" not in dumped


def test_an_unknown_variant_names_the_stored_ones(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "h.sqlite"), tmp_path) as store:
        store.write_run(make_report("r"), variants={"v2": _variant_cases(0)})
        with pytest.raises(HistoryError, match=r"no variant 'v3' \(its stored variants: v2\)"):
            store.pipeline_records("r", "v3")
        with pytest.raises(HistoryError, match="no run 'nope'"):
            store.pipeline_records("nope")


def test_category_measures_are_stored_per_run(tmp_path: Path) -> None:
    target_path = str(tmp_path / "h.sqlite")
    report = make_report("r")
    report["retrieval"] = {"knowledge": {"cases": 3, "k": 3, "hit": 1.0, "recall": 0.5}}
    report["usage"] = {"knowledge": {"latency_p95_s": 0.4, "cost_per_case": 0.01}}
    with open_store(target_path, tmp_path) as store:
        store.write_run(report)
    engine = sa.create_engine(sql_url(target_path))
    with engine.connect() as conn:
        rows = {r.kind: r for r in conn.execute(sa.select(tables.categories))}
    engine.dispose()
    knowledge, behavior = rows["knowledge"], rows["behavior"]
    assert (knowledge.hit, knowledge.recall, knowledge.retrieval_k) == (1.0, 0.5, 3)
    assert (knowledge.mrr, knowledge.latency_p95_s, knowledge.cost_per_case) == (None, 0.4, 0.01)
    assert all(getattr(behavior, m) is None for m in tables.MEASURES)


# -- the upgrade from schema 2 ------------------------------------------------------------------


def _schema_2(where: str, tmp_path: Path) -> None:
    """A schema 2 store at ``where``: the file pytest-ragft wrote at schema 2 for SQLite; for
    PostgreSQL a current store with what schema 3 added taken away."""
    if "://" not in where:
        Path(where).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SCHEMA_2_FILE, where)
        return
    with open_store(where, tmp_path) as store:
        for minute, run_id in ((1, "schema2-a"), (2, "schema2-b")):
            store.write_run(make_report(run_id, minute=minute))
    engine = sa.create_engine(where)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE ragft_judge_cache"))
        conn.execute(sa.text("ALTER TABLE ragft_results DROP COLUMN pipeline"))
        for column in tables.MEASURES:
            conn.execute(sa.text(f"ALTER TABLE ragft_categories DROP COLUMN {column}"))
        conn.execute(sa.text("UPDATE ragft_schema SET version = 2"))
    engine.dispose()


def test_a_schema_2_store_is_upgraded_in_place_and_keeps_its_runs(
    target: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    _schema_2(target, tmp_path)
    assert stored_version(target) == 2
    with open_store(target, tmp_path) as store:
        assert [r.run_id for r in store.recent_runs("bot")] == ["schema2-b", "schema2-a"]
        before = store.baseline("bot", "main", 5)
        assert before.run_ids == ["schema2-b", "schema2-a"] and before.latest_outcomes
        report = make_report("after", minute=3, cases=_main_cases(3))
        report["retrieval"] = {"knowledge": {"cases": 1, "hit": 1.0}}
        store.write_run(report, variants={"v2": _variant_cases(3)})
        assert store.baseline("bot", "main", 5).run_ids == ["after", "schema2-b", "schema2-a"]
        assert store.pipeline_records("after", "v2")[2] == ["v2"]
        oldest = store.series("bot")[0]
        assert oldest["rates"] == {"knowledge": 0.9, "behavior": 0.75}
    assert stored_version(target) == 3
    if "://" not in target:
        assert migrations.backup_path(Path(target), 2).is_file()


def test_an_older_plugin_is_told_the_store_is_newer(
    target: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with open_store(target, tmp_path) as store:
        store.write_run(make_report("r"))
    monkeypatch.setattr(tables, "SCHEMA_VERSION", 2)  # a pytest-ragft that reads schema 2
    with pytest.raises(
        HistoryError, match=r"newer pytest-ragft \(schema 3, this one reads up to 2\)"
    ):
        open_store(target, tmp_path)


# -- ragft compare RUN --variant NAME -----------------------------------------------------------


def test_compare_a_run_with_its_stored_variant(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    variant_project(project)
    project.configure(
        thresholds={"knowledge": 0, "behavior": 0},
        variants={"strict": {"pipeline": "bot:fixed", "role": "prompt", "target": "behavior"}},
        history=".ragft/history.sqlite",
    )
    assert project.run("--ragft-variant=strict").ret == 0
    run_id = project.report()["run_id"]
    monkeypatch.chdir(project.path)
    capsys.readouterr()
    assert main(["compare", run_id[:12], "--variant", "strict"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"strict against the main pipeline of {run_id[:12]}")
    # judged as the run judged it: its role and target from [tool.ragft.variants.strict]
    assert "strict (prompt): behavior better (12 fixed, 0 broken); may replace main" in out
    summary_line = next(v for v in project.report()["variants"]["variants"])
    assert summary_line["replaces"] is True
    assert main(["compare", run_id, "--variant", "strict", "--json"]) == 0
    [variant] = json.loads(capsys.readouterr().out)["variants"]
    behavior = variant["categories"]["behavior"]
    assert (behavior["wins"], behavior["losses"], behavior["verdict"]) == (12, 0, "better")
    assert main(["compare", run_id, "--variant", "lax"]) == 2
    assert "no variant 'lax' (its stored variants: strict)" in capsys.readouterr().err
    assert main(["compare", run_id, run_id, "--variant", "strict"]) == 2
    assert "one run and a variant" in capsys.readouterr().err


# -- the judge cache's table ----------------------------------------------------------------------


def test_a_judged_result_is_stored_replaced_and_read_back(
    target: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from pytest_ragft.history.judgecache import JudgeCache, Judged

    judged = Judged("tone", "canned-judge", 0.3, False, 0.6, "Rude.")
    with open_store(target, tmp_path) as store:
        assert store.judged("k" * 64) is None
        store.remember_judged("k" * 64, judged.__dict__, datetime.now(UTC))
        assert store.judged("k" * 64) == judged.__dict__
    cache = JudgeCache(target, tmp_path)
    assert cache.get("k" * 64) == judged
    fresh = Judged("tone", "canned-judge", 0.9, True, 0.6, "Polite.")
    bypassing = JudgeCache(target, tmp_path, read=False)
    assert bypassing.get("k" * 64) is None  # rejudge: nothing is read...
    bypassing.put("k" * 64, fresh)  # ...and the fresh result replaces the old
    assert cache.get("k" * 64) == fresh
    cache.close()
    bypassing.close()


def test_a_judge_cache_whose_store_cannot_be_opened_is_no_cache(tmp_path: Path) -> None:
    from pytest_ragft.history.judgecache import JudgeCache, Judged

    (tmp_path / "h.sqlite").write_bytes(b"not a database at all" * 100)
    cache = JudgeCache("h.sqlite", tmp_path)
    assert cache.get("k") is None
    cache.put("k", Judged("tone", None, 0.5, None, None, None))
    assert cache.error is not None and "h.sqlite" in cache.error and not cache.enabled
