"""The history store: writes one run per transaction and answers the questions the gate, the
checklist, the reports and the ``ragft`` command ask of past runs."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import sqlalchemy as sa

from pytest_ragft.flaky import Observation
from pytest_ragft.history import engine as engines
from pytest_ragft.history import migrations
from pytest_ragft.history.errors import HistoryError
from pytest_ragft.history.rows import RunRows, iso, run_rows, unpack
from pytest_ragft.history.tables import MEASURES, categories, judge_cache, results, runs
from pytest_ragft.model import CaseRecord, RepeatRecord

_NEWEST = (runs.c.started_at.desc(), runs.c.id.desc())
_MAIN = results.c.pipeline.is_(None)
"""The main pipeline's rows: every question about past runs reads these alone, never a
variant's."""
_CANDIDATES = 5
"""How many runs an ambiguous run-id prefix error names."""


@dataclass(frozen=True)
class Baseline:
    """The recent runs a new run is compared with (``count`` 0: no baseline yet)."""

    run_ids: list[str] = field(default_factory=list)
    rates: dict[str, float | None] = field(default_factory=dict)
    """Mean of the runs' pass rates per category (runs where the category was empty skipped)."""
    pooled: dict[str, tuple[int, int]] = field(default_factory=dict)
    """(passed, total) per category summed over the runs."""
    latest_outcomes: dict[str, tuple[str, bool]] = field(default_factory=dict)
    """case id -> (kind, passed) in the latest baseline run, for paired tests."""
    count: int = 0
    case_measures: dict[str, dict[str, float]] = field(default_factory=dict)
    """case id -> measure -> value in the latest baseline run (costs.case_measures)."""


@dataclass(frozen=True)
class RunRow:
    """One past run as listed by ``ragft history``."""

    run_id: str
    suite: str
    started_at: str | None
    finished_at: str | None
    branch: str | None
    base_branch: str | None
    sha: str | None
    pr: int | None
    verdict: str | None
    ci_provider: str | None
    run_url: str | None
    rates: dict[str, float | None]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Snapshot:
    """What a new run is judged against, read at one moment (``HistoryStore.snapshot``)."""

    baseline: Baseline
    prior_runs: int
    """Runs of the suite on the baseline branch, the new one left out."""
    series: list[dict[str, Any]]
    """Pass rates of the latest runs (any branch), oldest first."""
    flaky: list[dict[str, Any]]
    observations: dict[str, list[Observation]] = field(default_factory=dict)
    """Each case's outcome and expectations digest in the latest runs, oldest first."""
    contents: dict[str, set[str]] = field(default_factory=dict)
    """The expectations digests of the asked-for cases in the runs since the horizon."""
    spans_horizon: bool = False
    """The stored runs reach back to the horizon's start."""


def _insert_results(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """The case rows of a run, in one multi-row statement."""
    conn.execute(sa.insert(results), list(rows))


def _passed(outcome: str | None) -> bool | None:
    """Pass/fail of an outcome; None for skipped (it counts neither way)."""
    if outcome == "passed":
        return True
    if outcome in ("failed", "error"):
        return False
    return None


class HistoryStore:
    """A history store on SQLite or any SQLAlchemy database; open it with ``open_store``."""

    def __init__(self, engine: sa.Engine, target: engines.Target) -> None:
        self._engine = engine
        self._target = target

    @property
    def location(self) -> str:
        """The store's file, or its URL with the password masked."""
        return self._target.shown

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _read(self, work: Any) -> Any:
        return engines.run(self._engine, self._target, work, write=False)

    # -- writing ---------------------------------------------------------------------------

    def _insert(self, conn: sa.Connection, rows: RunRows, *, skip_existing: bool) -> bool:
        run_id = rows.run["run_id"]
        present = conn.execute(sa.select(runs.c.id).where(runs.c.run_id == run_id)).first()
        if present is not None:
            if skip_existing:
                return False
            raise HistoryError(f"run {run_id} is already in history store {self.location}")
        inserted = conn.execute(sa.insert(runs).values(**rows.run)).inserted_primary_key
        run_pk = inserted[0] if inserted is not None else None
        if rows.categories:
            conn.execute(sa.insert(categories), [{**c, "run_pk": run_pk} for c in rows.categories])
        if rows.results:
            _insert_results(conn, [{**r, "run_pk": run_pk} for r in rows.results])
        return True

    def write_run(
        self,
        report: Mapping[str, Any],
        *,
        store_outputs: bool = True,
        variants: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    ) -> None:
        """Record a run (its report dict) in one transaction: all of it or, on failure, nothing.

        With ``store_outputs`` False no answer or retrieved context is kept anywhere, only the
        sha256 of each answer. ``variants`` are each variant's cases (report cases) by name,
        stored as result rows marked with the name, in the same transaction.
        """
        rows = run_rows(report, store_outputs=store_outputs, variants=variants)
        engines.run(
            self._engine,
            self._target,
            lambda conn: self._insert(conn, rows, skip_existing=False),
            write=True,
        )

    def import_jsonl(
        self, inp: IO[str], *, store_outputs: bool = True, name: str | None = None
    ) -> int:
        """Runs from ``export_jsonl`` output, added in one transaction; a run already present
        is skipped. Returns how many were added."""
        added, _ = self.import_jsonl_counts(inp, store_outputs=store_outputs, name=name)
        return added

    def import_jsonl_counts(
        self, inp: IO[str], *, store_outputs: bool = True, name: str | None = None
    ) -> tuple[int, int]:
        """``import_jsonl``, returning how many runs were added and how many were already
        present (so "0 imported" can say why).

        Every line is checked against the report schema before anything is written, so a bad
        line (named by ``name``:line) imports nothing from the file.
        """
        from pytest_ragft.report.jsonfile import schema_problem

        def where(number: int) -> str:
            return f"{name}:{number}" if name else f"line {number} of the import"

        pending: list[RunRows] = []
        for number, line in enumerate(inp, start=1):
            if not line.strip():
                continue
            try:
                report = json.loads(line)
            except json.JSONDecodeError as error:
                raise HistoryError(
                    f"{where(number)} is not JSON ({error.msg}, column {error.colno}); "
                    "nothing was imported"
                ) from None
            problem = schema_problem(report)
            if problem is not None:
                raise HistoryError(
                    f"{where(number)} is not a run report {problem}; nothing was imported"
                )
            try:
                pending.append(run_rows(report, store_outputs=store_outputs))
            except HistoryError as error:
                raise HistoryError(f"{where(number)}: {error}; nothing was imported") from None

        def work(conn: sa.Connection) -> int:
            return sum(self._insert(conn, rows, skip_existing=True) for rows in pending)

        added: int = engines.run(self._engine, self._target, work, write=True)
        return added, len(pending) - added

    # -- reading ---------------------------------------------------------------------------

    def baseline(
        self, suite: str, branch: str, runs: int, *, exclude_run_id: str | None = None
    ) -> Baseline:
        """The last ``runs`` runs of ``suite`` on ``branch`` (by start time), summarised."""
        baseline: Baseline = self._read(
            lambda conn: _baseline(conn, suite, branch, runs, exclude_run_id)
        )
        return baseline

    def count_runs(
        self, suite: str, branch: str | None = None, *, exclude_run_id: str | None = None
    ) -> int:
        """How many runs of ``suite`` (on ``branch`` when given) the store holds."""
        count: int = self._read(lambda conn: _count_runs(conn, suite, branch, exclude_run_id))
        return count

    def recent_runs(
        self, suite: str | None = None, *, last: int = 10, branch: str | None = None
    ) -> list[RunRow]:
        """The latest ``last`` runs, newest first."""
        rows: list[RunRow] = self._read(lambda conn: _recent_runs(conn, suite, last, branch))
        return rows

    def series(
        self, suite: str, *, last: int = 10, branch: str | None = None
    ) -> list[dict[str, Any]]:
        """Pass rates of the latest ``last`` runs, oldest first: the trend lines' data."""
        if branch is None:
            trend: list[dict[str, Any]] = self._read(lambda conn: _trend(conn, suite, last))
            return trend
        rows: list[RunRow] = self._read(lambda conn: _recent_runs(conn, suite, last, branch))
        return _series(rows)

    def snapshot(
        self,
        suite: str,
        branch: str,
        runs: int,
        *,
        exclude_run_id: str | None = None,
        series_last: int = 9,
        flaky_last: int = 10,
        horizon_start: datetime | None = None,
        signal_cases: Sequence[str] = (),
    ) -> Snapshot:
        """Everything a new run is judged against, read in one transaction: on PostgreSQL a
        repeatable-read snapshot, on SQLite one WAL read, so runs other jobs commit meanwhile
        are either wholly in every part of it or in none."""

        def work(conn: sa.Connection) -> Snapshot:
            return Snapshot(
                baseline=_baseline(conn, suite, branch, runs, exclude_run_id),
                prior_runs=_count_runs(conn, suite, branch, exclude_run_id),
                series=_trend(conn, suite, series_last),
                flaky=_flaky(_flaky_rows(conn, suite, flaky_last)),
                observations=_observations(conn, suite, flaky_last),
                **_contents(conn, suite, horizon_start, signal_cases),
            )

        snapshot: Snapshot = self._read(work)
        return snapshot

    def case_series(self, suite: str, case_id: str, *, last: int = 20) -> list[dict[str, Any]]:
        """One case across the latest ``last`` runs that have it, oldest first."""

        def work(conn: sa.Connection) -> list[dict[str, Any]]:
            picked = conn.execute(
                sa.select(runs.c.id, runs.c.run_id, runs.c.started_at, runs.c.branch)
                .where(
                    runs.c.suite == suite,
                    sa.exists().where(
                        results.c.run_pk == runs.c.id, results.c.case_id == case_id, _MAIN
                    ),
                )
                .order_by(*_NEWEST)
                .limit(max(last, 0))
            ).all()
            grouped = _case_rows(conn, [r.id for r in picked], case_id)
            series = []
            for run in reversed(picked):
                rows = grouped[run.id]
                first = rows[0]
                latencies = [r.latency_s for r in rows if r.latency_s is not None]
                series.append(
                    {
                        "run_id": run.run_id,
                        "started_at": iso(run.started_at),
                        "branch": run.branch,
                        "kind": first.kind,
                        "outcome": first.case_outcome,
                        "pass_ratio": first.pass_ratio,
                        "diagnosis": first.diagnosis,
                        "input_hash": first.input_hash,
                        "repeats": [r.outcome for r in rows if r.repeat is not None],
                        "latency_s": sum(latencies) / len(latencies) if latencies else None,
                        "messages": [m for r in rows for m in r.messages],
                    }
                )
            return series

        series: list[dict[str, Any]] = self._read(work)
        return series

    def observations(self, suite: str, *, last: int = 10) -> dict[str, list[Observation]]:
        """Each case's outcome, commit and expectations digest in the latest ``last`` runs,
        oldest first: what flakiness is judged from."""
        found: dict[str, list[Observation]] = self._read(
            lambda conn: _observations(conn, suite, last)
        )
        return found

    def flaky_cases(self, suite: str, *, last: int = 10) -> list[dict[str, Any]]:
        """Cases whose outcome flipped in the latest ``last`` runs while their input stayed the
        same, or whose repeats disagreed within a run; most flips first."""
        by_run: list[dict[str, _CaseRun]] = self._read(lambda conn: _flaky_rows(conn, suite, last))
        return _flaky(by_run)

    def get_report(
        self, run_id: str | None = None, suite: str | None = None
    ) -> dict[str, Any] | None:
        """A stored run report (as written, or stripped of outputs); None when there is none.

        ``run_id`` may be a unique prefix (``ragft history`` shows 12 characters) and is looked
        up across all suites; an ambiguous prefix is a ``HistoryError`` naming the candidates.
        Without it, the latest run (of ``suite`` when given).
        """
        if not run_id:
            query = sa.select(runs.c.report).order_by(*_NEWEST).limit(1)
            if suite is not None:
                query = query.where(runs.c.suite == suite)
            blob: bytes | None = self._read(lambda conn: conn.execute(query).scalar())
            return unpack(blob)

        def work(conn: sa.Connection) -> list[tuple[str, bytes | None]]:
            found = _runs_named(conn, sa.select(runs.c.run_id, runs.c.report), run_id)
            return [(row.run_id, row.report) for row in found]

        found: list[tuple[str, bytes | None]] = self._read(work)
        if len(found) > 1:
            shown = ", ".join(found_id for found_id, _ in found[:_CANDIDATES])
            more = ", ..." if len(found) > _CANDIDATES else ""
            raise HistoryError(
                f"run id {run_id!r} is ambiguous in {self.location}: it starts {shown}{more}; "
                "give more of it"
            )
        return unpack(found[0][1]) if found else None

    def pipeline_records(
        self, run_id: str, pipeline: str | None = None
    ) -> tuple[str, list[CaseRecord], list[str]]:
        """A stored run's full id, the records of one of its pipelines (None: the main one)
        rebuilt from its result rows, and the names of the variants it stored.

        ``run_id`` may be a unique prefix, as for ``get_report``; an unknown run or variant
        is a ``HistoryError`` saying what there is.
        """

        def work(conn: sa.Connection) -> tuple[str, list[CaseRecord], list[str]]:
            run = self._one_run(conn, run_id)
            names = conn.execute(
                sa.select(results.c.pipeline)
                .where(results.c.run_pk == run.id, results.c.pipeline.is_not(None))
                .distinct()
                .order_by(results.c.pipeline)
            ).scalars()
            found = [str(n) for n in names]
            if pipeline is not None and pipeline not in found:
                stored = ", ".join(found) if found else "none"
                raise HistoryError(
                    f"run {run.run_id[:12]} in {self.location} has no variant {pipeline!r} "
                    f"(its stored variants: {stored}); variants are stored from schema 3 on"
                )
            which = _MAIN if pipeline is None else results.c.pipeline == pipeline
            query = (
                sa.select(results).where(results.c.run_pk == run.id, which).order_by(results.c.id)
            )
            return run.run_id, _records(conn.execute(query).all()), found

        picked: tuple[str, list[CaseRecord], list[str]] = self._read(work)
        return picked

    def _one_run(self, conn: sa.Connection, run_id: str) -> Any:
        found = _runs_named(conn, sa.select(runs.c.id, runs.c.run_id), run_id)
        if not found:
            raise HistoryError(f"no run {run_id!r} in {self.location}: see `ragft history`")
        if len(found) > 1:
            shown = ", ".join(row.run_id for row in found[:_CANDIDATES])
            raise HistoryError(
                f"run id {run_id!r} is ambiguous in {self.location}: it starts {shown}; "
                "give more of it"
            )
        return found[0]

    # -- the judge cache (history.judgecache) ------------------------------------------------

    def judged(self, key: str) -> dict[str, Any] | None:
        """The judged result stored under ``key``: metric, model, score, success, threshold
        and reason; None when there is none."""
        query = sa.select(*_JUDGED).where(judge_cache.c.key == key)
        row = self._read(lambda conn: conn.execute(query).first())
        return None if row is None else dict(row._mapping)

    def remember_judged(self, key: str, judged: Mapping[str, Any], when: datetime) -> None:
        """Store a judged result under ``key``, replacing an older one (``rejudge``); when
        another process stores the same key first, its result stands."""
        values = {c.name: judged.get(c.name) for c in _JUDGED}
        values["metric"] = str(values["metric"] or "")[:200]
        values["model"] = None if values["model"] is None else str(values["model"])[:200]

        def work(conn: sa.Connection) -> None:
            conn.execute(sa.delete(judge_cache).where(judge_cache.c.key == key))
            conn.execute(sa.insert(judge_cache).values(key=key, judged_at=when, **values))

        try:
            engines.run(self._engine, self._target, work, write=True)
        except HistoryError:
            if self.judged(key) is None:  # not a race with another writer of the same key
                raise

    def export_jsonl(self, out: IO[str], suite: str | None = None) -> int:
        """Write the stored runs as JSON lines, oldest first; returns how many."""
        query = sa.select(runs.c.report).order_by(runs.c.started_at, runs.c.id)
        if suite is not None:
            query = query.where(runs.c.suite == suite)

        def work(conn: sa.Connection) -> int:
            written = 0
            for blob in conn.execution_options(yield_per=50).execute(query).scalars():
                out.write(json.dumps(unpack(blob), ensure_ascii=False) + "\n")
                written += 1
            return written

        count: int = self._read(work)
        return count


_JUDGED = (
    judge_cache.c.metric,
    judge_cache.c.model,
    judge_cache.c.score,
    judge_cache.c.success,
    judge_cache.c.threshold,
    judge_cache.c.reason,
)

_FLAKY_COLUMNS = (
    results.c.run_pk,
    results.c.case_id,
    results.c.repeat,
    results.c.kind,
    results.c.outcome,
    results.c.case_outcome,
    results.c.input_hash,
)

_ROW_COLUMNS = (
    runs.c.id,
    runs.c.run_id,
    runs.c.suite,
    runs.c.started_at,
    runs.c.finished_at,
    runs.c.branch,
    runs.c.base_branch,
    runs.c.git_sha,
    runs.c.pr,
    runs.c.verdict,
    runs.c.ci_provider,
    runs.c.run_url,
)


def _records(rows: Sequence[sa.Row[Any]]) -> list[CaseRecord]:
    """Case records from result rows (one per repeat), in the order the cases were stored:
    what ``ragft compare`` pairs, keyed by case id on both sides."""
    grouped: dict[str, list[sa.Row[Any]]] = {}
    for row in rows:
        grouped.setdefault(row.case_id, []).append(row)
    records = []
    for case_id, repeats in grouped.items():
        first = repeats[0]
        records.append(
            CaseRecord(
                id=case_id,
                nodeid=case_id,
                kind=first.kind,
                outcome=first.case_outcome,
                pass_ratio=first.pass_ratio,
                tags=[str(t) for t in first.tags or []],
                volatile=first.volatile,
                diagnosis=first.diagnosis,
                static_diagnosis=first.static_diagnosis,
                counterfactual=first.counterfactual,
                content=first.content_hash,
                repeats=[
                    RepeatRecord(
                        repeat=r.repeat,
                        outcome=r.outcome,
                        messages=[str(m) for m in r.messages or []],
                        latency_s=r.latency_s or 0.0,
                        error=r.error,
                    )
                    for r in repeats
                    if r.repeat is not None
                ],
            )
        )
    return records


def _observations(conn: sa.Connection, suite: str, last: int) -> dict[str, list[Observation]]:
    """Each case's outcome, commit and expectations digest in the latest ``last`` runs of the
    suite, oldest first; skipped cases are left out."""
    picked = conn.execute(
        sa.select(runs.c.id, runs.c.run_id, runs.c.git_sha, runs.c.started_at)
        .where(runs.c.suite == suite)
        .order_by(*_NEWEST)
        .limit(max(last, 0))
    ).all()
    order = {row.id: row for row in reversed(picked)}
    if not order:
        return {}
    found: dict[str, dict[int, Observation]] = {}
    query = sa.select(
        results.c.run_pk, results.c.case_id, results.c.case_outcome, results.c.content_hash
    ).where(results.c.run_pk.in_(list(order)), _MAIN)
    for pk, case_id, outcome, content in conn.execute(query):
        passed = _passed(outcome)
        per_run = found.setdefault(case_id, {})
        if passed is not None and pk not in per_run:
            run = order[pk]
            started = iso(run.started_at) or ""
            per_run[pk] = Observation(run.run_id, run.git_sha, content, passed, started)
    position = {pk: n for n, pk in enumerate(order)}
    return {
        case_id: [obs for _, obs in sorted(per_run.items(), key=lambda kv: position[kv[0]])]
        for case_id, per_run in found.items()
    }


def _contents(
    conn: sa.Connection, suite: str, since: datetime | None, case_ids: Sequence[str]
) -> dict[str, Any]:
    """The expectations digests ``case_ids`` had in the suite's runs since ``since``, and
    whether the stored runs reach back that far (the evidence of a case's signal)."""
    if since is None or not case_ids:
        return {}
    found: dict[str, set[str]] = {}
    for start in range(0, len(case_ids), 500):
        query = (
            sa.select(results.c.case_id, results.c.content_hash)
            .join(runs, runs.c.id == results.c.run_pk)
            .where(
                runs.c.suite == suite,
                runs.c.started_at >= since,
                results.c.case_id.in_(list(case_ids[start : start + 500])),
                results.c.content_hash.is_not(None),
                _MAIN,
            )
            .distinct()
        )
        for case_id, content in conn.execute(query):
            found.setdefault(case_id, set()).add(content)
    reach = sa.select(sa.exists().where(runs.c.suite == suite, runs.c.started_at <= since))
    return {"contents": found, "spans_horizon": bool(conn.execute(reach).scalar())}


def _runs_query(
    suite: str | None, branch: str | None, exclude_run_id: str | None
) -> sa.Select[Any]:
    """Runs of ``suite``; with ``branch``, the runs of that branch that may form a baseline
    (a run its summary left out, dirty or with an overridden pipeline, never does)."""
    query = sa.select(runs.c.id, runs.c.run_id)
    if suite is not None:
        query = query.where(runs.c.suite == suite)
    if branch is not None:
        query = query.where(runs.c.branch == branch)
        query = query.where(sa.or_(runs.c.in_baseline.is_(None), runs.c.in_baseline == sa.true()))
    if exclude_run_id is not None:
        query = query.where(runs.c.run_id != exclude_run_id)
    return query


def _baseline(
    conn: sa.Connection, suite: str, branch: str, last: int, exclude_run_id: str | None
) -> Baseline:
    if last <= 0:
        return Baseline()
    picked = conn.execute(
        _runs_query(suite, branch, exclude_run_id).order_by(*_NEWEST).limit(last)
    ).all()
    if not picked:
        return Baseline()
    pks = [row.id for row in picked]
    rates: dict[str, list[float]] = defaultdict(list)
    pooled: dict[str, tuple[int, int]] = {}
    for cat in conn.execute(sa.select(categories).where(categories.c.run_pk.in_(pks))):
        rates[cat.kind]
        if cat.rate is not None:
            rates[cat.kind].append(float(cat.rate))
        passed, total = pooled.get(cat.kind, (0, 0))
        pooled[cat.kind] = (passed + cat.passed, total + cat.total)
    latest: dict[str, tuple[str, bool]] = {}
    latest_rows = conn.execute(
        sa.select(results.c.case_id, results.c.kind, results.c.case_outcome)
        .where(results.c.run_pk == pks[0], _MAIN)
        .distinct()
    )
    for case_id, kind, outcome in latest_rows:
        passed_case = _passed(outcome)
        if passed_case is not None:
            latest[case_id] = (kind, passed_case)
    return Baseline(
        run_ids=[row.run_id for row in picked],
        rates={k: (sum(v) / len(v) if v else None) for k, v in rates.items()},
        pooled=pooled,
        latest_outcomes=latest,
        count=len(picked),
        case_measures=_case_measures(conn, pks[0]),
    )


def _runs_named(conn: sa.Connection, columns: sa.Select[Any], run_id: str) -> list[Any]:
    """The run whose id is ``run_id``, else the newest runs whose ids start with it (one more
    than the candidates named in an ambiguity error, so too many shows as too many)."""
    found = conn.execute(columns.where(runs.c.run_id == run_id)).all()
    if not found:
        found = conn.execute(
            columns.where(runs.c.run_id.startswith(run_id, autoescape=True))
            .order_by(*_NEWEST)
            .limit(_CANDIDATES + 1)
        ).all()
    return list(found)


def _case_measures(conn: sa.Connection, run_pk: int) -> dict[str, dict[str, float]]:
    """Each case's measures in a stored run, read from its report (the tables keep none)."""
    from pytest_ragft.costs import case_measures
    from pytest_ragft.runsummary import RunSummary

    report = unpack(conn.execute(sa.select(runs.c.report).where(runs.c.id == run_pk)).scalar())
    return case_measures(RunSummary.from_json(report).cases) if report else {}


def _count_runs(
    conn: sa.Connection, suite: str, branch: str | None, exclude_run_id: str | None
) -> int:
    query = _runs_query(suite, branch, exclude_run_id).subquery()
    return int(conn.execute(sa.select(sa.func.count()).select_from(query)).scalar_one())


def _recent_runs(
    conn: sa.Connection, suite: str | None, last: int, branch: str | None
) -> list[RunRow]:
    query = sa.select(*_ROW_COLUMNS).order_by(*_NEWEST).limit(max(last, 0))
    if suite is not None:
        query = query.where(runs.c.suite == suite)
    if branch is not None:
        query = query.where(runs.c.branch == branch)
    picked = conn.execute(query).all()
    rates: dict[int, dict[str, float | None]] = defaultdict(dict)
    if picked:
        cats = conn.execute(
            sa.select(categories.c.run_pk, categories.c.kind, categories.c.rate).where(
                categories.c.run_pk.in_([r.id for r in picked])
            )
        )
        for run_pk, kind, rate in cats:
            rates[run_pk][kind] = rate
    return [
        RunRow(
            run_id=r.run_id,
            suite=r.suite,
            started_at=iso(r.started_at),
            finished_at=iso(r.finished_at),
            branch=r.branch,
            base_branch=r.base_branch,
            sha=r.git_sha,
            pr=r.pr,
            verdict=r.verdict,
            ci_provider=r.ci_provider,
            run_url=r.run_url,
            rates=dict(rates[r.id]),
        )
        for r in picked
    ]


def _series(
    newest_first: Sequence[RunRow],
    measures: Mapping[str, dict[str, dict[str, float]]] | None = None,
) -> list[dict[str, Any]]:
    measures = measures or {}
    return [
        {
            "run_id": r.run_id,
            "started_at": r.started_at,
            "branch": r.branch,
            "rates": r.rates,
            "measures": measures.get(r.run_id, {}),
        }
        for r in reversed(newest_first)
    ]


_TRENDED = tuple(m for m in MEASURES if m != "retrieval_k")


def _trend(conn: sa.Connection, suite: str, last: int) -> list[dict[str, Any]]:
    """The latest ``last`` runs of the suite, oldest first: each category's pass rate and the
    retrieval and usage measures it had (schema 3 on; older runs have none)."""
    newest_first = _recent_runs(conn, suite, last, None)
    found: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    if newest_first:
        query = (
            sa.select(runs.c.run_id, categories.c.kind, *(categories.c[m] for m in _TRENDED))
            .join(runs, runs.c.id == categories.c.run_pk)
            .where(runs.c.run_id.in_([r.run_id for r in newest_first]))
        )
        for row in conn.execute(query):
            values = {m: float(v) for m in _TRENDED if (v := row._mapping[m]) is not None}
            if values:
                found[row.run_id][row.kind] = values
    return _series(newest_first, found)


def _case_rows(
    conn: sa.Connection,
    pks: Sequence[int],
    case_id: str | None,
    columns: Sequence[sa.ColumnElement[Any]] = tuple(results.c),
) -> dict[int, list[sa.Row[Any]]]:
    query = (
        sa.select(*columns)
        .where(results.c.run_pk.in_(list(pks)), _MAIN)
        .order_by(results.c.run_pk, results.c.case_id, results.c.repeat)
    )
    if case_id is not None:
        query = query.where(results.c.case_id == case_id)
    grouped: dict[int, list[sa.Row[Any]]] = defaultdict(list)
    for row in conn.execute(query):
        grouped[row.run_pk].append(row)
    return grouped


_CaseRun = tuple[str, bool, str, bool]
"""One case in one run, for flakiness: kind, passed, input hash, repeats disagreed."""


def _flaky_rows(conn: sa.Connection, suite: str, last: int) -> list[dict[str, _CaseRun]]:
    """Each case's outcome in the latest ``last`` runs, by run, oldest first (so flips are
    counted in the order the runs happened); skipped cases are left out.

    Read as plain tuples in index order and folded here: at 200 cases x 10 runs, building a
    row object per result and sorting them was most of the query's time.
    """
    picked = conn.execute(
        _runs_query(suite, None, None).order_by(*_NEWEST).limit(max(last, 0))
    ).all()
    order = [r.id for r in reversed(picked)]
    if not order:
        return []
    position = {pk: n for n, pk in enumerate(order)}
    folded: list[dict[str, list[Any]]] = [{} for _ in order]
    query = sa.select(*_FLAKY_COLUMNS).where(results.c.run_pk.in_(order), _MAIN)
    for pk, case_id, repeat, kind, outcome, case_outcome, input_hash in conn.execute(query):
        cases = folded[position[pk]]
        entry = cases.get(case_id)
        if entry is None:
            entry = cases[case_id] = [kind, case_outcome, input_hash, 0]
        if repeat is not None:
            # bit 1: a repeat passed; bit 2: a repeat failed or errored
            entry[3] |= 1 if outcome == "passed" else 2 if outcome in ("failed", "error") else 0
    return [
        {
            case_id: (kind, passed, input_hash, seen == 3)
            for case_id, (kind, outcome, input_hash, seen) in cases.items()
            if (passed := _passed(outcome)) is not None
        }
        for cases in folded
    ]


def _flaky(by_run: Sequence[Mapping[str, _CaseRun]]) -> list[dict[str, Any]]:
    """Flip counts per case, runs given oldest first."""
    history: dict[str, list[tuple[str, bool, bool]]] = defaultdict(list)
    kinds: dict[str, str] = {}
    for cases in by_run:
        for case_id, (kind, passed, input_hash, mixed) in cases.items():
            kinds[case_id] = kind
            history[case_id].append((input_hash, passed, mixed))
    flaky: list[dict[str, Any]] = []
    for case_id, seen in history.items():
        across_runs = sum(
            1 for (h1, p1, _), (h2, p2, _) in itertools.pairwise(seen) if h1 == h2 and p1 != p2
        )
        across_repeats = sum(1 for _, _, mixed in seen if mixed)
        if not across_runs and not across_repeats:
            continue
        why = []
        if across_runs:
            why.append(f"flipped {across_runs}x across {len(seen)} runs with unchanged input")
        if across_repeats:
            why.append(f"repeats disagreed in {across_repeats} of {len(seen)} runs")
        flaky.append(
            {
                "case_id": case_id,
                "kind": kinds[case_id],
                "runs": len(seen),
                "across_runs": across_runs,
                "across_repeats": across_repeats,
                "why": "; ".join(why),
                "outcomes": ["passed" if p else "failed" for _, p, _ in seen],
            }
        )
    flaky.sort(
        key=lambda f: (-(int(f["across_runs"]) + int(f["across_repeats"])), str(f["case_id"]))
    )
    return flaky


def open_store(target: str, rootdir: Path, *, create: bool = True) -> HistoryStore:
    """Open (creating or upgrading) the store named by a ``history`` setting.

    ``target`` is a path relative to ``rootdir`` (a SQLite file, folders created) or a
    SQLAlchemy URL. Raises ``HistoryError`` for a newer, damaged or unreachable store.
    With ``create`` False (commands that only read) nothing is created or written: a missing
    or empty store is a ``HistoryError`` saying there is no history yet, and an older schema
    is refused instead of migrated.
    """
    resolved = engines.resolve(target, rootdir)
    if not create and resolved.path is not None and not resolved.path.is_file():
        raise migrations.no_history_yet(resolved)
    engine = engines.create(resolved, make_folder=create)
    try:
        migrations.prepare(engine, resolved, create=create)
    except BaseException:
        engine.dispose()
        raise
    return HistoryStore(engine, resolved)
