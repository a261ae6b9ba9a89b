"""Schema versions: create a new store, upgrade an older one in place, refuse a newer one.

``STEPS[n]`` upgrades a store from version ``n`` to ``n + 1`` inside the same transaction that
records the new version, so a failed upgrade leaves the old store as it was. SQLite stores are
also copied to ``<name>.bak-v<n>`` before they are touched.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from pytest_ragft.history import engine as engines
from pytest_ragft.history import tables
from pytest_ragft.history.errors import HistoryError

Step = Callable[[sa.Connection], None]


def _to_2(conn: sa.Connection) -> None:
    """Schema 2: whether a run's work tree was dirty and whether it may form a baseline, and
    each result's expectations digest."""
    for table, column in (
        ("ragft_runs", "dirty BOOLEAN"),
        ("ragft_runs", "in_baseline BOOLEAN"),
        ("ragft_results", "content_hash VARCHAR(64)"),
    ):
        conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {column}"))
    conn.execute(sa.text("CREATE INDEX ix_ragft_results_case ON ragft_results (case_id)"))


def _to_3(conn: sa.Connection) -> None:
    """Schema 3: variant rows in ``results`` (``pipeline``), each category's retrieval and usage
    measures, and the judge cache (a new table, created from its definition)."""
    added = [("ragft_results", "pipeline VARCHAR(100)")]
    for name in tables.MEASURES:
        kind = "INTEGER" if name == "retrieval_k" else "FLOAT"
        added.append(("ragft_categories", f"{name} {kind}"))
    for table, column in added:
        conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {column}"))
    tables.judge_cache.create(conn)


STEPS: dict[int, Step] = {1: _to_2, 2: _to_3}
"""Upgrades by the version they start from. Schema 1 is the first released one."""

_PG_LOCK_KEY = 0x72616766  # "ragf": serialises creation and migration across PostgreSQL clients


def current_version() -> int:
    return tables.SCHEMA_VERSION


def read_version(conn: sa.Connection) -> int | None:
    """The store's schema version, or None when it holds no pytest-ragft tables yet."""
    if not sa.inspect(conn).has_table(tables.schema_version.name):
        return None
    version = conn.execute(sa.select(sa.func.max(tables.schema_version.c.version))).scalar()
    return None if version is None else int(version)


def _refuse_newer(found: int, target: engines.Target) -> HistoryError:
    return HistoryError(
        f"history store {target.shown} was written by a newer pytest-ragft "
        f"(schema {found}, this one reads up to {current_version()}): upgrade pytest-ragft, "
        "or point `history` elsewhere"
    )


integrity_problems = engines.integrity_problems


def backup_path(path: Path, version: int) -> Path:
    return path.with_name(f"{path.name}.bak-v{version}")


def _backup(path: Path, version: int) -> Path:
    """A consistent copy of a SQLite store (WAL content included) beside it."""
    destination = backup_path(path, version)
    source = sqlite3.connect(str(path))
    try:
        copy = sqlite3.connect(str(destination))
        try:
            source.backup(copy)
        finally:
            copy.close()
    finally:
        source.close()
    return destination


def _upgrade(conn: sa.Connection, target: engines.Target) -> None:
    """Create or migrate under the store's write lock, re-reading the version once held."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    found = read_version(conn)
    latest = current_version()
    if found is None:
        tables.metadata.create_all(conn)
        conn.execute(sa.insert(tables.schema_version).values(version=latest, written_by=_by()))
        return
    if found > latest:
        raise _refuse_newer(found, target)
    for version in range(found, latest):
        step = STEPS.get(version)
        if step is None:
            raise HistoryError(
                f"history store {target.shown} has schema {found} and this pytest-ragft has no "
                f"upgrade from schema {version}; export it with an older pytest-ragft "
                "(`ragft export`) and import it into a new store"
            )
        step(conn)
    if found < latest:
        conn.execute(sa.delete(tables.schema_version))
        conn.execute(sa.insert(tables.schema_version).values(version=latest, written_by=_by()))


def _by() -> str:
    from pytest_ragft import __version__

    return f"pytest-ragft {__version__}"


def no_history_yet(target: engines.Target) -> HistoryError:
    return HistoryError(
        f"no history yet at {target.shown}: run pytest (with [tool.ragft] in pyproject.toml) first"
    )


def prepare(engine: sa.Engine, target: engines.Target, *, create: bool = True) -> None:
    """Make the store ready at the current schema, or raise ``HistoryError`` and touch nothing.

    The version is read first without any lock, so a store that is refused (newer schema,
    damaged file) is never written to; only a new or older store takes the write lock. With
    ``create`` False nothing is ever written: an empty store is "no history yet" and an older
    one is refused rather than migrated.
    """
    try:
        found = engines.run(engine, target, read_version, write=False)
    except HistoryError:
        _refuse_if_corrupt(target)
        raise
    if found is not None and (found < 1 or found > current_version()):
        _refuse_if_corrupt(target)  # a version no release wrote: read from a damaged page?
    if found is not None and found > current_version():
        raise _refuse_newer(found, target)
    if found is not None and found < 1:
        raise HistoryError(
            f"history store {target.shown} records schema version {found}, which no "
            "pytest-ragft writes: it was not made by pytest-ragft, or was edited; point "
            "`history` elsewhere"
        )
    if not create:
        if found is None:
            raise no_history_yet(target)
        if found < current_version():
            raise HistoryError(
                f"history store {target.shown} has schema {found}, older than the "
                f"{current_version()} this pytest-ragft reads; it was left as it is: a pytest "
                "run (or `ragft import`) upgrades it, with a backup of a SQLite file"
            )
        return
    if target.path is not None:
        engines.use_wal(engine, target)
    if found == current_version():
        return
    backup = None
    if found is not None and target.path is not None:
        _refuse_if_corrupt(target)  # never copy, nor migrate, a damaged file
        backup = _backup(target.path, found)
    try:
        engines.run(engine, target, lambda conn: _upgrade(conn, target), write=True)
    except BaseException:
        if backup is not None:  # the store is as it was: the copy would only mislead
            backup.unlink(missing_ok=True)
        raise


def _refuse_if_corrupt(target: engines.Target) -> None:
    if target.path is None:
        return
    problems = engines.integrity_problems(target.path)
    if problems:
        raise engines.corrupt(target, problems)
