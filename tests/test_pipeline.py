"""What a pipeline returns is bounded before anything sees it; calls cannot hang or end a run."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_ragft import pipeline
from pytest_ragft.exitguard import exit_guard
from pytest_ragft.model import CallError, Result
from pytest_ragft.pipeline import Caller, normalize


def ok(value: Any) -> Result:
    result = normalize(value)
    assert isinstance(result, Result), result
    json.dumps(
        [result.answer, result.contexts, result.sources, result.metadata], allow_nan=False
    ).encode("utf-8")
    return result


def error(value: Any) -> CallError:
    result = normalize(value)
    assert isinstance(result, CallError), result
    return result


# --- normalise --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param("a\ud800b", "a\ufffdb", id="lone-high-surrogate"),
        pytest.param("\udfff", "\ufffd", id="lone-low-surrogate"),
        pytest.param("\ud83d\ude00", "\U0001f600", id="pair-as-two-code-points"),
        pytest.param("nul\x00byte", "nul\ufffdbyte", id="nul"),
        pytest.param("plain é 😀", "plain é 😀", id="unchanged"),
    ],
)
def test_unencodable_text_is_replaced(answer: str, expected: str) -> None:
    assert ok(answer).answer == expected
    assert ok({"answer": "x", "contexts": [answer]}).contexts == (expected,)
    assert ok({"answer": "x", "metadata": {"m": answer}}).metadata["m"] == expected


def test_a_str_subclass_becomes_a_plain_str() -> None:
    class Sneaky(str):
        def __str__(self) -> str:
            raise RuntimeError("no")

    result = ok({"answer": Sneaky("hi"), "contexts": [Sneaky("c")]})
    assert type(result.answer) is str and type(result.contexts[0]) is str


def test_a_huge_answer_is_cut_and_says_so() -> None:
    result = ok("x" * (pipeline.MAX_ANSWER_CHARS + 10))
    assert len(result.answer) == pipeline.MAX_ANSWER_CHARS
    long = ok({"answer": "y" * (pipeline.MAX_ANSWER_CHARS + 1)})
    assert "cut to" in long.metadata["ragft_truncated"]["answer"]


def test_an_endless_iterator_of_contexts_is_cut() -> None:
    result = ok({"answer": "a", "contexts": itertools.repeat("ctx")})
    assert len(result.contexts) == pipeline.MAX_ITEMS
    assert result.metadata["ragft_truncated"]["contexts"].startswith("more than")


def test_an_endless_generator_of_sources_is_cut() -> None:
    def forever() -> Iterator[str]:
        n = 0
        while True:
            n += 1
            yield str(n)

    assert len(ok({"answer": "a", "sources": forever()}).sources) == pipeline.MAX_ITEMS


def test_metadata_becomes_json_safe() -> None:
    meta = {
        "nan": math.nan,
        "inf": -math.inf,
        "big": 10**30,
        "obj": object(),
        "deep": {"a": {"b": {"c": {"d": {"e": 1}}}}},
        3: "int key",
        "many": list(range(10_000)),
    }
    result = ok({"answer": "a", "metadata": meta})
    assert result.metadata["nan"] == "nan" and result.metadata["inf"] == "-inf"
    assert result.metadata["big"] == str(10**30)
    assert result.metadata["obj"].startswith("<object object")
    assert result.metadata["3"] == "int key"
    assert len(result.metadata["many"]) == pipeline.MAX_METADATA


class _Raises:
    @property
    def answer(self) -> str:
        raise ValueError("the model client is closed")


class _ContextsRaise:
    answer = "fine"

    @property
    def contexts(self) -> list[str]:
        raise KeyError("index")


class _BadMapping(dict[str, Any]):
    def __contains__(self, key: object) -> bool:
        raise RuntimeError("broken mapping")


@pytest.mark.parametrize(
    ("value", "words"),
    [
        pytest.param(_Raises(), "ValueError: the model client is closed", id="answer-property"),
        pytest.param(_ContextsRaise(), "KeyError: 'index'", id="contexts-property"),
        pytest.param(_BadMapping(answer="a"), "RuntimeError: broken mapping", id="mapping"),
    ],
)
def test_reading_a_result_that_raises_is_a_short_case_error(value: Any, words: str) -> None:
    failure = error(value)
    assert failure.reason == "exception"
    assert failure.message.startswith("reading the value the pipeline returned raised ")
    assert words in failure.message
    assert f"(at {__file__}:" in failure.message  # where, in the user's code
    assert "\n" not in failure.message and len(failure.message) < 500


@given(st.text(), st.lists(st.text(), max_size=5))
def test_any_text_normalises_to_encodable_json(answer: str, contexts: list[str]) -> None:
    result = ok({"answer": answer, "contexts": contexts, "metadata": {"echo": answer}})
    assert len(result.contexts) == len(contexts)


# --- calls ------------------------------------------------------------------------------------


def run_calls(caller: Caller, n: int) -> list[Result | CallError]:
    async def all_calls() -> list[Result | CallError]:
        return list(await asyncio.gather(*(caller.call("q", {}) for _ in range(n))))

    return caller.submit(all_calls()).result(timeout=60)


def test_an_async_pipeline_that_blocks_its_loop_is_timed_out() -> None:
    release = threading.Event()

    async def blocking(input: str) -> str:
        release.wait(30)  # a blocking call inside async def: the loop cannot time it out
        return "late"

    caller = Caller(blocking, concurrency=4, timeout_s=0.5)
    try:
        started = time.monotonic()
        results = run_calls(caller, 2)
        elapsed = time.monotonic() - started
    finally:
        release.set()
        caller.close()
    assert elapsed < 20  # not 2 x 30 s: the calls did not wait for the blocked loop
    assert all(isinstance(r, CallError) and r.reason == "timeout" for r in results)
    assert any("blocked its event loop" in r.message for r in results if isinstance(r, CallError))


def test_after_a_blocked_loop_later_async_calls_still_answer() -> None:
    release = threading.Event()
    calls = itertools.count()

    async def first_blocks(input: str) -> str:
        if next(calls) == 0:
            release.wait(30)
        await asyncio.sleep(0)
        return "answer"

    caller = Caller(first_blocks, concurrency=1, timeout_s=1.5)
    try:
        first = run_calls(caller, 1)[0]
        second = run_calls(caller, 1)[0]
    finally:
        release.set()
        caller.close()
    assert isinstance(first, CallError) and "blocked its event loop" in first.message
    assert isinstance(second, Result) and second.answer == "answer"


def test_a_timed_out_async_call_is_cancelled_on_its_loop() -> None:
    cancelled = threading.Event()

    async def slow(input: str) -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "late"

    caller = Caller(slow, concurrency=1, timeout_s=1.0)
    try:
        result = run_calls(caller, 1)[0]
        assert cancelled.wait(20)
    finally:
        caller.close()
    assert isinstance(result, CallError) and result.reason == "timeout"
    assert "blocked" not in result.message  # it awaited: the loop was free


def test_async_calls_still_overlap() -> None:
    async def slow(input: str) -> str:
        await asyncio.sleep(0.3)
        return "ok"

    caller = Caller(slow, concurrency=8, timeout_s=30)
    try:
        results = run_calls(caller, 8)
    finally:
        caller.close()
    assert [r.answer for r in results if isinstance(r, Result)] == ["ok"] * 8


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("code", [0, 7])
def test_os_exit_in_the_pipeline_is_a_case_error(is_async: bool, code: int) -> None:
    def sync(input: str) -> str:
        os._exit(code)

    async def coro(input: str) -> str:
        os._exit(code)

    caller = Caller(coro if is_async else sync, concurrency=2, timeout_s=10)
    try:
        results = run_calls(caller, 2)
    finally:
        caller.close()
    for result in results:
        assert isinstance(result, CallError)
        assert f"the pipeline called os._exit({code}) (at {__file__}:" in result.message
        assert "counted as this case's error" in result.message


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_system_exit_in_the_pipeline_leaves_the_others_running(is_async: bool) -> None:
    calls = itertools.count()

    def sync(input: str) -> str:
        if next(calls) == 0:
            raise SystemExit(0)
        return "ok"

    async def coro(input: str) -> str:
        return sync(input)

    caller = Caller(coro if is_async else sync, concurrency=1, timeout_s=10)
    try:
        results = run_calls(caller, 3)
    finally:
        caller.close()
    assert sorted(type(r).__name__ for r in results) == ["CallError", "Result", "Result"]


def test_sync_calls_reuse_a_thread_but_a_stuck_call_keeps_its_own() -> None:
    """Threads are kept for later calls; one stuck past its time-out is never handed another
    call, and closing the caller ends the idle threads."""
    release = threading.Event()
    threads: list[tuple[str, int]] = []

    def pipeline_fn(question: str) -> str:
        threads.append((question, threading.get_ident()))
        if question == "stuck":
            release.wait(10)
        return question

    caller = Caller(pipeline_fn, concurrency=2, timeout_s=0.2)
    try:
        answers = [caller.submit(caller.call(q, {})).result() for q in ("a", "b", "c")]
        stuck = caller.submit(caller.call("stuck", {})).result()
        after = [caller.submit(caller.call(q, {})).result() for q in ("d", "e")]
    finally:
        caller.close()
        release.set()
    assert [r.answer for r in answers + after] == ["a", "b", "c", "d", "e"]  # type: ignore[union-attr]
    assert isinstance(stuck, CallError) and "timeout_s = 0.2" in stuck.message
    ident = dict(threads)
    assert ident["a"] == ident["b"] == ident["c"] == ident["stuck"]
    assert ident["d"] == ident["e"] != ident["stuck"]
    for thread in threading.enumerate():
        if thread.name == "ragft-call":
            thread.join(5)
            assert not thread.is_alive()


def test_a_call_in_flight_at_close_leaves_its_future_cancelled() -> None:
    started = threading.Event()

    async def forever() -> str:
        started.set()
        await asyncio.sleep(60)
        return "never"

    caller = Caller(lambda q: q, concurrency=1, timeout_s=60)
    future = caller.submit(forever())
    waiting = caller.submit(forever())  # started on the loop too, blocked in its own sleep
    assert started.wait(5)
    caller.close()
    for f in (future, waiting):
        assert f.done() and f.cancelled()
        with pytest.raises(concurrent.futures.CancelledError):
            f.result(timeout=0)


def test_the_guard_is_removed_when_the_last_caller_closes() -> None:
    real = os._exit
    first = Caller(lambda q: q, concurrency=1, timeout_s=1)
    second = Caller(lambda q: q, concurrency=1, timeout_s=1)
    assert os._exit is not real and exit_guard.active
    first.close()
    assert os._exit is not real
    second.close()
    assert os._exit is real and not exit_guard.active


_OUTSIDE = """
import os, threading
from pytest_ragft.pipeline import Caller
caller = Caller(lambda q: q, concurrency=1, timeout_s=1)
def elsewhere():
    os._exit({code})
{how}
"""


@pytest.mark.parametrize(
    ("code", "how", "status"),
    [
        pytest.param(0, "elsewhere()", 3, id="main-thread-0"),
        pytest.param(
            0, "t = threading.Thread(target=elsewhere); t.start(); t.join()", 3, id="other-thread-0"
        ),
        pytest.param(5, "elsewhere()", 5, id="main-thread-5"),
    ],
)
def test_os_exit_outside_a_call_fails_the_process_and_says_so(
    code: int, how: str, status: int
) -> None:
    script = _OUTSIDE.format(code=code, how=how)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == status
    assert f"pytest-ragft: os._exit({code}) was called at <string>:" in done.stderr
    assert "the run did not finish and nothing was written" in done.stderr
    assert "raise an exception instead" in done.stderr


def test_a_forked_child_exits_as_it_asks() -> None:
    script = (
        "import os\nfrom pytest_ragft.pipeline import Caller\n"
        "caller = Caller(lambda q: q, concurrency=1, timeout_s=1)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n    os._exit(0)\n"
        "_, status = os.waitpid(pid, 0)\nprint(os.waitstatus_to_exitcode(status))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "0" and done.stderr == ""


@pytest.mark.parametrize(
    ("expect", "own_contains", "inline"),
    [
        pytest.param({"contains": "x", "max_words": 5}, False, True, id="string-built-ins"),
        pytest.param({"contains": "x", "regex": "x+"}, False, False, id="regex-off-the-loop"),
        pytest.param({"json_schema": {"type": "object"}}, False, False, id="json-schema"),
        pytest.param({"contains": "x", "deepeval": {}}, False, False, id="deepeval"),
        pytest.param({"contains": "x"}, True, False, id="the-projects-own-contains"),
    ],
)
def test_only_string_built_in_checks_run_on_the_call_loop(
    expect: dict[str, Any], own_contains: bool, inline: bool
) -> None:
    """Checks that could take long (regex, json_schema, deepeval, a project's own check, even
    one named like a built-in) run off the loop that times the other calls out."""
    from pytest_ragft.checks import BUILTIN_CHECKS
    from pytest_ragft.model import Case
    from pytest_ragft.runner import Runner

    checks = dict(BUILTIN_CHECKS)
    if own_contains:
        checks["contains"] = lambda case, result, expected: True
    runner = Runner(
        lambda q: q,
        concurrency=1,
        timeout_s=1,
        repeats=1,
        min_pass_ratio=1.0,
        checks=checks,
        counterfactual=False,
    )
    try:
        case = Case(id="c1", kind="knowledge", input="q", expect=expect)
        assert runner._checks_inline(case) is inline
        evaluation = runner.submit(replace(case, expect={"contains": "q"})).result()
        assert evaluation.outcome == "passed"  # the answer "q" contains "q", either way
    finally:
        runner.close()


# --- submissions wait in an inbox: one wake-up of the call loop per batch ---------------------


def test_a_burst_of_submissions_wakes_the_busy_loop_once(monkeypatch: pytest.MonkeyPatch) -> None:
    caller = Caller(lambda q: q, concurrency=4, timeout_s=5)
    try:
        busy, release = threading.Event(), threading.Event()
        caller.loop.call_soon_threadsafe(lambda: (busy.set(), release.wait(5)))
        assert busy.wait(5)  # the loop runs a callback: it cannot take the inbox meanwhile
        wakes = []
        real = caller.loop.call_soon_threadsafe
        monkeypatch.setattr(
            caller.loop, "call_soon_threadsafe", lambda *a: (wakes.append(a), real(*a))[1]
        )

        async def double(n: int) -> int:
            return 2 * n

        futures = [caller.submit(double(n)) for n in range(10)]
        assert len(wakes) == 1
        release.set()
        assert [f.result(timeout=5) for f in futures] == [2 * n for n in range(10)]
        assert caller.submit(double(21)).result(timeout=5) == 42  # a later one wakes it again
        assert len(wakes) == 2
    finally:
        caller.close()


def test_a_submission_cancelled_in_the_inbox_never_runs_and_a_running_one_is_cancelled() -> None:
    caller = Caller(lambda q: q, concurrency=4, timeout_s=5)
    try:
        busy, release = threading.Event(), threading.Event()
        caller.loop.call_soon_threadsafe(lambda: (busy.set(), release.wait(5)))
        assert busy.wait(5)
        ran: list[str] = []
        started = threading.Event()

        async def note(name: str) -> str:
            ran.append(name)
            started.set()
            await asyncio.sleep(30)
            return name

        waiting = caller.submit(note("waiting"))
        assert waiting.cancel()
        release.set()
        running = caller.submit(note("running"))
        assert started.wait(5) and running.cancel()
        with pytest.raises(concurrent.futures.CancelledError):
            running.result(timeout=5)
        assert ran == ["running"]  # the one cancelled in the inbox was never started
    finally:
        caller.close()


def test_an_error_in_a_submitted_coroutine_reaches_its_future() -> None:
    caller = Caller(lambda q: q, concurrency=1, timeout_s=5)
    try:

        async def boom() -> None:
            raise ValueError("no")

        with pytest.raises(ValueError, match="no"):
            caller.submit(boom()).result(timeout=5)
    finally:
        caller.close()
