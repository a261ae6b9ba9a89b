"""One PostgreSQL history for many CI runners: 8 writer processes and 2 reader processes at once
against the real server (``.ci/run`` starts it), in a schema of its own."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from pytest_ragft.history import open_store

pytestmark = pytest.mark.postgres

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
WRITERS = 8
RUNS_EACH = 6
READERS = 2

# Every run's content follows from its id, so a reader can check any run it is shown.
COMMON = textwrap.dedent(
    """
    from datetime import UTC, datetime, timedelta

    T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    CASES = 200  # half knowledge, half behavior


    def counts(run_id):
        w, n = (int(x) for x in run_id[1:].split("-"))
        return {"knowledge": (w * 11 + n * 7) % 101, "behavior": (w * 5 + n * 13) % 101}


    def outcome(run_id, i):
        kind = "knowledge" if i % 2 else "behavior"
        return kind, "passed" if i // 2 < counts(run_id)[kind] else "failed"


    def report(w, n):
        run_id = f"w{w}-{n}"
        cases = []
        for i in range(CASES):
            kind, result = outcome(run_id, i)
            cases.append({
                "id": f"c{i:03d}", "nodeid": f"evals/x.yaml::c{i:03d}", "kind": kind,
                "outcome": result, "pass_ratio": float(result == "passed"), "tags": [],
                "volatile": False, "input": f"question {i}", "messages": [], "python": False,
                "repeats": [{"repeat": 1, "outcome": result, "answer": "an answer " * 20,
                             "contexts": [], "latency_s": 0.1, "messages": [], "error": None}],
            })
        started = T0 + timedelta(minutes=n * 8 + w)
        cats = {k: {"passed": p, "failed": 100 - p, "error": 0, "total": 100, "rate": p / 100}
                for k, p in counts(run_id).items()}
        return {"schema_version": 1, "suite": "bot", "run_id": run_id,
                "started_at": started.isoformat(), "finished_at": started.isoformat(),
                "git": {"sha": "a" * 40, "branch": "main"}, "gate": {"verdict": "pass"},
                "categories": cats, "cases": cases}
    """
)

WRITER = COMMON + textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from pytest_ragft.history import open_store

    target, rootdir, w, runs = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    with open_store(target, rootdir) as store:
        while len(list(rootdir.glob("reader-*-ready"))) < int(sys.argv[5]):
            time.sleep(0.01)  # write while the readers read
        for n in range(runs):
            store.write_run(report(w, n))
    """
)

READER = COMMON + textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from pytest_ragft.history import open_store
    from pytest_ragft.history.context import read_context

    target, rootdir, done = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    problems, reads, last_count, counts_seen = [], 0, 0, set()

    def check(context):
        global last_count
        if context.prior_runs < last_count:
            problems.append(f"run count went back from {last_count} to {context.prior_runs}")
        last_count = context.prior_runs
        counts_seen.add(last_count)
        if context.baseline_count != min(5, context.prior_runs):
            problems.append(f"baseline of {context.baseline_count} runs, {context.prior_runs} held")
        if len(context.series) != min(9, context.prior_runs):
            problems.append(f"{len(context.series)} runs in the trend, {context.prior_runs} held")
        ids = [s["run_id"] for s in context.series][::-1][: context.baseline_count]
        pooled = {k: (0, 0) for k in ("knowledge", "behavior")}
        for run_id in ids:
            for kind, passed in counts(run_id).items():
                pooled[kind] = (pooled[kind][0] + passed, pooled[kind][1] + 100)
        if ids and dict(context.baseline_pooled) != pooled:
            problems.append(f"pooled {dict(context.baseline_pooled)} for {ids}, want {pooled}")
        for entry in context.series:
            want = {k: p / 100 for k, p in counts(entry["run_id"]).items()}
            if entry["rates"] != want:
                problems.append(f"{entry['run_id']} rates {entry['rates']}")
        if ids:
            latest = context.latest_outcomes
            want = {f"c{i:03d}": outcome(ids[0], i) for i in range(CASES)}
            got = {c: (k, "passed" if p else "failed") for c, (k, p) in latest.items()}
            if got != want:
                problems.append(f"{ids[0]}: {len(latest)} of {CASES} cases, or wrong outcomes")

    with open_store(target, rootdir, create=False) as store:
        (rootdir / f"reader-{sys.argv[4]}-ready").touch()
        while True:
            finished = done.exists()
            check(read_context(store, "bot", "main", 5, exclude_run_id=None))
            store.flaky_cases("bot", last=10)
            store.case_series("bot", "c007", last=20)
            reads += 1
            if finished:
                break
    print(json.dumps({"reads": reads, "problems": problems[:20], "count": last_count,
                      "counts_seen": sorted(counts_seen)}))
    """
)


def _server() -> str | None:
    try:
        import psycopg

        psycopg.connect(
            "host=127.0.0.1 port=5432 user=postgres dbname=test", connect_timeout=3
        ).close()
    except Exception as error:
        return f"no PostgreSQL server at 127.0.0.1:5432 (user postgres, db test): {error}"
    return None


@pytest.fixture
def pg_target() -> Iterator[str]:
    """A URL whose search_path is a schema made for this test and dropped after it."""
    why = _server()
    if why:
        pytest.skip(why)
    schema = f"ragft_shared_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_SERVER)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_eight_writers_and_two_readers_share_one_postgresql(pg_target: str, tmp_path: Path) -> None:
    # The first writers create the tables at the same moment: that must be safe too.
    writers = [
        _python(WRITER, pg_target, str(tmp_path), str(w), str(RUNS_EACH), str(READERS))
        for w in range(WRITERS)
    ]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # readers open the store once it exists
        try:
            open_store(pg_target, tmp_path, create=False).close()
            break
        except Exception:
            time.sleep(0.05)
    done = tmp_path / "writers-done"
    readers = [_python(READER, pg_target, str(tmp_path), str(done), str(r)) for r in range(READERS)]

    failures = []
    for w, proc in enumerate(writers):
        _, err = proc.communicate(timeout=300)
        if proc.returncode != 0:
            failures.append(f"writer {w}: {err[-1500:]}")
    done.touch()
    seen = []
    for proc in readers:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        seen.append(json.loads(out))
    assert failures == []
    total = WRITERS * RUNS_EACH
    for reader in seen:
        assert reader["problems"] == []
        assert reader["count"] == total
    # The readers read while the runs were landing, not only before or after.
    assert any(0 < c < total for reader in seen for c in reader["counts_seen"]), seen

    with open_store(pg_target, tmp_path) as store:
        runs = store.recent_runs("bot", last=1000)
        assert {r.run_id for r in runs} == {
            f"w{w}-{n}" for w in range(WRITERS) for n in range(RUNS_EACH)
        }
        base = store.baseline("bot", "main", 5)
    engine = sa.create_engine(pg_target)
    try:
        with engine.connect() as conn:
            per_run = conn.exec_driver_sql(
                "SELECT r.run_id, count(x.id) FROM ragft_runs r "
                "JOIN ragft_results x ON x.run_pk = r.id GROUP BY r.run_id"
            ).all()
    finally:
        engine.dispose()
    assert sorted(count for _, count in per_run) == [200] * (WRITERS * RUNS_EACH)
    newest = [f"w{w}-{RUNS_EACH - 1}" for w in range(WRITERS - 1, WRITERS - 6, -1)]
    assert base.run_ids == newest
