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
        raise pytest.UsageError(f"[tool.ragft] {exc}") from None


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
    import importlib.util

    if importlib.util.find_spec("deepeval") is None:
        return None
    from pytest_ragft.deepeval_checks import JudgeError, make_checker

    try:
        return make_checker(settings.judge, settings.rootdir)
    except JudgeError as exc:
        raise pytest.UsageError(f"[tool.ragft] {exc}") from None


def attach_record(item: pytest.Item, report: pytest.TestReport) -> None:
    """Put the item's case record on its report, where the controller (or xdist) finds it,
    and its kind, diagnosis and pass ratio on the item for JUnit XML."""
    from pytest_ragft.model import CaseRecord

    record: CaseRecord | None = None
    if isinstance(item, collect.CaseItem):
        case = item.case
        if report.when == "call":
            if item.evaluation is not None:
                record = item.evaluation.record
            else:  # the runner itself failed: never let that look like a pass
                record = CaseRecord(
                    case.id,
                    f"{case.source}::{case.id}",
                    case.kind,
                    "error",
                    0.0,
                    tags=list(case.tags),
                    volatile=case.volatile,
                    source=case.source,
                    input=case.input_text,
                    messages=[_crash_message(report)],
                    static_diagnosis="error",
                    diagnosis="error",
                )
        elif report.when == "setup" and (report.skipped or report.failed):
            record = CaseRecord(
                case.id,
                f"{case.source}::{case.id}",
                case.kind,
                "skipped" if report.skipped else "error",
                None,
                tags=list(case.tags),
                volatile=case.volatile,
                source=case.source,
                input=case.input_text,
                skip_reason=case.skip or _crash_message(report),
            )
        if record is not None and hasattr(report, "wasxfail"):
            record.outcome, record.skip_reason = "skipped", f"xfail: {report.wasxfail}"
    else:
        from pytest_ragft import plugin
        from pytest_ragft.pycases import record_for

        py_case = item.stash.get(plugin.case_key, None)
        if py_case is None:
            return
        if report.when == "call" or (report.when == "setup" and not report.passed):
            settings = item.config.stash[plugin.settings_key]
            fixture = item.stash.get(plugin.fixture_key, None)
            repeat = int(
                (
                    getattr(item, "callspec", None)
                    and item.callspec.params.get(  # type: ignore[attr-defined]
                        "ragft_repeat", 1
                    )
                )
                or 1
            )
            record = record_for(py_case, report, fixture, repeat, settings.min_pass_ratio)
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


def _crash_message(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)
    return str(report.longrepr or "").strip().splitlines()[-1:][0] if report.longrepr else ""


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
        except pytest.UsageError:
            raise
        except Exception as exc:  # the plugin's own crash must never look like a pass
            import traceback

            sys.stderr.write(
                "pytest-ragft: internal error while finishing the run:\n"
                + "".join(traceback.format_exception(exc))
            )
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR

    def _finish(self, session: pytest.Session) -> None:
        from pytest_ragft import __version__, training
        from pytest_ragft.summary import HistoryContext, build_report

        settings = self.settings
        environ = dict(os.environ)
        meta, changed = _git(settings, environ)
        history_ctx: HistoryContext | None = None
        store = None
        if settings.history:
            store, history_ctx = self._open_history(meta)
        inputs = training.eval_inputs(settings, self.records, {*registry(self.config), "deepeval"})
        audit = training.audit(settings.checklist.training_data, settings.rootdir, inputs)
        now = datetime.now(UTC)
        report = build_report(
            self.records,
            settings=settings,
            run_id=self.run_id,
            started_at=self.started_at,
            finished_at=now.isoformat(timespec="seconds"),
            meta=meta,
            history=history_ctx,
            audit=audit,
            changed_files=changed,
            today=date.today(),
            non_eval_failed=self.non_eval_failed,
            plugin_version=__version__,
            config_hash=config_hash(settings),
            duration_s=round(time.time() - self.started, 3),
        )
        if self.history_error is not None and settings.gate.regression == "fail":
            gate = report["gate"]
            unusable = (
                "the regression gate could not be evaluated because the history store is "
                f"unusable: {self.history_error}"
            )
            was_failing = gate["verdict"] == "fail"
            gate["verdict"] = "fail"
            gate["reason"] = f"{gate['reason']}; {unusable}" if was_failing else unusable
            self.notes = [n for n in self.notes if not n.startswith("history store not used")]
        self.report = report
        self.config.hook.pytest_ragft_run_finished(run=report)
        if store is not None:
            try:
                store.write_run(report, store_outputs=settings.store_outputs)
                self.written.append(f"history {_rel_location(store.location, settings)}")
            except Exception as exc:
                self._history_failed(report, exc)
            finally:
                store.close()
        self._write_reports(report)
        self._post(report, environ)
        if report["gate"]["verdict"] == "fail":
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        else:
            session.exitstatus = pytest.ExitCode.OK

    def _open_history(self, meta: dict[str, Any]) -> tuple[Any, Any]:
        from pytest_ragft.history.context import open_history

        opened = open_history(self.settings, self.run_id)
        if opened.error is not None:
            self.notes.append(f"history store not used: {opened.error}")
            self.history_error = opened.error
        return opened.store, opened.context

    def _history_failed(self, report: dict[str, Any], exc: Exception) -> None:
        self.notes.append(f"the run was not saved to history: {exc}")

    def _write_reports(self, report: dict[str, Any]) -> None:
        settings = self.settings
        json_path = settings.report_path("json")
        if json_path is not None:
            from pytest_ragft.report.jsonfile import write_json

            write_json(report, json_path)
            self.written.append(f"JSON {_rel(json_path, settings)}")
        md_path = settings.report_path("markdown")
        if md_path is not None:
            from pytest_ragft.report.markdown import render_markdown

            _write_text(md_path, render_markdown(report))
            self.written.append(f"Markdown {_rel(md_path, settings)}")
        html_path = settings.report_path("html")
        if html_path is not None:
            from pytest_ragft.report.html import render_html

            _write_text(html_path, render_html(report))
            self.written.append(f"HTML {_rel(html_path, settings)}")

    def _post(self, report: dict[str, Any], environ: dict[str, str]) -> None:
        from pytest_ragft import github
        from pytest_ragft.report.markdown import render_markdown

        mode = self.settings.report.github
        body: str | None = None
        if "GITHUB_STEP_SUMMARY" in environ:
            body = render_markdown(report)
            try:
                if github.append_step_summary(body, environ):
                    self.written.append("job summary")
            except OSError as exc:
                self.notes.append(f"job summary not written: {exc}")
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
                report["gate"]["verdict"] = "fail"
                report["gate"]["reason"] += "; the PR comment could not be posted (github = always)"
            return
        heads = any(e["action"] in ("fail", "comment") for e in report["gate"]["events"])
        try:
            result = github.upsert_comment(
                ctx,
                body or render_markdown(report),
                suite=report["suite"],
                create=mode != "events" or heads,
            )
            self.written.append(f"PR comment: {result.action}")
        except github.GitHubError as exc:
            self.notes.append(f"PR comment not posted: {exc}")
            if mode == "always":
                report["gate"]["verdict"] = "fail"
                report["gate"]["reason"] += "; the PR comment could not be posted (github = always)"

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


def _mask(target: str) -> str:
    """A history URL without its password, fit to print."""
    import re

    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", target)


def _rel_location(location: str, settings: Settings) -> str:
    """A store file inside the project as a relative path; a URL or outside path as it is."""
    from pathlib import Path

    if "://" in location:
        return location
    return _rel(Path(location), settings)
