"""What a new run needs from the history: the baseline, earlier runs, trends, flaky cases.

Shared by a pytest session and by ``ragft merge``, so a run assembled from shards is judged
against the same baseline and stored the same way as one run in one job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from pytest_ragft.history.errors import HistoryError

if TYPE_CHECKING:
    from pytest_ragft.config import Settings
    from pytest_ragft.history.store import HistoryStore
    from pytest_ragft.summarize import HistoryContext


@dataclass
class Opened:
    """The store (None when unusable), what it knows, and why it could not be used."""

    store: HistoryStore | None
    context: HistoryContext | None
    error: str | None = None


def read_context(
    store: HistoryStore,
    suite: str,
    branch: str,
    runs: int,
    *,
    exclude_run_id: str | None,
    horizon_start: datetime | None = None,
    signal_cases: Sequence[str] = (),
) -> HistoryContext:
    """The baseline, run count, trend, each case's recent outcomes and the evidence of the
    failed cases' signal for a new run, all from one snapshot of the store, so runs other jobs
    commit meanwhile never show in one part and not another."""
    from pytest_ragft.summarize import HistoryContext

    known = store.snapshot(
        suite,
        branch,
        runs,
        exclude_run_id=exclude_run_id,
        horizon_start=horizon_start,
        signal_cases=signal_cases,
    )
    base = known.baseline
    return HistoryContext(
        prior_runs=known.prior_runs,
        baseline_rates=base.rates,
        baseline_pooled=base.pooled,
        latest_outcomes=base.latest_outcomes,
        baseline_count=base.count,
        series=known.series,
        baseline_run_id=base.run_ids[0] if base.run_ids else None,
        baseline_measures=base.case_measures,
        case_history=known.observations,
        case_contents=known.contents,
        spans_horizon=known.spans_horizon,
    )


def horizon_start(settings: Settings) -> datetime:
    """The start of the signal's horizon: ``horizon_months`` before today, in UTC."""
    from pytest_ragft.checklist import add_months

    start = add_months(date.today(), -settings.checklist.horizon_months)
    return datetime(start.year, start.month, start.day, tzinfo=UTC)


def open_history(settings: Settings, run_id: str, signal_cases: Sequence[str] = ()) -> Opened:
    """Open the configured store and read the baseline for a run; an unusable store is
    reported in ``error``, never raised, so the run's reports still land."""
    from pytest_ragft.history.store import open_store

    try:
        store = open_store(settings.history, settings.rootdir)
    except HistoryError as exc:
        return Opened(None, None, str(exc))
    try:
        context = read_context(
            store,
            settings.suite,
            settings.baseline_branch,
            settings.baseline_runs,
            exclude_run_id=run_id,
            horizon_start=horizon_start(settings),
            signal_cases=signal_cases,
        )
    except HistoryError as exc:
        store.close()
        return Opened(None, None, str(exc))
    return Opened(store, context)
