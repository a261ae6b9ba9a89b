"""Resolve the pipeline, call it sync or async with a time-out, normalise what it returns.

Calls run on one asyncio event loop in a daemon thread: async pipelines as tasks, sync ones
each in a daemon thread that runs no other call meanwhile (kept for a later call once done), so
a call stuck past its time-out gives its concurrency slot back at once and can never keep the
interpreter from exiting.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import importlib
import inspect
import itertools
import math
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pytest_ragft.exitguard import ProcessExit, exit_guard
from pytest_ragft.model import CallError, Result

T = TypeVar("T")
CLOSE_S = 5.0  # the longest closing the call loop may take (cancelled calls, then the thread)


class PipelineUsageError(Exception):
    """The pipeline setting names something that cannot be imported or called."""


def resolve(ref: str, rootdir: Path, *, what: str = "pipeline") -> Callable[..., Any]:
    """Import ``module:callable`` (dotted attributes allowed), trying the rootdir on sys.path."""
    module_name, sep, attr_path = ref.partition(":")
    if not sep or not module_name or not attr_path:
        raise PipelineUsageError(
            f"{what} {ref!r} is not of the form 'module:callable' "
            f'(e.g. {what} = "my_package.module:function" in [tool.ragft])'
        )
    try:
        module = _import(module_name, rootdir)
    except ModuleNotFoundError as exc:
        raise PipelineUsageError(
            f"{what} {ref!r}: module {exc.name!r} cannot be imported ({exc}); "
            f"check the module path, or add its folder to `pythonpath` in [tool.pytest.ini_options]"
        ) from None
    except Exception as exc:
        where = _user_frame(exc)
        raise PipelineUsageError(
            f"{what} {ref!r}: importing module {module_name!r} raised "
            f"{type(exc).__name__}: {exc}{where}"
        ) from None
    target: Any = module
    for part in attr_path.split("."):
        if not hasattr(target, part):
            raise PipelineUsageError(
                f"{what} {ref!r}: module {module_name!r} has no attribute {attr_path!r}"
            )
        target = getattr(target, part)
    if not callable(target):
        raise PipelineUsageError(f"{what} {ref!r} is a {type(target).__name__}, not a callable")
    return target  # type: ignore[no-any-return]


def _import(module_name: str, rootdir: Path) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        top = module_name.split(".")[0]
        if exc.name != top or str(rootdir) in sys.path:
            raise
    sys.path.insert(0, str(rootdir))
    return importlib.import_module(module_name)


def _user_frame(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""


def accepts_contexts(fn: Callable[..., Any]) -> bool:
    """True when the pipeline takes a ``contexts`` keyword (counterfactual re-runs need it)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.name == "contexts" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) for p in params
    )


MAX_ANSWER_CHARS = 1_000_000
"""Characters of an answer kept; the rest is cut (with a note in ``metadata``) before any
check, report or store sees it."""
MAX_ITEMS = 1_000
"""Contexts or sources kept; an endless iterator is read this far and no further."""
MAX_ITEM_CHARS = 100_000
"""Characters of one context or source kept."""
MAX_METADATA = 200
"""Keys of ``metadata`` (and items of each list in it) kept."""
_METADATA_DEPTH = 4
_SAFE_INT = 2**63 - 1


def normalize(value: Any, latency_s: float = 0.0) -> Result | CallError:
    """A str, a mapping or an object with ``answer`` becomes a bounded, encodable Result;
    anything else, and anything that raises while it is read, a case error.

    Every value is bounded here, before anything else sees it: text cut to its limit, lone
    surrogates and NUL replaced with U+FFFD (no report, store or terminal can take them),
    lists cut (an endless iterator is read only up to ``MAX_ITEMS``), ``metadata`` made
    JSON-safe."""
    try:
        return _normalize(value, latency_s)
    except (RecursionError, MemoryError):
        return CallError("type", "the pipeline returned a value too large to read", latency_s)
    except Exception as exc:
        what = "reading the value the pipeline returned"
        return CallError(
            "exception", f"{what} raised {_one_line(exc)}{_user_frame(exc)}", latency_s
        )


def _normalize(value: Any, latency_s: float) -> Result | CallError:
    notes: dict[str, Any] = {}
    if isinstance(value, Result):
        get: Callable[[str], Any] = lambda name: getattr(value, name)  # noqa: E731
    elif isinstance(value, str):
        text = _text(value, MAX_ANSWER_CHARS, notes, "answer")
        meta = {"ragft_truncated": notes} if notes else {}
        return Result(answer=text, metadata=meta, latency_s=latency_s)
    elif isinstance(value, Mapping):
        if "answer" not in value:
            keys = ", ".join(_text(repr(k), 40, {}, "") for k in itertools.islice(value, 8))
            return CallError(
                "type",
                f"the pipeline returned a mapping without an 'answer' key (keys: {keys or 'none'})",
                latency_s,
            )
        get = value.get
    elif _has_answer(value):
        get = lambda name: getattr(value, name, None)  # noqa: E731
    else:
        return CallError(
            "type",
            f"the pipeline returned {type(value).__name__}; expected a str, or a mapping or "
            "object with 'answer' (str) and optional 'contexts', 'sources', 'metadata'",
            latency_s,
        )
    answer = get("answer")
    if not isinstance(answer, str):
        return CallError(
            "type", f"the pipeline's 'answer' is {type(answer).__name__}, not str", latency_s
        )
    contexts = _strings(get("contexts"), "contexts", notes)
    sources = _strings(get("sources"), "sources", notes)
    for bad in (contexts, sources):
        if isinstance(bad, CallError):
            return CallError("type", bad.message, latency_s)
    metadata = get("metadata") or {}
    if not isinstance(metadata, Mapping):
        return CallError(
            "type",
            f"the pipeline's 'metadata' is {type(metadata).__name__}, not a mapping",
            latency_s,
        )
    text = _text(answer, MAX_ANSWER_CHARS, notes, "answer")
    meta = _json_safe(metadata, _METADATA_DEPTH)
    if notes:
        meta = {**meta, "ragft_truncated": notes}
    assert isinstance(contexts, tuple) and isinstance(sources, tuple)
    return Result(text, contexts, sources, meta, latency_s)


def _has_answer(value: Any) -> bool:
    """``hasattr`` that lets an ``answer`` property's own error through to be reported."""
    try:
        getattr(value, "answer")  # noqa: B009
    except AttributeError:
        return False
    return True


def _text(value: str, limit: int, notes: dict[str, Any], name: str) -> str:
    """A plain ``str`` (not a subclass) of at most ``limit`` characters that encodes as UTF-8."""
    size = str.__len__(value)
    text = str.__getitem__(value, slice(0, limit))
    if size > limit and name:
        notes[name] = f"{size} characters, cut to {limit}"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates; a pair written as two code points is joined
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text.replace("\x00", "\ufffd")


def _strings(value: Any, name: str, notes: dict[str, Any]) -> tuple[str, ...] | CallError:
    if value is None:
        return ()
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        return CallError(
            "type", f"the pipeline's {name!r} is {type(value).__name__}, not a list of str"
        )
    items = list(itertools.islice(value, MAX_ITEMS + 1))
    if len(items) > MAX_ITEMS:
        items = items[:MAX_ITEMS]
        notes[name] = f"more than {MAX_ITEMS} items, cut to {MAX_ITEMS}"
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, str):
            return CallError(
                "type", f"the pipeline's {name}[{i}] is {type(item).__name__}, not str"
            )
        out.append(_text(item, MAX_ITEM_CHARS, notes, f"{name}[{i}]"))
    return tuple(out)


def _json_safe(value: Any, depth: int) -> Any:
    """``metadata`` as JSON can hold it: str keys, finite numbers, ints a database column
    holds, bounded text and lists; anything else by its (bounded) ``repr``."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value) if -_SAFE_INT <= value <= _SAFE_INT else str(value)[:40]
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return _text(value, MAX_ITEM_CHARS, {}, "")
    if depth > 0 and isinstance(value, Mapping):
        pairs = itertools.islice(value.items(), MAX_METADATA)
        return {_text(str(k), 200, {}, ""): _json_safe(v, depth - 1) for k, v in pairs}
    if depth > 0 and isinstance(value, list | tuple):
        return [_json_safe(v, depth - 1) for v in value[:MAX_METADATA]]
    return _text(repr(value), 200, {}, "")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


class Caller:
    """Issues pipeline calls on a background event loop, at most ``concurrency`` at once.

    The loop that times calls out never runs pipeline code: sync calls each get a daemon
    thread, async ones run on a loop of their own (one, so clients bound to a loop keep
    working). An async pipeline that blocks its loop (``time.sleep`` inside ``async def``)
    is still timed out, said to block, and later calls go to a fresh loop.
    """

    def __init__(self, fn: Callable[..., Any], *, concurrency: int, timeout_s: float) -> None:
        self.fn = fn
        self.timeout_s = timeout_s
        self.is_async = _is_async(fn)
        self.loop = asyncio.new_event_loop()
        self._semaphore: asyncio.Semaphore | None = None
        self._concurrency = concurrency
        self._pipeline_loop: PipelineLoop | None = None
        self._closing = False
        self._threads = CallThreads()
        self._inbox_lock = threading.Lock()
        self._inbox: list[Callable[[], None]] = []
        self._woken = False  # the loop will take the inbox: no other wake-up is needed
        self._thread = threading.Thread(target=self._run_loop, name="ragft-calls", daemon=True)
        self._thread.start()
        exit_guard.acquire()

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()  # its self-pipe sockets, else left for the garbage collector

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule a coroutine on the call loop; the future is safe to wait on from any thread."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        try:
            self._post(functools.partial(self._start, coro, future))
        except RuntimeError:  # the loop is closed: nothing will run
            coro.close()
            raise
        return future

    def _post(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the call loop, soon. Posts wait in an inbox that the loop takes
        whole, and the loop is woken only when it has not been woken for the inbox already: a
        wake-up is a write to the loop's pipe, and one per call and per answer
        (``call_soon_threadsafe``, ``asyncio.run_coroutine_threadsafe``) made the threads wait
        on each other thousands of times in a large suite."""
        with self._inbox_lock:
            self._inbox.append(callback)
            wake, self._woken = not self._woken, True
        if wake:
            try:
                self.loop.call_soon_threadsafe(self._take_inbox)
            except RuntimeError:  # the loop is closed: nothing posted will run
                with self._inbox_lock:
                    self._inbox.clear()
                    self._woken = False
                raise

    def _take_inbox(self) -> None:
        """On the loop: run every posted callback, in order."""
        with self._inbox_lock:
            taken, self._inbox, self._woken = self._inbox, [], False
        for callback in taken:
            callback()

    def _start(
        self, coro: Coroutine[Any, Any, Any], future: concurrent.futures.Future[Any]
    ) -> None:
        """On the loop: start a submitted coroutine, unless its future was cancelled."""
        if future.cancelled():
            coro.close()
            return
        task = self.loop.create_task(coro)
        task.add_done_callback(functools.partial(_to_future, future))
        future.add_done_callback(functools.partial(_cancel_task, self.loop, task))

    async def call(
        self, input: Any, vars: Mapping[str, Any], fn: Callable[..., Any] | None = None
    ) -> Result | CallError:
        """One pipeline call within a concurrency slot, its time-out and error handling;
        ``fn`` calls another pipeline (a variant) through the same slots."""
        fn = fn or self.fn
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self._concurrency)
        async with self._semaphore:
            start = time.perf_counter()
            used = (
                self._current_loop()
                if (self.is_async if fn is self.fn else _is_async(fn))
                else None
            )
            try:
                value = await asyncio.wait_for(self._invoke(fn, input, vars, used), self.timeout_s)
            except TimeoutError:
                message = f"the pipeline did not answer within timeout_s = {self.timeout_s:g} s"
                if used is not None and used.blocked(used.threshold(self.timeout_s)):
                    message += BLOCKED_LOOP
                    self._retire(used)
                return CallError("timeout", message, time.perf_counter() - start)
            except _Exited as exc:
                return CallError("exception", _describe(exc.original), time.perf_counter() - start)
            except Exception as exc:
                return CallError("exception", _describe(exc), time.perf_counter() - start)
            return normalize(value, time.perf_counter() - start)

    def _current_loop(self) -> PipelineLoop:
        """The loop async calls run on; one found blocking is replaced before it is used."""
        loop = self._pipeline_loop
        if loop is not None and loop.blocked(loop.BLOCKED_AFTER_S):
            self._retire(loop)
            loop = None
        if loop is None:
            loop = self._pipeline_loop = PipelineLoop()
        return loop

    def _retire(self, loop: PipelineLoop) -> None:
        if self._pipeline_loop is loop:
            self._pipeline_loop = None
        loop.stop()

    async def _invoke(
        self, fn: Callable[..., Any], input: Any, vars: Mapping[str, Any], used: PipelineLoop | None
    ) -> Any:
        try:
            if used is not None:
                return await used.run(fn(input, **vars))
            value = await self._in_thread(fn, input, vars)
            if inspect.isawaitable(value):  # a sync wrapper that returns a coroutine
                return await self._current_loop().run(value)
            return value
        except (SystemExit, KeyboardInterrupt, ProcessExit) as exc:
            # Raised out of a task, these would stop the event loop and every call with it.
            raise _Exited(exc) from exc

    async def _in_thread(self, fn: Callable[..., Any], input: Any, vars: Mapping[str, Any]) -> Any:
        future: asyncio.Future[Any] = self.loop.create_future()

        def reply(value: Any, exc: BaseException | None) -> None:
            try:
                self._post(functools.partial(_settle, future, value, exc))
            except RuntimeError:  # the loop closed at the end of the run: nobody waits
                pass

        def target() -> Callable[[], None]:
            try:
                value = fn(input, **vars)
            except BaseException as exc:
                failed = _Exited(exc) if not isinstance(exc, Exception) else exc
                return lambda: reply(None, failed)
            return lambda: reply(value, None)

        self._threads.run(target)
        return await future

    def close(self) -> None:
        """Cancel what is still on the loop, then stop it. A call waiting for its slot is never
        made, an async one is cancelled; a sync one runs out in its daemon thread, unread."""
        if self._closing:
            return
        self._closing = True
        if self._pipeline_loop is not None:
            self._pipeline_loop.stop()
            self._pipeline_loop = None
        try:
            self._stop_loop()
        finally:
            self._threads.close()
            exit_guard.release()

    def _stop_loop(self) -> None:
        try:
            cancelled = asyncio.run_coroutine_threadsafe(self._cancel_all(), self.loop)
        except RuntimeError:  # the loop is closed already
            return
        try:
            cancelled.result(timeout=2 * CLOSE_S)
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            pass  # a pipeline that ignores its cancellation: stop the loop anyway
        try:
            self.loop.call_soon_threadsafe(self.loop.stop)
        except RuntimeError:  # closed meanwhile
            return
        self._thread.join(timeout=CLOSE_S)

    async def _cancel_all(self) -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=CLOSE_S)


def _to_future(future: concurrent.futures.Future[Any], task: asyncio.Task[Any]) -> None:
    """A finished task's outcome onto the future a thread waits on, unless that was cancelled;
    a cancelled task cancels the future, as ``asyncio.run_coroutine_threadsafe`` does."""
    if task.cancelled():
        future.cancel()
    if not future.set_running_or_notify_cancel():
        return
    if (exc := task.exception()) is not None:
        future.set_exception(exc)
    else:
        future.set_result(task.result())


def _cancel_task(
    loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any], future: concurrent.futures.Future[Any]
) -> None:
    """A future cancelled by its waiter cancels its task on the loop."""
    if future.cancelled():
        try:
            loop.call_soon_threadsafe(task.cancel)
        except RuntimeError:  # the loop is closed: the task is gone with it
            pass


class CallThreads:
    """The daemon threads sync pipeline calls run in, each kept for a later call once its call
    is done: starting a thread per call costs more than an instant pipeline's answer. A call
    stuck past its time-out keeps its thread to itself; the next call gets another one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[queue.SimpleQueue[Callable[[], Callable[[], None]] | None]] = []
        self._closed = False

    def run(self, job: Callable[[], Callable[[], None]]) -> None:
        """Run ``job`` in an idle call thread, or in a new one when none is idle; what it
        returns is called once the thread is idle again (the answer, sent to the loop)."""
        with self._lock:
            inbox = self._idle.pop() if self._idle else None
        if inbox is None:
            inbox = queue.SimpleQueue()
            thread = threading.Thread(target=self._serve, args=(inbox,), name="ragft-call")
            thread.daemon = True
            thread.start()
        inbox.put(job)

    def _serve(self, inbox: queue.SimpleQueue[Callable[[], Callable[[], None]] | None]) -> None:
        exit_guard.mark_call_thread()
        while (job := inbox.get()) is not None:
            answer = job()
            with self._lock:
                closed = self._closed
                if not closed:
                    self._idle.append(inbox)
            answer()
            if closed:
                return

    def close(self) -> None:
        """Idle threads end now, busy ones when their call returns."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for inbox in idle:
            inbox.put(None)


BLOCKED_LOOP = (
    ", and it blocked its event loop meanwhile (a blocking call such as time.sleep or a "
    "sync HTTP client inside async def?): await asyncio.sleep or an async client instead, or "
    "make the pipeline a plain def; later calls run on a fresh loop"
)


class PipelineLoop:
    """An event loop in a daemon thread that runs async pipeline calls, with a heartbeat
    that tells a loop busy awaiting from one blocked by a call that never yields."""

    BEAT_S = 0.1
    BLOCKED_AFTER_S = 1.0

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.last_beat = time.monotonic()
        thread = threading.Thread(target=self._run, name="ragft-async-pipeline", daemon=True)
        thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        exit_guard.mark_call_thread()
        self.loop.call_soon(self._beat)
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    def _beat(self) -> None:
        self.last_beat = time.monotonic()
        self.loop.call_later(self.BEAT_S, self._beat)

    def threshold(self, timeout_s: float) -> float:
        """How long without a heartbeat means blocked, for a call that timed out after
        ``timeout_s``: half of it, within a few beats and ``BLOCKED_AFTER_S``."""
        return max(3 * self.BEAT_S, min(self.BLOCKED_AFTER_S, timeout_s / 2))

    def blocked(self, after_s: float) -> bool:
        """Whether the loop has not run its heartbeat for ``after_s`` seconds."""
        return time.monotonic() - self.last_beat > after_s

    async def run(self, awaitable: Any) -> Any:
        """``awaitable`` on this loop, awaited from the caller's loop (a time-out there
        cancels it here; one that never started is closed, not left unawaited)."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        tasks: list[asyncio.Task[Any]] = []

        def start() -> None:
            if future.set_running_or_notify_cancel():
                task = self.loop.create_task(_shielded(awaitable))
                task.add_done_callback(lambda t: _copy_outcome(t, future))
                tasks.append(task)

        try:
            self.loop.call_soon_threadsafe(start)
        except RuntimeError:  # the loop was stopped meanwhile
            _close(awaitable)
            raise
        try:
            return await asyncio.wrap_future(future)
        finally:
            if future.cancel():  # never started: it never will
                _close(awaitable)
            elif not future.done() and tasks:  # timed out while running: stop it there
                self._cancel(tasks[0])

    def _cancel(self, task: asyncio.Task[Any]) -> None:
        try:
            self.loop.call_soon_threadsafe(task.cancel)
        except RuntimeError:  # already closed
            pass

    def stop(self) -> None:
        """Cancel what still runs here and stop, once the loop gets to it."""
        try:
            self.loop.call_soon_threadsafe(self._shutdown)
        except RuntimeError:  # already closed
            pass

    def _shutdown(self) -> None:
        for task in asyncio.all_tasks(self.loop):
            task.cancel()
        self.loop.call_soon(self.loop.stop)


def _copy_outcome(task: asyncio.Task[Any], future: concurrent.futures.Future[Any]) -> None:
    if future.done():
        return
    if task.cancelled():
        future.cancel()
    elif task.exception() is not None:
        future.set_exception(task.exception())
    else:
        future.set_result(task.result())


def _close(awaitable: Any) -> None:
    close = getattr(awaitable, "close", None)
    if callable(close):
        close()


async def _shielded(awaitable: Any) -> Any:
    try:
        return await awaitable
    except (SystemExit, KeyboardInterrupt, ProcessExit) as exc:
        raise _Exited(exc) from exc


class _Exited(Exception):
    """A pipeline that raised SystemExit or KeyboardInterrupt, or called ``os._exit``,
    carried as an ordinary error."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(repr(original))
        self.original = original


def _settle(future: asyncio.Future[Any], value: Any, exc: BaseException | None) -> None:
    if future.done():  # timed out and cancelled already
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(value)


def _describe(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    for frame in reversed(frames):
        if "pytest_ragft" not in frame.filename and "asyncio" not in frame.filename:
            where = f" (at {frame.filename}:{frame.lineno} in {frame.name})"
            break
    if isinstance(exc, ProcessExit):
        return (
            f"the pipeline called os._exit({exc.code}){where}, which would have ended the "
            "whole run with nothing written; it was stopped and counted as this case's error"
        )
    return f"the pipeline raised {type(exc).__name__}: {exc}{where}"


def _is_async(fn: Callable[..., Any]) -> bool:
    """An ``async def`` function, or an object whose ``__call__`` is one."""
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004
    )
