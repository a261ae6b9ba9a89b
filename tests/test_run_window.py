"""The plugin through pytest: pipeline calls are issued ahead only within a window of the tests
that will run next, so a run stopped early or narrowed down pays only for what it runs."""

from __future__ import annotations

import time
from concurrent.futures import Future

import pytest
from conftest import Project, case_yaml

from pytest_ragft.model import Case
from pytest_ragft.worker import Window

CONCURRENCY = 4

# Each call appends its question to calls.txt when it starts.
LOGGING_SYNC = """
def answer(question, **vars):
    with open("calls.txt", "a") as log:
        log.write(question + "\\n")
    return question
"""

LOGGING_ASYNC = """
import asyncio

async def answer(question, **vars):
    with open("calls.txt", "a") as log:
        log.write(question + "\\n")
    await asyncio.sleep(0.01)
    return question
"""


def _suite(project: Project, *, failing: int, pipeline: str = LOGGING_SYNC) -> list[str]:
    """200 knowledge cases ``q-000``.. whose first ``failing`` ones fail; their questions."""
    project.configure(concurrency=CONCURRENCY, diagnose="static", thresholds={"knowledge": 0.0})
    project.pipeline(pipeline)
    questions = [f"q-{n:03d}" for n in range(200)]
    project.cases(
        "k",
        [
            case_yaml(q, "knowledge", q, {"contains": "never" if n < failing else q})
            for n, q in enumerate(questions)
        ],
    )
    return questions


def _calls(project: Project) -> list[str]:
    log = project.path / "calls.txt"
    return log.read_text().splitlines() if log.exists() else []


@pytest.mark.parametrize(
    ("args", "failing", "pipeline", "ran"),
    [
        pytest.param(["-x"], 1, LOGGING_SYNC, 1, id="x-sync"),
        pytest.param(["-x"], 1, LOGGING_ASYNC, 1, id="x-async"),
        pytest.param(["--maxfail=2"], 5, LOGGING_SYNC, 2, id="maxfail-2"),
    ],
)
def test_stopping_early_stops_the_calls(
    project: Project, args: list[str], failing: int, pipeline: str, ran: int
) -> None:
    questions = _suite(project, failing=failing, pipeline=pipeline)
    result = project.run(*args)
    assert result.ret == 1
    result.assert_outcomes(failed=ran)
    calls = _calls(project)
    # The tests that ran and the window beyond them: ``concurrency`` calls at the first test;
    # later, calls that finished ahead of their tests let it reach further, up to its lead.
    beyond = CONCURRENCY if ran == 1 else Window.LEAD * CONCURRENCY
    assert len(calls) <= ran + beyond
    assert set(calls) <= set(questions[: ran + beyond])
    assert set(questions[:ran]) <= set(calls)


def test_an_interrupt_stops_the_calls(project: Project) -> None:
    questions = _suite(project, failing=0)
    project.pytester.makeconftest(
        """
        def pytest_runtest_setup(item):
            if item.name == "q-010":
                raise KeyboardInterrupt
        """
    )
    result = project.run_subprocess()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    calls = _calls(project)
    beyond = Window.LEAD * CONCURRENCY  # the window's lead past the test that was interrupted
    assert len(calls) <= 11 + beyond
    assert set(questions[:10]) <= set(calls) <= set(questions[: 11 + beyond])


def test_a_whole_run_calls_each_case_once(project: Project) -> None:
    questions = _suite(project, failing=0)
    project.run().assert_outcomes(passed=200)
    assert sorted(_calls(project)) == questions


@pytest.mark.parametrize(
    ("args", "selected"),
    [
        pytest.param(["-k", "k-003 or b-017"], {"k-003", "b-017"}, id="keyword"),
        pytest.param(["-m", "behavior"], {f"b-{n:03d}" for n in range(40)}, id="marker"),
        pytest.param(
            ["--deselect", "evals/k.yaml::k-001", "-k", "k-00"],
            {f"k-{n:03d}" for n in range(10) if n != 1},
            id="deselect",
        ),
    ],
)
def test_deselected_cases_are_never_called(
    project: Project, plugin_args: list[str], args: list[str], selected: set[str]
) -> None:
    project.configure(concurrency=CONCURRENCY, thresholds={"knowledge": 0.0, "behavior": 0.0})
    project.pipeline(LOGGING_SYNC)
    for name, prefix, kind in (("k", "k", "knowledge"), ("b", "b", "behavior")):
        ids = [f"{prefix}-{n:03d}" for n in range(40)]
        project.cases(name, [case_yaml(i, kind, i, {"contains": i}) for i in ids])
    project.run_with(plugin_args, *args).assert_outcomes(passed=len(selected))
    calls = _calls(project)
    assert set(calls) == selected
    if not plugin_args:  # under xdist a worker may also issue a case another worker runs
        assert len(calls) == len(selected)


def test_a_case_marked_skip_is_never_called(project: Project, plugin_args: list[str]) -> None:
    project.configure(concurrency=CONCURRENCY, thresholds={"knowledge": 0.0})
    project.pipeline(LOGGING_SYNC)
    project.cases(
        "k",
        [
            case_yaml("a", "knowledge", "a", {"contains": "a"}),
            case_yaml("b", "knowledge", "b", {"contains": "b"}, skip="not today"),
            case_yaml("c", "knowledge", "c", {"contains": "c"}),
        ],
    )
    project.pytester.makeconftest(
        """
        import pytest

        def pytest_collection_modifyitems(items):
            for item in items:
                if item.name == "c":
                    item.add_marker(pytest.mark.skip(reason="by a hook"))
        """
    )
    project.run_with(plugin_args).assert_outcomes(passed=1, skipped=2)
    assert _calls(project) == ["a"]


def test_the_calls_of_a_window_are_in_flight_together(project: Project) -> None:
    """A case's call waits for the next case's call to begin: it answers only if both are in
    flight at once, i.e. if the next one was issued ahead of its test."""
    project.configure(concurrency=2, timeout_s=60, thresholds={"knowledge": 0.0})
    project.pipeline(BARRIER_PIPELINE)
    project.cases("k", BARRIER_CASES)
    project.run()
    assert project.outcomes()["first"] == "passed"


BARRIER_PIPELINE = """
import threading

SECOND = threading.Event()

def answer(question, **vars):
    if question == "second":
        SECOND.set()
        return "second"
    if question == "first":
        return "together" if SECOND.wait(30) else "alone"
    return question
"""

BARRIER_CASES = [
    case_yaml("first", "knowledge", "first", {"contains": "together"}),
    case_yaml("second", "knowledge", "second", {"contains": "second"}),
    *(case_yaml(f"other-{n}", "knowledge", f"other-{n}", {"contains": "other"}) for n in range(6)),
]


def test_closing_the_runner_cancels_what_waits() -> None:
    """Calls still waiting for a concurrency slot when the run ends are never made."""
    from pytest_ragft.runner import Runner

    started: list[str] = []

    def slow(question: str) -> str:
        started.append(question)
        time.sleep(0.2)
        return question

    runner = Runner(
        slow,
        concurrency=1,
        timeout_s=10,
        repeats=1,
        min_pass_ratio=1.0,
        checks={},
        counterfactual=False,
    )
    cases = [
        Case(id=f"c{n}", kind="knowledge", input=f"c{n}", source="k.yaml", line=n) for n in range(5)
    ]
    futures = [runner.submit(case) for case in cases]
    runner.cancel(cases[4])
    assert futures[4].cancelled()
    assert runner.submit(cases[4]) is not futures[4]  # a cancelled case starts afresh
    futures[0].result(timeout=10)
    runner.close()
    assert started[0] == "c0"
    assert len(started) < len(cases)


class _Runner:
    """What the window asks of a runner, written down."""

    repeats = 1

    def __init__(self) -> None:
        self.submitted: list[str] = []
        self.cancelled: list[str] = []
        self.futures: dict[str, Future[None]] = {}

    def submit(self, case: Case) -> Future[None]:
        if case.id not in self.submitted:
            self.submitted.append(case.id)
        return self.futures.setdefault(case.id, Future())

    def cancel(self, case: Case) -> None:
        self.cancelled.append(case.id)


def _window(units: str, plain: str = "", *, ramp: bool = False) -> tuple[Window, _Runner]:
    """Tests named a, b, c...; ``units`` gives each one's work unit ("." for none); ``plain``
    names the tests that are not eval cases."""
    names = [chr(ord("a") + n) for n in range(len(units))]
    cases = [None if n in plain else Case(id=n, kind="knowledge", input=n) for n in names]
    runner = _Runner()
    window = Window(
        runner,  # type: ignore[arg-type]
        names,
        cases,
        [None if u == "." else u for u in units],
        concurrency=2,
        ramp=ramp,
    )
    return window, runner


@pytest.mark.parametrize(
    ("units", "plain", "steps", "submitted", "cancelled"),
    [
        pytest.param("xxxxx", "", ["ab", "bc", "cd"], "abcde", "", id="in-order"),
        pytest.param("xxxxx", "b", ["ac", "cd"], "acde", "", id="skips-non-eval"),
        pytest.param("xxxxxx", "", ["ab", "be"], "abce", "c", id="gap-cancels-skipped"),
        pytest.param("xxxxxx", "", ["ab", "be", "ef"], "abcef", "c", id="gap-then-reopens"),
        pytest.param("xxxxx", "", ["a."], "a", "", id="last-test"),
        pytest.param("xxyyy", "", ["ab", "bc"], "abcd", "", id="unit-ends"),
        pytest.param("xxxyy", "", ["ab", "bd"], "abcd", "c", id="next-unit-cancels-rest"),
        pytest.param("x.x..", "", ["ab", "bc", "ce"], "abc", "", id="no-unit-no-prefetch"),
        pytest.param(
            "xxxxxx", "", ["ab", "bd", "de", "eb"], "abcdef", "cf", id="backwards-restarts"
        ),
    ],
)
def test_the_window_moves_with_the_tests(
    units: str, plain: str, steps: list[str], submitted: str, cancelled: str
) -> None:
    """Each step is (current test, next test or "." for none), at concurrency 2."""
    window, runner = _window(units, plain)
    for current, following in steps:
        window.advance(current, None if following == "." else following)
    assert "".join(runner.submitted) == submitted
    assert "".join(runner.cancelled) == cancelled


def test_closing_the_window_cancels_what_it_had_ahead() -> None:
    window, runner = _window("xxxxx")
    window.advance("a", "b")
    window.close()
    assert runner.cancelled == ["b", "c"]


def test_calls_finished_ahead_let_the_window_reach_further() -> None:
    """What finished ahead does not count against ``concurrency``, up to the window's lead;
    while ``concurrency`` answers wait ahead, nothing more is issued (the tests have work)."""
    window, runner = _window("x" * 10)
    window.advance("a", "b")
    assert runner.submitted == ["a", "b", "c"]
    for name in "bc":
        runner.futures[name].set_result(None)
    window.advance("b", "c")
    assert runner.submitted == ["a", "b", "c", "d", "e"]  # c finished: d and e in flight
    for name in "de":
        runner.futures[name].set_result(None)
    window.advance("c", "d")
    assert runner.submitted == list("abcde")  # d and e answered, 2 waiting: enough
    window.advance("d", "e")
    assert runner.submitted == list("abcdefg")  # 1 waiting: f and g in flight, e to g ahead
    runner.futures["f"].set_result(None)
    window.advance("e", "f")
    assert runner.submitted == list("abcdefgh")  # f answered, g in flight: h makes two again
    runner.futures["g"].cancel()  # an evaluation cancelled elsewhere frees its slot too
    window.advance("f", "g")
    assert runner.submitted == list("abcdefghi")


def test_a_test_about_to_wait_fills_the_free_slots() -> None:
    """Answers waiting ahead hold the window back, but not while the current test waits for
    its own slow answer: then every free slot is filled, up to the lead."""
    window, runner = _window("x" * 10)
    window.advance("a", "b")
    for name in "bc":
        runner.futures[name].set_result(None)
    window.advance("b", "c")
    for name in "de":
        runner.futures[name].set_result(None)
    window.advance("c", "d")
    assert runner.submitted == list("abcde")  # 2 answers wait: the window holds
    window.top_up()  # c's test waits for c (a slow call): d and e wait, the slots are free
    assert runner.submitted == list("abcdefg")  # f and g in flight: the lead, 4 calls ahead
    window.top_up()
    assert runner.submitted == list("abcdefg")  # full: nothing more


@pytest.mark.parametrize(
    ("steps", "submitted", "cancelled"),
    [
        pytest.param(["ab", "b."], "ab", "", id="a-run-of-two"),
        pytest.param(["ab", "bc", "cd"], "abcde", "", id="grows-with-the-run"),
        pytest.param(["ab", "bc", "cf", "fg"], "abcdfg", "d", id="a-gap-starts-over"),
    ],
)
def test_a_guessed_order_opens_the_window_as_it_runs_on(
    steps: list[str], submitted: str, cancelled: str
) -> None:
    """Under xdist's load and worksteal, the tests after the next one are a guess: one more for
    each test run in collection order, so a short run of tests costs no calls of another's."""
    window, runner = _window("x" * 8, ramp=True)
    for current, following in steps:
        window.advance(current, None if following == "." else following)
    assert "".join(runner.submitted) == submitted
    assert "".join(runner.cancelled) == cancelled
