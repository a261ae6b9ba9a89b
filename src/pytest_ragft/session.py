"""The controller's side of a run: gather case records from reports (also from xdist workers),
build the summary, store it, write the reports, post the comment, decide the exit status.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import pytest

from pytest_ragft import collect
from pytest_ragft.config import Settings, config_hash

if TYPE_CHECKING:
    from pytest_ragft.runner import Runner

RECORD = "ragft"


def registry(config: pytest.Config) -> dict[str, Any]:
    """Built-in checks plus those from ``pytest_ragft_checks`` (computed once per process)."""
    found = config.stash.get(collect.checks_key, None)
    if found is None:
        from pytest_ragft.checks import BUILTIN_CHECKS

        found = dict(BUILTIN_CHECKS)
        for extra in config.hook.pytest_ragft_checks():
            if extra:
                found.update(extra)
        config.stash[collect.checks_key] = found
    return found


def resolve_pipeline(config: pytest.Config, settings: Settings) -> Any:
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


def attach_record(item: pytest.Item, report: pytest.TestReport) -> None:
    """Put the item's case record on its report, where the controller (or xdist) finds it,
    and its kind, diagnosis and pass ratio on the item for JUnit XML."""
    from pytest_ragft import plugin

    if isinstance(item, collect.CaseItem):
        record = item.record(report)
    else:
        case = item.stash.get(plugin.case_key, None)
        if case is None:
            return
        from pytest_ragft.pycases import evaluation_for

        settings = item.config.stash[plugin.settings_key]
        evaluation = evaluation_for(item, case, report, settings.min_pass_ratio)
        if evaluation is None:
            return
        collect.apply_diagnose_hook(item.config, case, evaluation)
        record = evaluation.record
    if record is None:
        return
    report.user_properties.append((RECORD, record.to_dict()))
    item.user_properties.extend(
        [
            ("kind", record.kind),
            ("diagnosis", record.diagnosis or ""),
            ("pass_ratio", "" if record.pass_ratio is None else f"{record.pass_ratio:g}"),
        ]
    )


class RagftSession:
    """Registered on the controller only: collects records and finishes the run."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.records: list[dict[str, Any]] = []
        self.non_eval_failed = 0
        self.started = time.time()
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.run_id = uuid.uuid4().hex
        self.report: dict[str, Any] | None = None
        self.notes: list[str] = []
        self.written: list[str] = []
        self.history_error: str | None = None
        self.output_failed = False  # a report, the history or the run_finished hook failed
        self._rendered: tuple[tuple[str, str], str] | None = None

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        carried: list[dict[str, Any]] = [
            v for k, v in report.user_properties if k == RECORD and isinstance(v, dict)
        ]
        self.records.extend(carried)
        if report.failed and not carried:
            self.non_eval_failed += 1

    @pytest.hookimpl
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.non_eval_failed += 1

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            return
        if not self.records:
            return
        try:
            self._finish(session)
        except Exception as exc:  # the plugin's own crash must never look like a pass
            import traceback

            sys.stderr.write(
                "pytest-ragft: internal error while finishing the run:\n"
                + "".join(traceback.format_exception(exc))
            )
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR

    def _finish(self, session: pytest.Session) -> None:
        from pytest_ragft import __version__, suite, training
        from pytest_ragft.summary import build_report

        settings = self.settings
        environ = dict(os.environ)
        meta, changed = _git(settings, environ)
        cases = []
        if settings.history or settings.checklist.training_data:
            cases = suite.file_cases(settings, {*registry(self.config), "deepeval"})
        store, history_ctx = self._open_history() if settings.history else (None, None)
        inputs = training.eval_inputs(cases, self.records)
        audit = training.audit(settings.checklist.training_data, settings.rootdir, inputs)
        stopped = bool(session.shouldfail or session.shouldstop)
        partial = self._partial(stopped, cases)
        report = build_report(
            self.records,
            settings=settings,
            run_id=self.run_id,
            started_at=self.started_at,
            finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
            meta=meta,
            history=history_ctx,
            audit=audit,
            changed_files=changed,
            today=date.today(),
            non_eval_failed=self.non_eval_failed,
            plugin_version=__version__,
            config_hash=config_hash(settings),
            duration_s=round(time.time() - self.started, 3),
            history_error=self.history_error,
            partial=partial,
        )
        if settings.history and not meta.get("git", {}).get("branch"):
            self.notes.append(
                "this run has no branch (not a git repository, and no CI branch variable): "
                f"it never counts toward the baseline of {settings.baseline_branch!r}"
            )
        self.report = report
        # The comment goes first: a failing gate still gets it, and a required comment that
        # could not be posted fails the gate before anything records the verdict.
        self._post(report, environ)
        self._run_finished_hook(report)
        if store is not None:
            self._store(store, report, partial)
        self._write_reports(report, environ)
        if report["gate"]["verdict"] == "fail" or self.output_failed:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        elif not stopped:
            session.exitstatus = pytest.ExitCode.OK
        # else: stopped early (-x, --maxfail): pytest's own status stands.

    def _partial(self, stopped: bool, cases: list[Any]) -> str | None:
        """Why this run does not stand for the whole suite, or None when it does."""
        from pytest_ragft.suite import missing_cases

        if stopped:
            return "the run stopped early (-x or --maxfail)"
        missing = missing_cases(cases, {r["nodeid"] for r in self.records})
        if missing:
            ran = len(cases) - len(missing)
            return f"{ran} of {len(cases)} file cases ran (the others were not selected)"
        return None

    def _open_history(self) -> tuple[Any, Any]:
        from pytest_ragft.history.context import open_history

        opened = open_history(self.settings, self.run_id)
        if opened.error is not None:
            self.history_error = opened.error
            if self.settings.gate.regression != "fail":  # else the gate says it
                self.notes.append(f"history store not used: {opened.error}")
        return opened.store, opened.context

    def _store(self, store: Any, report: dict[str, Any], partial: str | None) -> None:
        try:
            if partial is not None:
                self.notes.append(f"not stored in history: {partial}; baselines compare whole runs")
                return
            store.write_run(report, store_outputs=self.settings.store_outputs)
            self.written.append(f"history {_rel_location(store.location, self.settings)}")
        except Exception as exc:
            self.notes.append(f"the run was not saved to history: {exc}")
            self.output_failed = True
        finally:
            store.close()

    def _run_finished_hook(self, report: dict[str, Any]) -> None:
        """A failing ``pytest_ragft_run_finished`` implementation is the user's bug: say where,
        fail the run, and still store the run and write the reports."""
        try:
            self.config.hook.pytest_ragft_run_finished(run=report)
        except Exception as exc:
            import traceback

            frame = traceback.extract_tb(exc.__traceback__)[-1]
            self.notes.append(
                f"pytest_ragft_run_finished raised {type(exc).__name__}: {exc} "
                f"(at {frame.filename}:{frame.lineno})"
            )
            self.output_failed = True

    def _markdown(self, report: dict[str, Any]) -> str:
        """The Markdown report, rendered once per gate verdict and shared by its three uses."""
        from pytest_ragft.report.markdown import render_markdown

        key = (report["gate"]["verdict"], report["gate"]["reason"])
        if self._rendered is None or self._rendered[0] != key:
            self._rendered = (key, render_markdown(report))
        return self._rendered[1]

    def _write_reports(self, report: dict[str, Any], environ: dict[str, str]) -> None:
        from pytest_ragft import github

        settings = self.settings
        outputs: list[tuple[str, Any, Any]] = [
            ("JSON", settings.report_path("json"), None),
            ("Markdown", settings.report_path("markdown"), self._markdown),
            ("HTML", settings.report_path("html"), _html),
        ]
        for name, path, render in outputs:
            if path is None:
                continue
            try:
                if render is None:
                    from pytest_ragft.report.jsonfile import write_json

                    write_json(report, path)
                else:
                    _write_text(path, render(report))
                self.written.append(f"{name} {_rel(path, settings)}")
            except OSError as exc:
                self.notes.append(f"{name} report not written to {path}: {exc.strerror or exc}")
                self.output_failed = True
        if "GITHUB_STEP_SUMMARY" in environ:
            try:
                if github.append_step_summary(self._markdown(report), environ):
                    self.written.append("job summary")
            except OSError as exc:
                self.notes.append(f"job summary not written: {exc}")

    def _post(self, report: dict[str, Any], environ: dict[str, str]) -> None:
        from pytest_ragft import github
        from pytest_ragft.summary import fail_gate

        mode = self.settings.report.github
        if mode == "never":
            return
        ctx = github.pr_context(environ)
        if ctx is None:
            missing = github.missing_context(environ)
            in_pr = bool(environ.get("RAGFT_PR")) or environ.get(
                "GITHUB_EVENT_NAME", ""
            ).startswith("pull_request")
            if mode == "always" or in_pr:
                self.notes.append("PR comment not posted: " + "; ".join(missing))
            if mode == "always":
                fail_gate(report, "the PR comment could not be posted (github = always)")
            return
        heads = any(e["action"] in ("fail", "comment") for e in report["gate"]["events"])
        try:
            result = github.upsert_comment(
                ctx,
                self._markdown(report),
                suite=report["suite"],
                create=mode != "events" or heads,
            )
            self.written.append(f"PR comment: {result.action}")
            if result.note:
                self.notes.append(result.note)
        except github.GitHubError as exc:
            self.notes.append(f"PR comment not posted: {exc}")
            if mode == "always":
                fail_gate(report, "the PR comment could not be posted (github = always)")

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.report is None:
            return
        from pytest_ragft.report.terminal import terminal_lines

        tr = terminalreporter
        tr.write_sep("=", "ragft")
        for line in terminal_lines(self.report):
            fail = line.startswith("gate: FAIL")
            tr.write_line(line, red=fail, green=line.startswith("gate: PASS"), bold=fail)
        for note in self.notes:
            tr.write_line(f"warning: {note}", yellow=True)
        if self.written:
            tr.write_line("written: " + " · ".join(self.written))


def _git(settings: Settings, environ: dict[str, str]) -> tuple[dict[str, Any], list[str] | None]:
    from pytest_ragft.history.gitmeta import changed_files, git_metadata

    meta = git_metadata(settings.rootdir, environ, settings.baseline_branch)
    return meta, changed_files(settings.rootdir, environ, settings.baseline_branch)


def _rel(path: Any, settings: Settings) -> str:
    try:
        return str(path.relative_to(settings.rootdir))
    except ValueError:
        return str(path)


def _write_text(path: Any, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _html(report: dict[str, Any]) -> str:
    from pytest_ragft.report.html import render_html

    return render_html(report)


def _rel_location(location: str, settings: Settings) -> str:
    """A store file inside the project as a relative path; a URL or outside path as it is."""
    from pathlib import Path

    if "://" in location:
        return location
    return _rel(Path(location), settings)
