"""Run history: where past runs live and what the gate, checklist and reports ask of them.

Importing this package is cheap: SQLAlchemy is loaded only when the store is first used, so
``pytest_ragft.history.gitmeta`` can be imported without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_ragft.history.errors import HistoryError
from pytest_ragft.history.gitmeta import changed_files, git_metadata

if TYPE_CHECKING:
    from pytest_ragft.history.store import Baseline, HistoryStore, RunRow, open_store

__all__ = [
    "Baseline",
    "HistoryError",
    "HistoryStore",
    "RunRow",
    "changed_files",
    "git_metadata",
    "open_store",
]

_LAZY = {"Baseline", "HistoryStore", "RunRow", "open_store"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from pytest_ragft.history import store

        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
