"""The side of a run that evaluates cases, in every process (the only one, or each xdist
worker): the check registry, the pipeline, the runner, and a phase report's one-line reason.
"""

from __future__ import annotations

import bisect
import functools
import os
import threading
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from pytest_ragft.model import DIAGNOSES
from pytest_ragft.state import RagftState, get_state

if TYPE_CHECKING:
    from collections.abc import Hashable, Sequence

    from pytest_ragft.config import Settings
    from pytest_ragft.model import Case, CheckOutcome, Result
    from pytest_ragft.runner import Runner

RECORD = "ragft"  # the user property a case record travels under, to the controller
VARIANT_RECORD = "ragft-variant"  # and a variant's record of the same case
PREFETCH = "ragft_prefetch"  # the workerinput key the controller passes the prefetch mode under

# What a process knows of the tests it runs next, by xdist's --dist: "sequence", every test from
# the next one on in collection order (no xdist; each sends a worker every test); "runs", the
# next test, then as many more in collection order as it has run in order so far (load and
# worksteal send runs of consecutive tests of unknown length); "file" / "scope" / "group", the
# rest of the next test's work unit (xdist sends a unit whole, to one worker, in order); "item",
# nothing beyond the next test.
PREFETCH_BY_DIST = {
    "load": "runs",
    "worksteal": "runs",
    "each": "sequence",
    "loadfile": "file",
    "loadscope": "scope",
    "loadgroup": "group",
}


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
    # Everything that can refuse the settings is resolved before the runner opens its caller,
    # so a usage error leaves no caller (nor its exit guard) behind.
    variants = variant_pipelines(settings)
    extra_checks = _deepeval_checker(settings)
    runner = Runner(
        fn,
        concurrency=settings.concurrency,
        timeout_s=settings.timeout_s,
        repeats=settings.repeats,
        min_pass_ratio=settings.min_pass_ratio,
        checks=registry(config),
        counterfactual=settings.diagnose == "counterfactual",
        extra_checks=extra_checks,
    )
    runner.variants = variants
    return runner


def variant_pipelines(settings: Settings) -> dict[str, tuple[Any, Any]]:
    """The picked variants' callables and vars; one that cannot be imported is a usage error
    naming the variant."""
    from pytest_ragft.pipeline import PipelineUsageError, resolve

    found = {}
    for variant in settings.variants.active:
        try:
            fn = resolve(variant.pipeline, settings.rootdir)
        except PipelineUsageError as exc:
            raise pytest.UsageError(
                f"{exc} (from [tool.ragft.variants.{variant.name}] pipeline)"
            ) from None
        found[variant.name] = (fn, dict(variant.vars))
    return found


def _deepeval_checker(settings: Settings) -> Any:
    """deepeval metrics for the cases that ask for them; nothing is imported until one does."""
    from pytest_ragft.deepeval_checks import JudgeError, deepeval_installed, make_checker

    if not deepeval_installed():
        return None
    try:
        return make_checker(
            settings.judge, settings.rootdir, history=settings.history, rejudge=settings.rejudge
        )
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


def prefetch_mode(config: pytest.Config) -> str:
    """How far ahead this process can issue calls (``PREFETCH_BY_DIST``): decided on the
    controller, which alone knows the scheduler, and read by a worker from its workerinput."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        return str(workerinput.get(PREFETCH, "item"))
    if not config.pluginmanager.hasplugin("dsession"):
        return "sequence"  # the process runs every test itself, in session.items order
    xdist_own = config.pluginmanager.get_plugin("dsession")
    hook = getattr(config.hook, "pytest_xdist_make_scheduler", None)
    if hook is not None and any(i.plugin is not xdist_own for i in hook.get_hookimpls()):
        return "item"  # a scheduler of the project's own: its order is not known
    return PREFETCH_BY_DIST.get(str(config.getoption("dist", "no")), "item")


def prefetch_notice(config: pytest.Config, mode: str) -> str | None:
    """The one line that says where calls are not issued ahead of their tests."""
    if mode == "group":
        return (
            "ragft: --dist loadgroup sends tests outside an xdist_group one at a time: their "
            "eval cases are called in their own test, not ahead of it"
        )
    if mode == "item":
        return (
            f"ragft: under this run's xdist scheduler (--dist {config.getoption('dist')}) a "
            "worker's next tests are not known ahead: eval cases are called in their own test, "
            "not ahead of it"
        )
    return None


def work_unit(mode: str, nodeid: str) -> str | None:
    """The unit xdist sends a test in, as its schedulers split node ids: the tests of one unit
    run on one worker, in order. None: a test sent alone."""
    if mode in ("sequence", "runs"):
        return ""
    if mode == "file":
        return nodeid.split("::", 1)[0]
    if mode == "scope":
        return nodeid.rsplit("::", 1)[0]
    if mode == "group" and nodeid.rfind("@") > nodeid.rfind("]"):
        return nodeid.split("@")[-1]
    return None


@dataclass(slots=True)
class _Issued:
    """A test whose calls the window issued ahead: its position, its calls, and whether they
    are still in flight (set off once, by its evaluation's done callback or by the window)."""

    position: int
    calls: int
    in_flight: bool = True


class Window:
    """The eval cases whose pipeline calls are issued ahead of their tests: the current test's,
    then the next ones this process will run until ``concurrency`` calls are in flight.

    Calls that finished ahead of their tests do not count, so slots freed ahead are filled
    again, but the window never reaches past ``LEAD`` x ``concurrency`` calls ahead. While
    ``concurrency`` answers already wait ahead, the tests have work enough and nothing more is
    issued: the window refills in batches then, so a fast pipeline wakes the call loop once
    per batch rather than once per test; a test about to wait for its own answer fills every
    free slot first (``top_up``). It reads the process's ``session.items`` (deselected
    tests are not in it) and cancels what it leaves behind, so ``-x``, ``--maxfail`` and an
    interrupt stop the calls.
    """

    LEAD = 2

    def __init__(
        self,
        runner: Runner,
        items: Sequence[Hashable],
        cases: Sequence[Case | None],
        units: Sequence[str | None],
        concurrency: int,
        *,
        ramp: bool = False,
    ) -> None:
        self.runner = runner
        self.ramp = ramp  # the order beyond the next test is a guess: grow with the evidence
        self._run = 0  # steps in collection order in a row, this one included
        self.cases = cases
        self.units = units
        self.concurrency = concurrency
        self._position = {item: n for n, item in enumerate(items)}
        self._evals = [n for n, case in enumerate(cases) if case is not None]
        # Issued after the current test, in order.
        self._ahead: deque[_Issued] = deque()
        self._ahead_calls = 0
        # Calls of ``_ahead`` not answered yet, kept by the evaluations' done callbacks (on the
        # call loop) rather than counted over the window on every test.
        self._in_flight = 0
        self._lock = threading.Lock()
        self._next: tuple[int, int] | None = None  # where the window extends from, how far

    def advance(self, item: Hashable, nextitem: Hashable | None) -> None:
        """At the start of ``item``: issue its calls and those of the tests after it, from
        ``nextitem`` (the next test this process runs, as xdist and pytest tell it) on."""
        current = self._position.get(item)
        if current is None:
            return
        following = None if nextitem is None else self._position.get(nextitem)
        self._drop_until(current, following)
        case = self.cases[current]
        if case is not None:
            self.runner.submit(case)
        in_order = following == current + 1
        self._run = self._run + 1 if in_order else 0
        self._next = None
        if following is not None and self.units[following] is not None:
            # After a gap in the order (xdist sent this process tests apart), only the next
            # test is known to be this process's; the window opens again as the order runs on.
            guess = self.ramp or not in_order
            self._next = (following, max(1, self._run) if guess else len(self.cases))
            self._extend(*self._next)

    def top_up(self) -> None:
        """The current test is about to wait for its answer: fill every free slot now, answers
        waiting ahead or not. Waking the call loop costs nothing while the test waits, and a
        slow call at the head of the window must not leave the slots behind it idle."""
        if self._next is not None:
            self._extend(*self._next, eager=True)

    def _drop_until(self, current: int, following: int | None) -> None:
        """Forget what the window passed; cancel what it skipped (tests this process will not
        run next) and all it had ahead when the next test is in another work unit or before
        what was issued (xdist may send a test again after a worker crashed)."""
        ahead = self._ahead
        if following is None or (ahead and self.units[ahead[0].position] != self.units[following]):
            following = len(self.cases)
        while ahead and ahead[0].position < following:
            self._pop(cancel=ahead[0].position != current)
        n = bisect.bisect_left(self._evals, following)
        if ahead and (n == len(self._evals) or self._evals[n] != ahead[0].position):
            while ahead:
                self._pop(cancel=ahead[0].position != current)

    def _pop(self, *, cancel: bool) -> None:
        entry = self._ahead.popleft()
        self._ahead_calls -= entry.calls
        self._answered(entry)
        case = self.cases[entry.position]
        if cancel and case is not None:
            self.runner.cancel(case)

    def _extend(self, start: int, tests: int, *, eager: bool = False) -> None:
        """Issue eval tests from ``start`` on, in its work unit, until ``concurrency`` calls
        are in flight ahead of the current test (and no more than ``tests`` tests ahead)."""
        if not eager and self._ahead_calls - self._in_flight >= self.concurrency:
            return  # answers enough wait ahead: refill once they run low
        unit = self.units[start]
        after = self._ahead[-1].position + 1 if self._ahead else start
        n = bisect.bisect_left(self._evals, after)
        limit = self.LEAD * self.concurrency
        while (
            self._in_flight < self.concurrency
            and self._ahead_calls < limit
            and n < len(self._evals)
        ):
            position = self._evals[n]
            case = self.cases[position]
            if case is None or self.units[position] != unit or len(self._ahead) >= tests:
                break
            calls = case.repeats or self.runner.repeats
            entry = _Issued(position, calls)
            with self._lock:
                self._in_flight += calls
            self._ahead.append(entry)
            self._ahead_calls += calls
            self.runner.submit(case).add_done_callback(functools.partial(self._answered, entry))
            n += 1

    def _answered(self, entry: _Issued, _: object = None) -> None:
        """An entry's calls no longer in flight: answered, cancelled or passed by the tests."""
        with self._lock:
            if entry.in_flight:
                entry.in_flight = False
                self._in_flight -= entry.calls

    def close(self) -> None:
        """The loop ended (done, stopped by -x / --maxfail, or interrupted): nothing more runs."""
        while self._ahead:
            self._pop(cancel=True)


def _state(config: pytest.Config) -> RagftState:
    state = get_state(config)
    if state is None:
        raise RuntimeError("pytest-ragft is not active in this run")
    return state
