from __future__ import annotations

import io
import itertools
import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_ragft.diagnosis import evidence
from pytest_ragft.history import HistoryError, HistoryStore, migrations, open_store, tables
from pytest_ragft.history import engine as engines
from pytest_ragft.history import store as store_module
from pytest_ragft.history.errors import mask_url
from pytest_ragft.history.rows import EXCERPT_CHARS, REDACTED, redact, sha256
from pytest_ragft.model import Case, CaseRecord, Result
from pytest_ragft.runsummary import RunSummary

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
_ids = itertools.count()


def _pg_unreachable() -> str | None:
    """Why the PostgreSQL half cannot run, or None when the server answers."""
    try:
        import psycopg
    except ImportError as error:
        return f"psycopg is not installed: {error}"
    try:
        psycopg.connect(
            "host=127.0.0.1 port=5432 user=postgres dbname=test", connect_timeout=3
        ).close()
    except psycopg.Error as error:
        return f"no PostgreSQL server at 127.0.0.1:5432 (user postgres, db test): {error}"
    return None


_PG_SKIP = _pg_unreachable()


def make_case(
    case_id: str,
    kind: str = "knowledge",
    outcome: str = "passed",
    *,
    answer: str = "an answer",
    input_text: str = "a question",
    repeats: list[str] | None = None,
    messages: list[str] | None = None,
) -> dict[str, Any]:
    outcomes = repeats or [outcome]
    return {
        "id": case_id,
        "nodeid": f"evals/x.yaml::{case_id}",
        "kind": kind,
        "outcome": outcome,
        "pass_ratio": sum(o == "passed" for o in outcomes) / len(outcomes),
        "tags": ["t1", "t2"],
        "volatile": kind == "knowledge",
        "source": "evals/x.yaml",
        "input": input_text,
        "facts": ["fact"],
        "messages": messages or [],
        "static_diagnosis": None if outcome == "passed" else "hybrid",
        "counterfactual": None if outcome == "passed" else "failed",
        "diagnosis": None if outcome == "passed" else "hybrid",
        "python": False,
        "skip_reason": None,
        "repeats": [
            {
                "repeat": i,
                "outcome": o,
                "messages": list(messages or []),
                "answer": answer,
                "contexts": [f"context holding {answer}"],
                "latency_s": 0.25 + i,
                "error": None,
                "scores": {},
            }
            for i, o in enumerate(outcomes)
        ],
    }


def make_report(
    run_id: str | None = None,
    *,
    suite: str = "bot",
    minute: int = 0,
    branch: str = "main",
    rates: dict[str, tuple[int, int]] | None = None,
    cases: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    counts = rates or {"knowledge": (9, 10), "behavior": (3, 4)}
    started = T0 + timedelta(minutes=minute)
    return {
        "schema_version": 1,
        "suite": suite,
        "run_id": run_id or f"run-{next(_ids)}",
        "started_at": started.isoformat(),
        "finished_at": (started + timedelta(seconds=30)).isoformat(),
        "plugin_version": "0.1.0",
        "pipeline": "bot.pipeline:answer",
        "config_hash": "cfg123",
        "git": {"sha": "a" * 40, "branch": branch, "base_branch": "main", "pr": 7},
        "ci": {"provider": "github", "run_url": "https://github.com/o/r/actions/runs/1"},
        "gate": {"verdict": "pass", "events": []},
        "categories": {
            kind: {
                "passed": p,
                "failed": t - p,
                "error": 0,
                "total": t,
                "rate": p / t if t else None,
                "ci": None,
                "threshold": 0.9,
                "baseline": None,
            }
            for kind, (p, t) in counts.items()
        },
        "diagnosis": {"knowledge": 0, "hybrid": 1, "behavior": 0, "error": 0},
        "checklist": [],
        "recommendation": {"cell": None, "counts": {}, "not_yet": []},
        "cases": cases
        if cases is not None
        else [make_case("k1"), make_case("b1", "behavior", "failed")],
    }


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store location: a SQLite file, or a fresh PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield str(tmp_path / "store" / "history.sqlite")
        return
    if _PG_SKIP:
        pytest.skip(_PG_SKIP)
    schema = f"ragft_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_SERVER)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def store(target: str, tmp_path: Path) -> Iterator[HistoryStore]:
    with open_store(target, tmp_path) as opened:
        yield opened


def sql_url(target: str) -> str:
    return target if "://" in target else f"sqlite:///{target}"


def dump(target: str) -> str:
    """Every value of every store table as text, read outside the store's own code."""
    engine = sa.create_engine(sql_url(target))
    try:
        with engine.connect() as conn:
            return "\n".join(
                repr(tuple(row))
                for table in tables.metadata.sorted_tables
                for row in conn.execute(sa.select(table))
            )
    finally:
        engine.dispose()


def result_rows(target: str, run_id: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(sql_url(target))
    try:
        with engine.connect() as conn:
            query = (
                sa.select(tables.results)
                .join(tables.runs, tables.runs.c.id == tables.results.c.run_pk)
                .where(tables.runs.c.run_id == run_id)
                .order_by(tables.results.c.case_id, tables.results.c.repeat)
            )
            return [dict(row._mapping) for row in conn.execute(query)]
    finally:
        engine.dispose()


def stored_version(target: str) -> int:
    engine = sa.create_engine(sql_url(target))
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.max(tables.schema_version.c.version))).scalar_one()
            )
    finally:
        engine.dispose()


def set_version(target: str, version: int) -> None:
    engine = sa.create_engine(sql_url(target))
    try:
        with engine.begin() as conn:
            conn.execute(sa.update(tables.schema_version).values(version=version))
    finally:
        engine.dispose()


# -- writing and reading ------------------------------------------------------------------------


def test_round_trip(store: HistoryStore, target: str) -> None:
    long_answer = "x" * 800
    report = make_report(
        "r-1",
        cases=[
            make_case("k1", answer=long_answer, repeats=["passed", "failed"], outcome="passed"),
            make_case("b1", "behavior", "failed", messages=["max_words: expected <= 5, got 9"]),
        ],
    )
    store.write_run(report)

    assert store.get_report("r-1") == report
    [row] = store.recent_runs("bot")
    assert (row.run_id, row.suite, row.branch, row.sha, row.pr, row.verdict) == (
        "r-1",
        "bot",
        "main",
        "a" * 40,
        7,
        "pass",
    )
    assert row.ci_provider == "github" and (row.run_url or "").endswith("/runs/1")
    assert row.rates == {"knowledge": 0.9, "behavior": 0.75}
    assert datetime.fromisoformat(row.started_at or "") == T0

    rows = result_rows(target, "r-1")
    assert [(r["case_id"], r["repeat"], r["outcome"], r["case_outcome"]) for r in rows] == [
        ("b1", 0, "failed", "failed"),
        ("k1", 0, "passed", "passed"),
        ("k1", 1, "failed", "passed"),
    ]
    b1, k1 = rows[0], rows[1]
    assert len(k1["answer_excerpt"]) == EXCERPT_CHARS
    assert k1["answer_sha256"] == sha256(long_answer)
    assert k1["input_hash"] == sha256("a question")
    assert k1["tags"] == ["t1", "t2"] and k1["volatile"] is True
    assert b1["diagnosis"] == "hybrid" and b1["static_diagnosis"] == "hybrid"
    assert b1["counterfactual"] == "failed"
    assert b1["messages"] == ["max_words: expected <= 5, got 9"]
    assert b1["latency_s"] == 0.25


def test_a_case_that_never_ran_gets_one_row(store: HistoryStore, target: str) -> None:
    case = make_case("s1", outcome="skipped")
    case["repeats"], case["skip_reason"] = [], "not today"
    store.write_run(make_report("r-skip", cases=[case]))
    [row] = result_rows(target, "r-skip")
    assert (row["repeat"], row["outcome"], row["error"]) == (None, "skipped", "not today")


def test_a_run_id_is_written_once(store: HistoryStore) -> None:
    store.write_run(make_report("dup"))
    with pytest.raises(HistoryError, match="dup is already in history"):
        store.write_run(make_report("dup", minute=5))
    assert store.count_runs("bot") == 1


def test_a_failure_inside_the_transaction_leaves_no_partial_run(
    store: HistoryStore, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.write_run(make_report("kept"))
    before = dump(target)

    def explode(conn: sa.Connection, rows: Any) -> None:
        conn.execute(sa.insert(tables.results), list(rows))
        raise KeyboardInterrupt  # as when a user hits Ctrl-C mid-write

    monkeypatch.setattr(store_module, "_insert_results", explode)
    with pytest.raises(KeyboardInterrupt):
        store.write_run(make_report("lost"))
    assert store.get_report("lost") is None
    assert dump(target) == before


def test_report_without_a_run_id_is_refused(store: HistoryStore) -> None:
    report = make_report()
    del report["run_id"]
    with pytest.raises(HistoryError, match="no 'run_id'"):
        store.write_run(report)


# -- baseline --------------------------------------------------------------------------------


def test_baseline_is_the_mean_of_the_latest_runs_on_the_branch(store: HistoryStore) -> None:
    # Written out of order: the baseline follows started_at, not insertion.
    for minute, passed in [(3, 6), (1, 2), (4, 8), (2, 4), (5, 10)]:
        store.write_run(
            make_report(f"main-{minute}", minute=minute, rates={"knowledge": (passed, 10)})
        )
    store.write_run(make_report("feat", minute=9, branch="feature", rates={"knowledge": (0, 10)}))

    base = store.baseline("bot", "main", 3)
    assert base.run_ids == ["main-5", "main-4", "main-3"]
    assert base.count == 3
    assert base.rates["knowledge"] == pytest.approx((1.0 + 0.8 + 0.6) / 3)
    assert base.pooled == {"knowledge": (24, 30)}
    assert base.latest_outcomes == {"k1": ("knowledge", True), "b1": ("behavior", False)}

    assert store.baseline("bot", "feature", 5).run_ids == ["feat"]
    assert store.baseline("bot", "main", 50).count == 5
    assert store.baseline("other-suite", "main", 5).count == 0
    assert store.baseline("bot", "main", 0).count == 0


def test_baseline_skips_empty_categories_in_the_mean(store: HistoryStore) -> None:
    store.write_run(make_report(minute=1, rates={"knowledge": (1, 2), "behavior": (0, 0)}))
    store.write_run(make_report(minute=2, rates={"knowledge": (2, 2), "behavior": (1, 4)}))
    base = store.baseline("bot", "main", 5)
    assert base.rates == {"knowledge": 0.75, "behavior": 0.25}
    assert base.pooled == {"knowledge": (3, 4), "behavior": (1, 4)}


def test_exclude_run_id_leaves_the_current_run_out(store: HistoryStore) -> None:
    store.write_run(make_report("old", minute=1, rates={"knowledge": (5, 10)}))
    store.write_run(make_report("current", minute=2, rates={"knowledge": (10, 10)}))

    base = store.baseline("bot", "main", 5, exclude_run_id="current")
    assert base.run_ids == ["old"]
    assert base.rates["knowledge"] == 0.5
    assert store.count_runs("bot", "main", exclude_run_id="current") == 1
    assert store.count_runs("bot", "main") == 2
    assert store.count_runs("bot") == 2
    assert store.count_runs("bot", "feature") == 0


def test_latest_outcomes_ignore_skipped_cases(store: HistoryStore) -> None:
    skipped = make_case("s1", outcome="skipped")
    skipped["repeats"] = []
    error = make_case("e1", outcome="error", repeats=["error"])
    store.write_run(make_report(cases=[skipped, error, make_case("k1")]))
    assert store.baseline("bot", "main", 1).latest_outcomes == {
        "e1": ("knowledge", False),
        "k1": ("knowledge", True),
    }


# -- outputs off ---------------------------------------------------------------------------


def test_store_outputs_false_keeps_no_answer_text_anywhere(
    store: HistoryStore, target: str
) -> None:
    secret = "Customer 4711 lives at 12 Elm Street, Springfield"
    case = make_case(
        "k1",
        "knowledge",
        "failed",
        answer=secret,
        messages=[f"contains: expected '30 days', got '{secret[:40]}...'"],
    )
    case["messages"] = [f"not_contains: got '{secret.upper()}'"]
    store.write_run(make_report("private", cases=[case]), store_outputs=False)
    store.close()

    assert "Elm Street" not in dump(target)
    if "://" not in target:
        raw = b"".join(p.read_bytes() for p in Path(target).parent.iterdir())
        assert b"Elm Street" not in raw
    with open_store(target, Path(target).parent) as reopened:
        report = reopened.get_report("private")
    assert report is not None
    assert "Elm Street" not in json.dumps(report)
    repeat = report["cases"][0]["repeats"][0]
    assert repeat["answer"] is None and repeat["contexts"] == []
    assert repeat["answer_sha256"] == sha256(secret)
    assert repeat["messages"] == [f"contains: expected '30 days', got '{REDACTED}...'"]
    [row] = result_rows(target, "private")
    assert row["answer_excerpt"] is None and row["answer_sha256"] == sha256(secret)


@given(
    answer=st.text(min_size=10, max_size=200),
    start=st.integers(min_value=0, max_value=100),
    length=st.integers(min_value=10, max_value=200),
    prefix=st.text(max_size=30),
)
def test_redact_removes_any_quoted_stretch_of_the_answer(
    answer: str, start: int, length: int, prefix: str
) -> None:
    quoted = answer[start : start + length]
    if len(quoted) < 10:
        return
    message = f"{prefix}got '{quoted}'"
    assert quoted not in redact(message, [answer])


def test_redact_keeps_messages_that_quote_nothing() -> None:
    message = "max_words: expected <= 5 words, got 9"
    assert redact(message, ["Sure, here is a long answer for you"]) == message


def test_get_report_takes_a_unique_prefix_from_any_suite(store: HistoryStore) -> None:
    store.write_run(make_report("3f2a9c1b7d4e-aaaa", suite="other", minute=1))
    store.write_run(make_report("3f2a9c1b7d4e-bbbb", suite="other", minute=2))
    store.write_run(make_report("9e_1", suite="bot", minute=3))
    found = store.get_report("3f2a9c1b7d4e-a", suite="bot")
    assert found is not None and found["run_id"] == "3f2a9c1b7d4e-aaaa"
    full = store.get_report("9e_1", suite="other")
    assert full is not None and full["run_id"] == "9e_1"
    with pytest.raises(HistoryError) as info:
        store.get_report("3f2a9c1b7d4e")
    assert "'3f2a9c1b7d4e' is ambiguous" in str(info.value)
    assert "3f2a9c1b7d4e-bbbb, 3f2a9c1b7d4e-aaaa" in str(info.value)
    assert store.get_report("9e%") is None  # wildcards in a prefix are literal
    assert store.get_report("9e_") is not None and store.get_report("9ex") is None
    assert store.get_report("nope") is None


# -- schema versions ----------------------------------------------------------------------


def test_a_new_store_is_at_the_current_version_in_wal_mode(tmp_path: Path) -> None:
    with open_store("a/b/h.sqlite", tmp_path):
        pass
    path = tmp_path / "a" / "b" / "h.sqlite"
    assert stored_version(str(path)) == tables.SCHEMA_VERSION
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_newer_store_is_refused_and_left_untouched(target: str, tmp_path: Path) -> None:
    with open_store(target, tmp_path) as first:
        first.write_run(make_report("r"))
    newer = tables.SCHEMA_VERSION + 2
    set_version(target, newer)
    before = Path(target).read_bytes() if "://" not in target else dump(target)

    with pytest.raises(HistoryError) as info:
        open_store(target, tmp_path)
    message = str(info.value)
    assert f"(schema {newer}, this one reads up to {tables.SCHEMA_VERSION})" in message
    assert "upgrade pytest-ragft, or point `history` elsewhere" in message
    after = Path(target).read_bytes() if "://" not in target else dump(target)
    assert after == before
    assert stored_version(target) == newer


def _add_note_column(conn: sa.Connection) -> None:
    conn.exec_driver_sql("ALTER TABLE ragft_runs ADD COLUMN note TEXT")
    conn.exec_driver_sql("UPDATE ragft_runs SET note = 'migrated'")


def test_an_older_store_is_migrated_in_place_with_a_backup(
    target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_store(target, tmp_path) as old:
        old.write_run(make_report("before-upgrade"))
    old_version = tables.SCHEMA_VERSION

    monkeypatch.setattr(tables, "SCHEMA_VERSION", old_version + 1)
    monkeypatch.setattr(migrations, "STEPS", {old_version: _add_note_column})
    with open_store(target, tmp_path) as upgraded:
        assert upgraded.get_report("before-upgrade") is not None
        upgraded.write_run(make_report("after-upgrade", minute=1))
        assert [r.run_id for r in upgraded.recent_runs()] == ["after-upgrade", "before-upgrade"]

    assert stored_version(target) == old_version + 1
    engine = sa.create_engine(sql_url(target))
    with engine.connect() as conn:
        notes = conn.exec_driver_sql("SELECT run_id, note FROM ragft_runs ORDER BY id").all()
    engine.dispose()
    assert [tuple(n) for n in notes] == [("before-upgrade", "migrated"), ("after-upgrade", None)]

    if "://" not in target:
        backup = Path(f"{target}.bak-v{old_version}")
        assert backup.is_file()
        with sqlite3.connect(backup) as conn:
            assert conn.execute("SELECT version FROM ragft_schema").fetchall() == [(old_version,)]
            assert conn.execute("SELECT run_id FROM ragft_runs").fetchall() == [("before-upgrade",)]
            columns = [c[1] for c in conn.execute("PRAGMA table_info(ragft_runs)")]
        assert "note" not in columns


def test_a_failed_migration_leaves_the_old_store(
    target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_store(target, tmp_path) as old:
        old.write_run(make_report("r"))
    old_version = tables.SCHEMA_VERSION

    def half_done(conn: sa.Connection) -> None:
        _add_note_column(conn)
        raise RuntimeError("step failed half-way")

    monkeypatch.setattr(tables, "SCHEMA_VERSION", old_version + 1)
    monkeypatch.setattr(migrations, "STEPS", {old_version: half_done})
    with pytest.raises(RuntimeError, match="half-way"):
        open_store(target, tmp_path)
    assert stored_version(target) == old_version
    engine = sa.create_engine(sql_url(target))
    assert "note" not in {c["name"] for c in sa.inspect(engine).get_columns("ragft_runs")}
    engine.dispose()


def test_a_store_without_an_upgrade_path_is_refused(
    target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_store(target, tmp_path):
        pass
    monkeypatch.setattr(tables, "SCHEMA_VERSION", tables.SCHEMA_VERSION + 1)
    monkeypatch.setattr(migrations, "STEPS", {})
    with pytest.raises(HistoryError, match=f"no upgrade from schema {tables.SCHEMA_VERSION - 1}"):
        open_store(target, tmp_path)


def test_a_read_only_open_of_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(HistoryError) as info:
        open_store(".ragft/history.sqlite", tmp_path, create=False)
    path = tmp_path / ".ragft" / "history.sqlite"
    assert str(info.value) == (
        f"no history yet at {path}: run pytest (with [tool.ragft] in pyproject.toml) first"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_open_of_an_empty_store_writes_nothing(target: str, tmp_path: Path) -> None:
    if "://" not in target:
        Path(target).parent.mkdir(parents=True)
        Path(target).write_bytes(b"")
    with pytest.raises(HistoryError, match="no history yet at"):
        open_store(target, tmp_path, create=False)
    if "://" not in target:
        assert Path(target).read_bytes() == b""
    engine = sa.create_engine(sql_url(target))
    assert sa.inspect(engine).get_table_names() == []
    engine.dispose()


def test_a_read_only_open_refuses_an_older_store_and_leaves_it(
    target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_store(target, tmp_path) as old:
        old.write_run(make_report("r"))
    old_version = tables.SCHEMA_VERSION
    before = dump(target)
    monkeypatch.setattr(tables, "SCHEMA_VERSION", old_version + 1)
    monkeypatch.setattr(migrations, "STEPS", {old_version: _add_note_column})
    with pytest.raises(HistoryError, match=r"older than the .* it was left as it is"):
        open_store(target, tmp_path, create=False)
    assert stored_version(target) == old_version
    assert dump(target) == before
    if "://" not in target:
        assert not migrations.backup_path(Path(target), old_version).exists()


def test_a_read_only_open_reads_a_current_store(target: str, tmp_path: Path) -> None:
    with open_store(target, tmp_path) as first:
        first.write_run(make_report("r"))
    with open_store(target, tmp_path, create=False) as reader:
        assert [r.run_id for r in reader.recent_runs()] == ["r"]


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"this is not a database at all\n" * 100, id="text"),
        pytest.param(b"SQLite format 3\x00" + b"\xff" * 4000, id="bad-header"),
    ],
)
def test_a_corrupt_file_is_a_history_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "history.sqlite"
    path.write_bytes(content)
    with pytest.raises(HistoryError) as info:
        open_store("history.sqlite", tmp_path)
    message = str(info.value)
    assert str(path) in message
    assert "corrupt: SQLite's integrity_check says: file is not a database" in message
    assert "move it aside" in message
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.sqlite"]


def _damage_page_of(path: Path, table: str, seed: int) -> None:
    """Overwrite the root page of ``table`` with noise, as a bad disk sector would."""
    import random

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    conn.close()
    rng = random.Random(seed)
    data = bytearray(path.read_bytes())
    start = (root - 1) * size
    data[start : start + size] = bytes(rng.randrange(256) for _ in range(size))
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("table", "seed"),
    [
        pytest.param("ragft_schema", 1, id="schema-page"),
        pytest.param("ragft_schema", 2, id="schema-page-2"),
        pytest.param("ragft_runs", 3, id="runs-page"),
    ],
)
def test_a_page_corrupted_store_is_named_corrupt_and_left_alone(
    tmp_path: Path, table: str, seed: int
) -> None:
    path = tmp_path / "history.sqlite"
    with open_store("history.sqlite", tmp_path) as store:
        for n in range(5):
            store.write_run(make_report(f"r{n}"))
    _damage_page_of(path, table, seed)
    damaged = path.read_bytes()
    with pytest.raises(HistoryError) as info:
        with open_store("history.sqlite", tmp_path) as store:
            store.write_run(make_report("after"))
            store.recent_runs()
    message = str(info.value)
    assert str(path) in message
    assert "corrupt: SQLite's integrity_check says:" in message
    assert "restore it from a backup, or move it aside" in message
    assert "no upgrade" not in message
    assert path.read_bytes() == damaged
    assert not [p.name for p in tmp_path.iterdir() if ".bak-v" in p.name]


def test_integrity_problems_of_a_sound_store_is_empty(tmp_path: Path) -> None:
    with open_store("history.sqlite", tmp_path) as store:
        store.write_run(make_report("r"))
    assert migrations.integrity_problems(tmp_path / "history.sqlite") == []


def test_a_failed_upgrade_leaves_no_backup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_store("history.sqlite", tmp_path) as store:
        store.write_run(make_report("r"))
    conn = sqlite3.connect(tmp_path / "history.sqlite")
    conn.execute("UPDATE ragft_schema SET version = 0")
    conn.commit()
    conn.close()
    with pytest.raises(HistoryError, match="schema version 0, which no pytest-ragft writes"):
        open_store("history.sqlite", tmp_path)
    assert not [p.name for p in tmp_path.iterdir() if ".bak-v" in p.name]


def test_an_unreachable_server_is_a_history_error_without_the_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://ragft:hunter2secret@127.0.0.1:1/nowhere?connect_timeout=2"
    with pytest.raises(HistoryError) as info:
        open_store(url, tmp_path)
    message = str(info.value)
    assert "hunter2secret" not in message
    assert "ragft:***@127.0.0.1:1/nowhere" in message


def test_a_missing_driver_is_a_history_error(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="driver that is not installed"):
        open_store("mysql+nosuchdriver://u:pw@localhost/db", tmp_path)


@given(
    user=st.text(
        st.characters(blacklist_characters=":/@", blacklist_categories=("Zs", "Cc")), max_size=10
    ),
    password=st.text(
        st.characters(blacklist_characters="@/", blacklist_categories=("Zs", "Cc")), min_size=1
    ),
)
def test_mask_url_hides_any_password(user: str, password: str) -> None:
    masked = mask_url(f"cannot reach postgresql://{user}:{password}@db.example:5432/x: refused")
    assert f":{password}@" not in masked
    assert f"postgresql://{user}:***@db.example:5432/x" in masked


_SECRET_TEXT = st.text(
    st.characters(blacklist_categories=("Zs", "Cc", "Cs")), min_size=1, max_size=20
)
"""Passwords as they reach masking: the user:pw@ part of a URL has no whitespace or '@' left
unquoted, a query value is URL-encoded."""


@given(
    userinfo=st.one_of(st.none(), _SECRET_TEXT.filter(lambda pw: "@" not in pw)),
    key=st.sampled_from(["password", "sslpassword", "PASSWORD", "api_token", "client_secret"]),
    value=st.one_of(st.none(), st.text(min_size=1, max_size=20)),
)
def test_a_password_is_masked_in_the_userinfo_and_in_the_query(
    userinfo: str | None, key: str, value: str | None
) -> None:
    query = {"sslmode": "require", "application_name": "ci bot"}
    if value is not None:
        query[key] = value

    def url(password: str | None, secret: str | None) -> str:
        values = {**query, key: secret} if secret is not None else query
        return sa.URL.create(
            "postgresql+psycopg",
            username="ragft",
            password=password,
            host="db.example",
            port=5432,
            database="evals",
            query=values,
        ).render_as_string(hide_password=False)

    real = url(userinfo, value)
    placeholder = "PLACEHOLDER"
    expected = url(
        placeholder if userinfo is not None else None,
        placeholder if value is not None else None,
    ).replace(placeholder, "***")

    assert engines.resolve(real, Path("/")).shown == expected
    assert mask_url(f"cannot reach {real} now") == f"cannot reach {expected} now"
    assert str(HistoryError(f"store {real} failed")) == f"store {expected} failed"
    secrets = engines.resolve(real, Path("/")).secrets
    assert sorted(secrets) == sorted(s for s in (userinfo, value) if s is not None)


@pytest.mark.parametrize("key", ["password", "sslpassword", "ssl_secret", "auth_token"])
def test_mask_url_hides_password_like_query_keys(key: str) -> None:
    text = f"postgresql://u@h/db?sslmode=require&{key}=s3cret%21&x=1 and ?{key}=raw;y=2"
    assert mask_url(text) == (
        f"postgresql://u@h/db?sslmode=require&{key}=***&x=1 and ?{key}=***;y=2"
    )
    assert mask_url("postgresql://u@h/db?passwords=x&secretive=y") == (
        "postgresql://u@h/db?passwords=x&secretive=y"
    )


def test_an_unreachable_server_hides_a_password_given_in_the_query(tmp_path: Path) -> None:
    url = (
        "postgresql+psycopg://ragft@127.0.0.1:1/nowhere"
        f"?password={quote_plus('hunter2 secret')}&sslpassword=k3y&connect_timeout=2"
    )
    with pytest.raises(HistoryError) as info:
        open_store(url, tmp_path)
    message = str(info.value)
    assert "hunter2" not in message and "k3y" not in message
    assert "password=***" in message and "sslpassword=***" in message


def test_a_driver_echoing_a_query_password_is_scrubbed() -> None:
    target = engines.resolve("postgresql+psycopg://u@h/db?password=hunter2secret", Path("/"))
    error = sa.exc.OperationalError("connect", None, Exception("auth hunter2secret refused"))
    message = str(engines.translate(error, target))
    assert "hunter2secret" not in message
    assert "auth *** refused" in message


# -- concurrency and interruption -----------------------------------------------------------

_WRITER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from pytest_ragft.history import open_store

    target, rootdir, worker, count, template = sys.argv[1:6]
    report = json.loads(template)
    with open_store(target, Path(rootdir)) as store:
        for n in range(int(count)):
            report["run_id"] = f"w{worker}-{n}"
            report["started_at"] = f"2025-03-01T12:{int(worker) * 10 + n:02d}:00+00:00"
            store.write_run(report)
    """
)


def test_four_concurrent_writers_all_land(target: str, tmp_path: Path) -> None:
    per_writer = 12
    template = json.dumps(make_report(cases=[make_case(f"c{i}") for i in range(40)]))
    writers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WRITER,
                target,
                str(tmp_path),
                str(w),
                str(per_writer),
                template,
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(4)
    ]
    errors = [(w.wait(timeout=300), w.stderr.read() if w.stderr else "") for w in writers]
    assert [rc for rc, _ in errors] == [0, 0, 0, 0], errors

    with open_store(target, tmp_path) as store:
        assert store.count_runs("bot") == 4 * per_writer
        ids = {r.run_id for r in store.recent_runs("bot", last=100)}
    assert ids == {f"w{w}-{n}" for w in range(4) for n in range(per_writer)}
    assert all(len(result_rows(target, run_id)) == 40 for run_id in ("w0-0", "w3-11"))


_STALLED_WRITER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from pytest_ragft.history import open_store
    from pytest_ragft.history import store as store_module

    insert = store_module._insert_results

    def insert_then_stall(conn, rows):
        insert(conn, rows)
        print("inserted", flush=True)
        time.sleep(600)

    store_module._insert_results = insert_then_stall
    store = open_store(sys.argv[1], Path(sys.argv[2]))
    store.write_run(json.loads(sys.argv[3]))
    """
)


def test_a_writer_killed_mid_transaction_leaves_no_trace(target: str, tmp_path: Path) -> None:
    with open_store(target, tmp_path) as store:
        store.write_run(make_report("survivor", minute=1))
    before = dump(target)

    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _STALLED_WRITER,
            target,
            str(tmp_path),
            json.dumps(make_report("doomed", minute=2)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip() == "inserted", child.stderr.read() if child.stderr else ""
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    with open_store(target, tmp_path) as store:
        assert store.get_report("doomed") is None
        assert store.count_runs("bot") == 1
        assert dump(target) == before
        store.write_run(make_report("after", minute=3))  # the lock died with the writer
        assert [r.run_id for r in store.recent_runs("bot")] == ["after", "survivor"]
    if "://" not in target:
        with sqlite3.connect(target) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


# -- export / import --------------------------------------------------------------------------


def test_export_import_round_trip_is_idempotent(store: HistoryStore, tmp_path: Path) -> None:
    reports = [make_report(f"e{i}", minute=i, suite="bot" if i % 2 else "other") for i in range(5)]
    for report in reversed(reports):
        store.write_run(report)

    exported = io.StringIO()
    assert store.export_jsonl(exported) == 5
    lines = exported.getvalue().splitlines()
    assert [json.loads(line)["run_id"] for line in lines] == ["e0", "e1", "e2", "e3", "e4"]
    only_bot = io.StringIO()
    assert store.export_jsonl(only_bot, suite="bot") == 2

    with open_store("copy.sqlite", tmp_path) as copy:
        assert copy.import_jsonl(io.StringIO(exported.getvalue())) == 5
        assert copy.import_jsonl(io.StringIO(exported.getvalue())) == 0
        assert copy.count_runs("bot") == 2 and copy.count_runs("other") == 3
        again = io.StringIO()
        copy.export_jsonl(again)
        assert copy.get_report("e3") == reports[3]
    assert [json.loads(x) for x in again.getvalue().splitlines()] == [json.loads(x) for x in lines]
    assert store.import_jsonl(io.StringIO(exported.getvalue())) == 0


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        pytest.param("{oops", "runs.jsonl:2 is not JSON", id="not-json"),
        pytest.param(
            json.dumps({k: v for k, v in make_report("x").items() if k != "run_id"}),
            "runs.jsonl:2 is not a run report at the top level: 'run_id' is a required property",
            id="no-run-id",
        ),
        pytest.param(
            json.dumps({**make_report("x"), "gate": {"verdict": "maybe", "events": []}}),
            "runs.jsonl:2 is not a run report at gate.verdict",
            id="off-schema",
        ),
        pytest.param("[1, 2]", "runs.jsonl:2 is not a run report", id="not-an-object"),
    ],
)
def test_a_bad_import_line_is_named_and_nothing_is_imported(
    store: HistoryStore, bad: str, says: str
) -> None:
    good = json.dumps(make_report("fine"))
    with pytest.raises(HistoryError, match="nothing was imported") as info:
        store.import_jsonl(io.StringIO(f"{good}\n{bad}\n{good}\n"), name="runs.jsonl")
    assert says in str(info.value)
    assert store.get_report("fine") is None
    assert store.count_runs("bot") == 0


def test_import_without_a_name_says_which_line(store: HistoryStore) -> None:
    with pytest.raises(HistoryError, match="line 1 of the import is not JSON"):
        store.import_jsonl(io.StringIO("{oops\n"))


def test_import_with_store_outputs_false_keeps_no_answer_text(
    store: HistoryStore, target: str
) -> None:
    secret = "Customer 4711 lives at 12 Elm Street"
    line = json.dumps(make_report("private", cases=[make_case("k1", answer=secret)]))
    assert store.import_jsonl(io.StringIO(line + "\n"), store_outputs=False) == 1
    assert "Elm Street" not in dump(target)


# -- trends and flakiness ------------------------------------------------------------------


def test_series_is_oldest_first_and_limited(store: HistoryStore) -> None:
    for minute in [4, 0, 2, 1, 3]:
        store.write_run(make_report(f"s{minute}", minute=minute, rates={"knowledge": (minute, 4)}))
    store.write_run(make_report("f", minute=9, branch="feature"))
    series = store.series("bot", last=3, branch="main")
    assert [s["run_id"] for s in series] == ["s2", "s3", "s4"]
    assert [s["rates"]["knowledge"] for s in series] == [0.5, 0.75, 1.0]
    assert series[0]["branch"] == "main"
    assert [s["run_id"] for s in store.series("bot", last=2)] == ["s4", "f"]
    assert [r.run_id for r in store.recent_runs(last=2)] == ["f", "s4"]
    assert store.get_report()["run_id"] == "f"  # type: ignore[index]
    assert store.get_report(suite="bot", run_id="s1")["run_id"] == "s1"  # type: ignore[index]
    assert store.get_report("missing") is None


def test_flaky_cases_across_runs_and_repeats(store: HistoryStore) -> None:
    flips = ["passed", "failed", "passed", "passed"]
    for minute, outcome in enumerate(flips):
        cases = [
            make_case("flipper", outcome=outcome),
            # Outcome changes only because the input changed: not flaky.
            make_case("edited", outcome=outcome, input_text=f"question v{minute}"),
            make_case("steady", outcome="failed"),
            make_case(
                "wobbly",
                "behavior",
                outcome="passed",
                repeats=["passed", "failed", "passed"] if minute == 2 else ["passed"] * 3,
            ),
        ]
        store.write_run(make_report(f"run{minute}", minute=minute, cases=cases))

    flaky = {f["case_id"]: f for f in store.flaky_cases("bot", last=10)}
    assert set(flaky) == {"flipper", "wobbly"}
    assert flaky["flipper"]["across_runs"] == 2
    assert flaky["flipper"]["across_repeats"] == 0
    assert flaky["flipper"]["outcomes"] == ["passed", "failed", "passed", "passed"]
    assert "flipped 2x across 4 runs" in flaky["flipper"]["why"]
    assert (flaky["wobbly"]["across_runs"], flaky["wobbly"]["across_repeats"]) == (0, 1)
    assert flaky["wobbly"]["kind"] == "behavior"
    # The window counts: the latest run alone holds no flip.
    assert store.flaky_cases("bot", last=1) == []


def test_case_series_follows_one_case(store: HistoryStore) -> None:
    for minute, outcome in enumerate(["passed", "failed", "passed"]):
        cases = [make_case("k1", outcome=outcome, repeats=[outcome, "passed"])]
        if minute != 1:
            cases.append(make_case("sometimes"))
        store.write_run(make_report(f"c{minute}", minute=minute, cases=cases))
    series = store.case_series("bot", "k1", last=2)
    assert [s["run_id"] for s in series] == ["c1", "c2"]
    assert [s["outcome"] for s in series] == ["failed", "passed"]
    assert series[0]["repeats"] == ["failed", "passed"]
    assert series[0]["latency_s"] == pytest.approx(0.75)
    assert [s["run_id"] for s in store.case_series("bot", "sometimes")] == ["c0", "c2"]
    assert store.case_series("bot", "nope") == []


_texts = st.text(st.characters(blacklist_categories=["Cs"]), max_size=60)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    answers=st.lists(_texts, min_size=1, max_size=4),
    tags=st.lists(_texts, max_size=3),
    suite=_texts,
)
def test_any_text_survives_the_round_trip(
    store: HistoryStore, answers: list[str], tags: list[str], suite: str
) -> None:
    suite = f"h-{next(_ids)}-{suite.replace(chr(0), '')}"
    cases = []
    for i, answer in enumerate(answers):
        case = make_case(f"c{i}", answer=answer.replace("\x00", ""))
        case["tags"] = [t.replace("\x00", "") for t in tags]
        cases.append(case)
    report = make_report(suite=suite, cases=cases)
    store.write_run(report)
    assert store.get_report(report["run_id"]) == report
    assert store.series(suite)[0]["run_id"] == report["run_id"]


def test_a_snapshot_holds_what_the_single_queries_give(store: HistoryStore) -> None:
    for minute in range(7):
        branch = "main" if minute % 3 else "feature"
        store.write_run(make_report(f"s{minute}", minute=minute, branch=branch))
    known = store.snapshot("bot", "main", 3, exclude_run_id="s5", series_last=4, flaky_last=5)
    assert known.baseline == store.baseline("bot", "main", 3, exclude_run_id="s5")
    assert known.baseline.run_ids == ["s4", "s2", "s1"]
    assert known.prior_runs == store.count_runs("bot", "main", exclude_run_id="s5") == 3
    assert known.series == store.series("bot", last=4)
    assert [s["run_id"] for s in known.series] == ["s3", "s4", "s5", "s6"]
    assert known.flaky == store.flaky_cases("bot", last=5)


# -- a failure's evidence -----------------------------------------------------------------------


def _with_evidence(context: str) -> dict[str, Any]:
    case = make_case("k1", "knowledge", "failed", answer="no idea")
    record = CaseRecord.from_dict(case)
    record.repeats[0].contexts, record.repeats[0].sources = [context], ["doc#1"]
    case_obj = Case(id="k1", kind="knowledge", facts=("30 days",))
    result = Result(answer="no idea", contexts=(context,), sources=("doc#1",))
    record.evidence = evidence(case_obj, result, "failed")
    return record.to_dict()


def test_evidence_is_stored_and_read_back(store: HistoryStore) -> None:
    case = _with_evidence("Refunds within 30 days of delivery.")
    store.write_run(make_report("ev", cases=[case]))
    report = store.get_report("ev")
    assert report is not None
    [read] = RunSummary.from_json(report).cases
    assert read.evidence == CaseRecord.from_dict(case).evidence
    assert read.repeats[0].sources == ["doc#1"]


def test_store_outputs_false_keeps_the_marks_and_drops_the_context_text(
    store: HistoryStore, target: str
) -> None:
    secret = "Customer 4711 at 12 Elm Street gets refunds within 30 days."
    store.write_run(make_report("ev-private", cases=[_with_evidence(secret)]), store_outputs=False)
    assert "Elm Street" not in dump(target)
    report = store.get_report("ev-private")
    assert report is not None and "Elm Street" not in json.dumps(report)
    [read] = RunSummary.from_json(report).cases
    assert read.evidence is not None
    [context] = read.evidence.contexts
    assert (context.excerpt, context.hit, context.facts) == ("", None, [True])
    assert context.source == "doc#1"  # an id, not an output
    assert read.evidence.answer == [False]


def test_a_report_stored_before_evidence_reads_without_it(store: HistoryStore) -> None:
    store.write_run(make_report("old", cases=[make_case("b1", "behavior", "failed")]))
    report = store.get_report("old")
    assert report is not None and "evidence" not in report["cases"][0]
    [read] = RunSummary.from_json(report).cases
    assert read.evidence is None and read.repeats[0].sources == []


def test_a_schema_1_store_is_upgraded_and_keeps_its_runs(target: str, tmp_path: Path) -> None:
    """Schema 2 adds the dirty flag, the baseline flag and the expectations digest."""
    with open_store(target, tmp_path) as store:
        store.write_run(make_report("before", minute=1))
    engine = sa.create_engine(sql_url(target))
    with engine.begin() as conn:  # the store as pytest-ragft 0.1 left it
        _drop_schema_3(conn)
        for table, column in (
            ("ragft_runs", "dirty"),
            ("ragft_runs", "in_baseline"),
            ("ragft_results", "content_hash"),
        ):
            conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        conn.execute(sa.text("DROP INDEX ix_ragft_results_case"))
        conn.execute(sa.text("UPDATE ragft_schema SET version = 1"))
    engine.dispose()
    with open_store(target, tmp_path) as store:
        assert [r.run_id for r in store.recent_runs("bot")] == ["before"]
        store.write_run(make_report("after", minute=2))
        assert store.baseline("bot", "main", 5).run_ids == ["after", "before"]
    assert stored_version(target) == tables.SCHEMA_VERSION


def _drop_schema_3(conn: sa.Connection) -> None:
    """What schema 3 added, taken away again."""
    conn.execute(sa.text("DROP TABLE ragft_judge_cache"))
    conn.execute(sa.text("ALTER TABLE ragft_results DROP COLUMN pipeline"))
    for column in tables.MEASURES:
        conn.execute(sa.text(f"ALTER TABLE ragft_categories DROP COLUMN {column}"))
