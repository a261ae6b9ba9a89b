"""``os._exit`` while pipeline calls are in flight: never a silent end that CI reads as a pass.

``os._exit`` skips every ``finally``, atexit handler and pytest hook, so a pipeline calling it
would end the run with whatever status it passed (0 looks like a pass) and nothing written.
While a ``Caller`` is open the function is replaced: in a thread that runs pipeline code it
raises ``ProcessExit`` instead (the call becomes that case's error and the run goes on);
anywhere else in this process it says what happened on stderr and ends the process with a
failing status. A forked child (multiprocessing) exits as it asked: it is not the run.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
from typing import Any, NoReturn

FAILED_STATUS = 3  # pytest's "internal error": the run did not finish


class ProcessExit(BaseException):
    """``os._exit(code)`` called from pipeline code; a BaseException so that the pipeline's
    own ``except Exception`` cannot swallow it."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class ExitGuard:
    """Counts the open callers; installs the replacement on the first, restores on the last."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._pid = os.getpid()
        self._real: Any = None
        self._local = threading.local()

    def acquire(self) -> None:
        with self._lock:
            self._users += 1
            if self._users == 1:
                self._pid = os.getpid()
                self._real = os._exit
                os._exit = self._exit

    def release(self) -> None:
        with self._lock:
            if self._users == 0:
                return
            self._users -= 1
            if self._users == 0 and self._real is not None:
                os._exit = self._real
                self._real = None

    @property
    def active(self) -> bool:
        return self._users > 0

    def mark_call_thread(self) -> None:
        """The current thread runs pipeline code: ``os._exit`` there raises ``ProcessExit``."""
        self._local.in_call = True

    def _exit(self, status: int) -> NoReturn:
        code = status
        real: Any = self._real
        if real is None:  # restored meanwhile by another thread
            _hard_exit(code)
        if os.getpid() != self._pid:  # a forked child: it is not the run
            real(code)
        if getattr(self._local, "in_call", False):
            raise ProcessExit(code)
        final = code if code else FAILED_STATUS
        sys.stderr.write(exit_message(code, final, traceback.extract_stack()[:-1]))
        sys.stderr.flush()
        real(final)
        raise AssertionError("unreachable")  # pragma: no cover


def exit_message(code: int, status: int, stack: list[traceback.FrameSummary]) -> str:
    """What the user reads when the process ends under the run: who called, and what now."""
    where = ""
    for frame in reversed(stack):
        if "pytest_ragft" not in frame.filename:
            where = f" at {frame.filename}:{frame.lineno} in {frame.name}"
            break
    return (
        f"\npytest-ragft: os._exit({code}) was called{where} while pipeline calls were in "
        f"flight; the run did not finish and nothing was written: exit status {status}. "
        "Let the pipeline raise an exception instead, so the run records it as a case error.\n"
    )


def _hard_exit(code: int) -> NoReturn:
    os.__dict__["_exit"](code)  # whatever os._exit is now
    raise AssertionError("unreachable")  # pragma: no cover


exit_guard = ExitGuard()
