"""Resolve the pipeline, call it sync or async with a time-out, normalise what it returns.

Calls run on one asyncio event loop in a daemon thread: async pipelines as tasks, sync ones
each in a daemon thread of their own, so a call stuck past its time-out gives its concurrency
slot back at once and can never keep the interpreter from exiting.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import inspect
import sys
import threading
import time
import traceback
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any, TypeVar

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


def normalize(value: Any, latency_s: float = 0.0) -> Result | CallError:
    """A str, a mapping or an object with ``answer`` becomes a Result; anything else an error."""
    if isinstance(value, Result):
        return Result(value.answer, value.contexts, value.sources, value.metadata, latency_s)
    if isinstance(value, str):
        return Result(answer=value, latency_s=latency_s)
    if isinstance(value, Mapping):
        get: Callable[[str], Any] = value.get
        if "answer" not in value:
            return CallError(
                "type",
                f"the pipeline returned a mapping without an 'answer' key "
                f"(keys: {', '.join(map(repr, list(value)[:8])) or 'none'})",
                latency_s,
            )
    elif hasattr(value, "answer"):

        def get(name: str) -> Any:
            return getattr(value, name, None)

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
    contexts = _strings(get("contexts"), "contexts")
    sources = _strings(get("sources"), "sources")
    if isinstance(contexts, CallError) or isinstance(sources, CallError):
        bad = contexts if isinstance(contexts, CallError) else sources
        assert isinstance(bad, CallError)
        return CallError("type", bad.message, latency_s)
    metadata = get("metadata") or {}
    if not isinstance(metadata, Mapping):
        return CallError(
            "type",
            f"the pipeline's 'metadata' is {type(metadata).__name__}, not a mapping",
            latency_s,
        )
    return Result(answer, contexts, sources, dict(metadata), latency_s)


def _strings(value: Any, name: str) -> tuple[str, ...] | CallError:
    if value is None:
        return ()
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        return CallError(
            "type", f"the pipeline's {name!r} is {type(value).__name__}, not a list of str"
        )
    items = list(value)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            return CallError(
                "type", f"the pipeline's {name}[{i}] is {type(item).__name__}, not str"
            )
    return tuple(items)


class Caller:
    """Issues pipeline calls on a background event loop, at most ``concurrency`` at once."""

    def __init__(self, fn: Callable[..., Any], *, concurrency: int, timeout_s: float) -> None:
        self.fn = fn
        self.timeout_s = timeout_s
        self.is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004
        )
        self.loop = asyncio.new_event_loop()
        self._semaphore: asyncio.Semaphore | None = None
        self._concurrency = concurrency
        self._closing = False
        self._thread = threading.Thread(target=self._run_loop, name="ragft-calls", daemon=True)
        self._thread.start()

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()  # its self-pipe sockets, else left for the garbage collector

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule a coroutine on the call loop; the future is safe to wait on from any thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def call(self, input: Any, vars: Mapping[str, Any]) -> Result | CallError:
        """One pipeline call within a concurrency slot, its time-out and error handling."""
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self._concurrency)
        async with self._semaphore:
            start = time.perf_counter()
            try:
                value = await asyncio.wait_for(self._invoke(input, vars), self.timeout_s)
            except TimeoutError:
                return CallError(
                    "timeout",
                    f"the pipeline did not answer within timeout_s = {self.timeout_s:g} s",
                    time.perf_counter() - start,
                )
            except _Exited as exc:
                return CallError("exception", _describe(exc.original), time.perf_counter() - start)
            except Exception as exc:
                return CallError("exception", _describe(exc), time.perf_counter() - start)
            return normalize(value, time.perf_counter() - start)

    async def _invoke(self, input: Any, vars: Mapping[str, Any]) -> Any:
        try:
            return await self._invoke_unguarded(input, vars)
        except (SystemExit, KeyboardInterrupt) as exc:
            # Raised out of a task, these would stop the event loop and every call with it.
            raise _Exited(exc) from exc

    async def _invoke_unguarded(self, input: Any, vars: Mapping[str, Any]) -> Any:
        if self.is_async:
            return await self.fn(input, **vars)
        future: asyncio.Future[Any] = self.loop.create_future()

        def reply(value: Any, exc: BaseException | None) -> None:
            try:
                self.loop.call_soon_threadsafe(_settle, future, value, exc)
            except RuntimeError:  # the loop closed at the end of the run: nobody waits
                pass

        def target() -> None:
            try:
                value = self.fn(input, **vars)
            except BaseException as exc:
                reply(None, exc)
            else:
                reply(value, None)

        threading.Thread(target=target, name="ragft-call", daemon=True).start()
        value = await future
        if inspect.isawaitable(value):  # a sync wrapper that returns a coroutine
            return await value
        return value

    def close(self) -> None:
        """Cancel what is still on the loop, then stop it. A call waiting for its slot is never
        made, an async one is cancelled; a sync one runs out in its daemon thread, unread."""
        if self._closing:
            return
        self._closing = True
        try:
            cancelled = asyncio.run_coroutine_threadsafe(self._cancel_all(), self.loop)
        except RuntimeError:  # the loop is closed already
            return
        try:
            cancelled.result(timeout=2 * CLOSE_S)
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            pass  # a pipeline that ignores its cancellation: stop the loop anyway
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=CLOSE_S)

    async def _cancel_all(self) -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=CLOSE_S)


class _Exited(Exception):
    """A pipeline that raised SystemExit or KeyboardInterrupt, carried as an ordinary error."""

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
    return f"the pipeline raised {type(exc).__name__}: {exc}{where}"
