"""The side of a run that evaluates cases, in every process (the only one, or each xdist
worker): the check registry, the pipeline, the runner, and a phase report's one-line reason.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pytest

from pytest_ragft.model import DIAGNOSES
from pytest_ragft.state import RagftState, get_state

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_ragft.config import Settings
    from pytest_ragft.model import Case, CheckOutcome, Result
    from pytest_ragft.runner import Runner

RECORD = "ragft"  # the user property a case record travels under, to the controller


def registry(config: pytest.Config) -> dict[str, Any]:
    """Built-in checks plus those from ``pytest_ragft_checks`` (computed once per process)."""
    state = _state(config)
    if state.checks is None:
        from pytest_ragft.checks import BUILTIN_CHECKS, hook_checks

        state.checks = {**BUILTIN_CHECKS, **hook_checks(config.hook.pytest_ragft_checks)}
    return state.checks


def get_runner(config: pytest.Config) -> Runner:
    """The process's runner, built on first use (resolving the pipeline then)."""
    state = _state(config)
    if state.runner is None:
        state.runner = build_runner(config, state.settings)
    return state.runner


def resolve_pipeline(config: pytest.Config, settings: Settings) -> Any:
    """The pipeline from the hook, else from ``pipeline``; a usage error naming where it came
    from when it cannot be had."""
    from pytest_ragft.pipeline import PipelineUsageError, resolve

    fn = config.hook.pytest_ragft_pipeline(config=config)
    if fn is not None:
        if not callable(fn):
            raise pytest.UsageError(
                f"pytest_ragft_pipeline returned a {type(fn).__name__}, not a callable"
            )
        return fn
    if not settings.pipeline:
        raise pytest.UsageError(
            'pytest-ragft has eval cases but no pipeline: set pipeline = "module:callable" in '
            "[tool.ragft] of pyproject.toml, pass --ragft-pipeline, or implement "
            "pytest_ragft_pipeline(config) in a conftest.py"
        )
    try:
        return resolve(settings.pipeline, settings.rootdir)
    except PipelineUsageError as exc:
        raise pytest.UsageError(f"{exc} (from {_pipeline_origin(config)})") from None


def _pipeline_origin(config: pytest.Config) -> str:
    """Where the ``pipeline`` value came from, by the settings' own precedence."""
    if config.getoption("ragft_pipeline", None):
        return "--ragft-pipeline"
    if os.environ.get("RAGFT_PIPELINE", "").strip():
        return "RAGFT_PIPELINE"
    return "[tool.ragft] in pyproject.toml"


def build_runner(config: pytest.Config, settings: Settings) -> Runner:
    from pytest_ragft.runner import Runner

    fn = resolve_pipeline(config, settings)
    return Runner(
        fn,
        concurrency=settings.concurrency,
        timeout_s=settings.timeout_s,
        repeats=settings.repeats,
        min_pass_ratio=settings.min_pass_ratio,
        checks=registry(config),
        counterfactual=settings.diagnose == "counterfactual",
        extra_checks=_deepeval_checker(settings),
    )


def _deepeval_checker(settings: Settings) -> Any:
    """deepeval metrics for the cases that ask for them; nothing is imported until one does."""
    from pytest_ragft.deepeval_checks import JudgeError, deepeval_installed, make_checker

    if not deepeval_installed():
        return None
    try:
        return make_checker(settings.judge, settings.rootdir)
    except JudgeError as exc:
        raise pytest.UsageError(f"[tool.ragft] {exc}") from None


def diagnose_override(
    config: pytest.Config, case: Case, result: Result | None, failures: Sequence[CheckOutcome]
) -> str | None:
    """A ``pytest_ragft_diagnose`` implementation's diagnosis of a case that did not pass; a
    value it may not return stops the run once (a usage error), not once per case."""
    override = config.hook.pytest_ragft_diagnose(case=case, result=result, failures=failures)
    if override is not None and override not in DIAGNOSES:
        pytest.exit(
            f"pytest_ragft_diagnose returned {override!r} for case {case.id!r}; "
            f"expected one of {', '.join(DIAGNOSES)} or None",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
    return override  # type: ignore[no-any-return]


def crash_message(report: pytest.TestReport) -> str:
    """The one-line reason pytest gives for a failed or skipped phase."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)
    if isinstance(report.longrepr, tuple):  # a skip: (path, line, reason)
        return str(report.longrepr[2])
    lines = str(report.longrepr or "").strip().splitlines()
    return lines[-1] if lines else ""


def _state(config: pytest.Config) -> RagftState:
    state = get_state(config)
    if state is None:
        raise RuntimeError("pytest-ragft is not active in this run")
    return state
