"""The ``pytest_ragft_*`` hooks a conftest.py or plugin can implement.

Added with ``pytest_addhooks`` so they exist before any conftest is loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_ragft.model import Case, CheckOutcome, Result


@pytest.hookspec(firstresult=True)
def pytest_ragft_pipeline(config: pytest.Config) -> Callable[..., Any] | None:
    """Return the pipeline callable to evaluate, instead of the ``pipeline`` setting.

    Useful when the pipeline needs building (a client, an index) before it can answer::

        # conftest.py
        def pytest_ragft_pipeline(config):
            from support_bot import build_pipeline
            return build_pipeline(index_dir=config.rootpath / "index").answer

    The callable is called ``fn(input, **vars)``, sync or async. The first non-None result wins.
    """


@pytest.hookspec
def pytest_ragft_checks() -> Mapping[str, Callable[..., Any]] | None:
    """Return extra checks usable in a case's ``expect``, by name.

    A check is ``fn(case, result, expected)`` returning a ``CheckOutcome`` or a bool::

        # conftest.py
        from pytest_ragft import CheckOutcome

        def starts_with(case, result, expected):
            ok = result.answer.startswith(expected)
            return CheckOutcome("starts_with", ok, f"starts_with: expected {expected!r}")

        def pytest_ragft_checks():
            return {"starts_with": starts_with}
    """


@pytest.hookspec(firstresult=True)
def pytest_ragft_diagnose(
    case: Case, result: Result | None, failures: Sequence[CheckOutcome]
) -> str | None:
    """Return a diagnosis (``knowledge``, ``hybrid``, ``behavior`` or ``error``) for a failed
    case, overriding the built-in one; None keeps it.

    ::

        # conftest.py
        def pytest_ragft_diagnose(case, result, failures):
            if result is not None and not result.contexts:
                return "knowledge"  # nothing retrieved: retrieval is what to fix
            return None
    """


@pytest.hookspec
def pytest_ragft_run_finished(run: Mapping[str, Any]) -> None:
    """Called once per run, on the controller, with the finished run summary (the JSON report
    dict) after aggregation and before the exit status is decided: custom reporters, exporters.

    ::

        # conftest.py
        def pytest_ragft_run_finished(run):
            behavior = run["categories"].get("behavior")  # absent when no behavior case ran
            if behavior and behavior["rate"] is not None:
                print(f"behavior pass rate: {behavior['rate']:.1%}")
    """
