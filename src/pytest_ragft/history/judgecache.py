"""The judge cache: LLM-judged metric results kept in the history store, so a judge is paid
once per distinct question (the same metric, judge model and case fields).

Each process opens the store itself, on the first look-up, so threads of one run and xdist
workers each share one engine per process; a store that cannot be opened means no cache,
never a failed check.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_ragft.history.errors import HistoryError


@dataclass(frozen=True)
class Judged:
    """What one metric judged: its score, its own pass/fail, the threshold and its reason."""

    metric: str
    model: str | None
    score: float
    success: bool | None
    threshold: float | None
    reason: str | None


class JudgeCache:
    """Look-ups and writes of judged results; callable from several threads at once.

    ``target`` is the ``history`` setting ("" disables the cache). With ``read`` False
    (``rejudge``), ``get`` finds nothing while ``put`` still stores the fresh results.
    """

    def __init__(self, target: str, rootdir: Path, *, read: bool = True) -> None:
        self.target = target
        self.rootdir = rootdir
        self.read = read
        self._lock = threading.Lock()
        self._store: Any = None
        self._opened = False
        self.error: str | None = None  # why the store could not be used, once it failed

    @property
    def enabled(self) -> bool:
        return bool(self.target) and self.error is None

    def _open(self) -> Any:
        with self._lock:
            if not self._opened:
                self._opened = True
                from pytest_ragft.history.store import open_store

                try:
                    self._store = open_store(self.target, self.rootdir)
                except HistoryError as exc:
                    self.error = str(exc)
            return self._store

    def get(self, key: str) -> Judged | None:
        """The stored result of ``key``; None when absent, when reading is bypassed, or when
        the store cannot be read."""
        if not self.read or not self.target:
            return None
        store = self._open()
        if store is None:
            return None
        try:
            row = store.judged(key)
        except HistoryError as exc:
            self.error = str(exc)
            return None
        return None if row is None else Judged(**row)

    def put(self, key: str, judged: Judged) -> None:
        """Store (or replace) the result of ``key``; a store that refuses it is not an error
        of the check, only a result judged again next time."""
        if not self.target:
            return
        store = self._open()
        if store is None:
            return
        try:
            store.remember_judged(key, asdict(judged), datetime.now(UTC))
        except HistoryError as exc:
            self.error = str(exc)

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
            self._store = None
            self._opened = False
