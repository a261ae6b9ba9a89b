"""Connecting to a store: target resolution, engine set-up, and transactions that survive
other writers (SQLite's single write lock) and never leave half a run behind."""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.pool import StaticPool

from pytest_ragft.history.errors import HistoryError, is_secret_key, mask_url, scrub

T = TypeVar("T")

BUSY_TIMEOUT_MS = 10_000
"""How long SQLite itself waits for the write lock before reporting "database is locked"."""
LOCK_DEADLINE_S = 120.0
"""How long a write keeps retrying on a locked SQLite store before giving up."""

_IMMEDIATE = "ragft_immediate"
_LOCKED = ("database is locked", "database table is locked", "database is busy")
_PG_RETRY = ("40001", "40P01")  # serialization_failure, deadlock_detected
_CORRUPT = ("file is not a database", "malformed", "not a database")


@dataclass(frozen=True)
class Target:
    """Where the store lives: the URL to connect to, and the file when it is SQLite."""

    url: sa.URL
    path: Path | None

    @property
    def shown(self) -> str:
        """How errors name the store: the file, or the URL with every password masked (the
        ``user:pw@`` part and password-like query keys such as ``?password=``)."""
        if self.path is not None:
            return str(self.path)
        return mask_url(self.url.render_as_string(hide_password=True))

    @property
    def secrets(self) -> list[str]:
        """The URL's credentials, to be removed from any text a driver hands back."""
        found = [self.url.password] if isinstance(self.url.password, str) else []
        for key, value in self.url.query.items():
            if is_secret_key(key):
                found.extend([value] if isinstance(value, str) else value)
        return [s for s in found if s]


def resolve(target: str, rootdir: Path) -> Target:
    """A ``history`` setting as a ``Target``: URLs as given, paths relative to ``rootdir``."""
    if "://" not in target:
        path = Path(target).expanduser()
        if not path.is_absolute():
            path = rootdir / path
        return Target(sa.URL.create("sqlite", database=str(path)), path)
    try:
        url = sa.make_url(target)
    except exc.ArgumentError:
        raise HistoryError(
            f"history = {scrub(target, None)!r} is neither a path nor a SQLAlchemy URL "
            "(sqlite:///file.sqlite, postgresql+psycopg://user@host/db)"
        ) from None
    if url.get_backend_name() == "sqlite":
        database = url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            return Target(url, None)
        path = Path(database).expanduser()
        if not path.is_absolute():
            path = rootdir / path
            url = url.set(database=str(path))
        return Target(url, path)
    return Target(url, None)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would defer it).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _on_sqlite_begin(conn: sa.Connection) -> None:
    # Writers take the write lock up front, so two of them never deadlock upgrading a read lock.
    mode = "IMMEDIATE" if conn.get_execution_options().get(_IMMEDIATE) else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")


def create(target: Target, *, make_folder: bool = True) -> sa.Engine:
    """An engine for the target; for SQLite, with busy time-out, foreign keys, explicit BEGIN,
    and the file's folder created unless ``make_folder`` is False."""
    if target.url.get_backend_name() != "sqlite":
        try:
            return sa.create_engine(target.url, pool_pre_ping=True)
        except (ImportError, exc.NoSuchModuleError) as error:
            raise HistoryError(
                f"history store {target.shown} needs a database driver that is not installed "
                f"({scrub(str(error), target.secrets)}); for PostgreSQL install "
                '"pytest-ragft[postgres]" (psycopg 3) and use a postgresql+psycopg:// URL'
            ) from None
    if target.path is not None and make_folder:
        try:
            target.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise HistoryError(
                f"cannot create the folder of history store {target.path}: {error.strerror}; "
                "point `history` at a writable place"
            ) from None
    if target.path is not None:
        engine = sa.create_engine(target.url)
    else:
        engine = sa.create_engine(target.url, poolclass=StaticPool)
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def use_wal(engine: sa.Engine, target: Target) -> None:
    """Switch a SQLite store to WAL, so readers (reports, the CLI) work while a run is written.

    The mode is persistent and cannot change inside a transaction, hence the raw connection.
    """
    deadline = time.monotonic() + LOCK_DEADLINE_S
    while True:
        raw = engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA journal_mode = WAL")  # type: ignore[union-attr]
            return
        except sqlite3.OperationalError as error:
            if not any(t in str(error).lower() for t in _LOCKED) or time.monotonic() > deadline:
                raise translate(exc.OperationalError("PRAGMA", None, error), target) from None
            time.sleep(0.05)
        except sqlite3.DatabaseError as error:
            raise translate(exc.DatabaseError("PRAGMA", None, error), target) from None
        finally:
            raw.close()


def _is_locked(error: exc.DBAPIError) -> bool:
    return isinstance(error.orig, sqlite3.OperationalError) and any(
        text in str(error.orig).lower() for text in _LOCKED
    )


def integrity_problems(path: Path, limit: int = 5) -> list[str]:
    """What SQLite's ``PRAGMA integrity_check`` says is wrong with a file (empty: nothing),
    read without writing; a file SQLite cannot open at all says so in its own words."""
    if not path.is_file():
        return []
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as error:
        return [str(error)]
    try:
        rows = conn.execute(f"PRAGMA integrity_check({int(limit)})").fetchall()
    except sqlite3.Error as error:
        return [str(error)]
    finally:
        conn.close()
    words = [str(row[0]) for row in rows]
    return [] if words == ["ok"] else words


def corrupt(target: Target, problems: list[str]) -> HistoryError:
    """A damaged store named as such, in SQLite's own words, with what to do."""
    said = "; ".join(" ".join(p.split()) for p in problems)[:500]
    return HistoryError(
        f"history store {target.shown} is not a SQLite database or is damaged (corrupt: "
        f"SQLite's integrity_check says: {said}). It was left as it is: restore it from a "
        "backup, or move it aside (a new history starts), or point `history` elsewhere"
    )


def _may_retry(error: exc.DBAPIError) -> bool:
    """A lock another writer holds (SQLite), or a serialization failure or deadlock that the
    server resolved by aborting this transaction (PostgreSQL): run it again."""
    return _is_locked(error) or getattr(error.orig, "sqlstate", None) in _PG_RETRY


def translate(error: exc.SQLAlchemyError, target: Target) -> HistoryError:
    """A database error as a ``HistoryError`` that says which store and what to do."""
    orig = getattr(error, "orig", None) or error
    text = str(orig).strip()
    detail = scrub(text.splitlines()[0] if text else repr(orig), target.secrets)
    if isinstance(orig, sqlite3.DatabaseError) and any(t in detail.lower() for t in _CORRUPT):
        problems = integrity_problems(target.path) if target.path is not None else []
        if problems:
            return corrupt(target, problems)
        return HistoryError(
            f"history store {target.shown} is not a SQLite database or is damaged ({detail}): "
            "move the file aside (or delete it) to start a new history, or point `history` "
            "elsewhere"
        )
    if isinstance(error, exc.DBAPIError) and _is_locked(error):
        return HistoryError(
            f"history store {target.shown} stayed locked by another writer for "
            f"{LOCK_DEADLINE_S:.0f}s ({detail}); is a process stuck holding it?"
        )
    if isinstance(error, exc.OperationalError):
        return HistoryError(
            f"cannot use history store {target.shown}: {detail}; check that it is reachable "
            "and writable, or point `history` elsewhere"
        )
    return HistoryError(f"history store {target.shown}: {detail}")


def run(engine: sa.Engine, target: Target, work: Callable[[sa.Connection], T], *, write: bool) -> T:
    """``work`` in one transaction, committed at the end or rolled back whole.

    A write on SQLite takes the write lock at BEGIN and is retried with back-off while another
    writer holds it, so concurrent writers wait for each other instead of failing. A read on
    PostgreSQL is one repeatable-read snapshot: its queries all see the same committed runs,
    whatever other runners commit meanwhile (SQLite's WAL gives each read transaction that).
    """
    deadline = time.monotonic() + LOCK_DEADLINE_S
    delay = 0.02
    while True:
        try:
            with engine.connect() as conn:
                if write:
                    conn.execution_options(**{_IMMEDIATE: True})
                elif conn.dialect.name == "postgresql":
                    conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    return work(conn)
        except exc.DBAPIError as error:
            if _may_retry(error) and time.monotonic() < deadline:
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 1.0)
                continue
            raise translate(error, target) from None
        except exc.SQLAlchemyError as error:
            raise translate(error, target) from None
