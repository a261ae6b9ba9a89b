"""The controller's side of a pytest run: gather case records from reports (also from xdist
workers), finish the run through ``finish``, set the exit status, print the ``ragft`` section.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from pytest_ragft.checks import check_names
from pytest_ragft.finish import Finished, assemble, finish, now, partial_reason, suite_cases
from pytest_ragft.model import CaseRecord
from pytest_ragft.worker import RECORD, VARIANT_RECORD, registry

if TYPE_CHECKING:
    from pytest_ragft.config import Settings
    from pytest_ragft.summarize import RunInputs


class RagftSession:
    """Registered on the controller only: collects records and finishes the run."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.records: list[CaseRecord] = []
        self.variant_records: dict[str, list[CaseRecord]] = {}
        self.non_eval_failed = 0
        self.started = time.time()
        self.started_at = now()
        self.run_id = uuid.uuid4().hex
        self.finished: Finished | None = None
        self.notes: list[str] = []  # said before the sinks ran: history, git

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # The record itself from a test of this process; its dict from an xdist worker.
        carried = [
            v if isinstance(v, CaseRecord) else CaseRecord.from_dict(v)
            for k, v in report.user_properties
            if k == RECORD and isinstance(v, CaseRecord | dict)
        ]
        self.records.extend(carried)
        for key, value in report.user_properties:
            if key == VARIANT_RECORD and isinstance(value, dict):
                name = str(value.get("variant"))
                self.variant_records.setdefault(name, []).append(CaseRecord.from_dict(value))
        if report.failed and not carried:
            self.non_eval_failed += 1

    @pytest.hookimpl
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.non_eval_failed += 1

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) or not self.records:
            return
        try:
            session.exitstatus = self.finish(session)
        except Exception as exc:  # the plugin's own crash must never look like a pass
            import traceback

            sys.stderr.write(
                "pytest-ragft: internal error while finishing the run:\n"
                + "".join(traceback.format_exception(exc))
            )
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR

    def finish(self, session: pytest.Session) -> int:
        """Finish the run and return the exit status: a failed gate or a lost output fails
        it; a run stopped early (-x, --maxfail) keeps pytest's own status."""
        stopped = bool(session.shouldfail or session.shouldstop)
        inputs, store = self._inputs(stopped)
        self.finished = finish(inputs, environ=os.environ, store=store, hook=self.config.hook)
        if self.finished.summary.gate.verdict == "fail" or self.finished.sunk.failed:
            return pytest.ExitCode.TESTS_FAILED
        return int(session.exitstatus) if stopped else pytest.ExitCode.OK

    def _inputs(self, stopped: bool) -> tuple[RunInputs, Any]:
        from pytest_ragft.finish import open_history
        from pytest_ragft.history.gitmeta import changed_files, git_metadata

        settings = self.settings
        environ = dict(os.environ)
        meta = git_metadata(settings.rootdir, environ, settings.baseline_branch)
        changed = changed_files(settings.rootdir, environ, settings.baseline_branch)
        cases = []
        if settings.history or settings.checklist.training_data:
            cases = suite_cases(settings, check_names(registry(self.config)))
        store = context = error = None
        if settings.history:
            store, context, error = open_history(settings, self.run_id, self.records)
            if error is not None and settings.gate.regression != "fail":  # else the gate says it
                self.notes.append(f"history store not used: {error}")
            if not meta.get("git", {}).get("branch"):
                self.notes.append(
                    "this run has no branch (not a git repository, and no CI branch variable): "
                    f"it never counts toward the baseline of {settings.baseline_branch!r}"
                )
        inputs = assemble(
            settings,
            self.records,
            cases,
            run_id=self.run_id,
            started_at=self.started_at,
            finished_at=now(),
            duration_s=round(time.time() - self.started, 3),
            meta=meta,
            history=context,
            changed_files=changed,
            non_eval_failed=self.non_eval_failed,
            history_error=error,
            partial=self._partial(cases, stopped),
            shard=self._shard(),
            variant_records=self.variant_records,
        )
        return inputs, store

    def _shard(self) -> dict[str, int] | None:
        from pytest_ragft.state import get_state

        state = get_state(self.config)
        return state.shard.to_dict() if state is not None and state.shard is not None else None

    def _partial(self, cases: list[Any], stopped: bool) -> str | None:
        """Why this run does not stand for the whole suite: one shard of it, stopped early, or
        cases not selected; None when it does."""
        shard = self._shard()
        if shard is not None and shard["count"] > 1:
            return (
                f"this is shard {shard['index']} of {shard['count']}: "
                "`ragft merge` the shards' JSON reports into one run"
            )
        ran = "ran (the others were not selected)"
        return partial_reason(cases, self.records, stopped=stopped, ran=ran)

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.finished is None:
            return
        from pytest_ragft.report.terminal import terminal_lines

        tr = terminalreporter
        tr.write_sep("=", "ragft")
        for line in terminal_lines(self.finished.summary):
            fail = line.startswith("gate: FAIL")
            tr.write_line(line, red=fail, green=line.startswith("gate: PASS"), bold=fail)
        for note in [*self.notes, *self.finished.sunk.notes]:
            tr.write_line(f"warning: {note}", yellow=True)
        if self.finished.sunk.written:
            tr.write_line("written: " + " · ".join(self.finished.sunk.written))
