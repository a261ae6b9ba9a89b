"""The controller's finish of a run: assemble its inputs, make its summary, then hand the
summary to each sink (PR comment, ``run_finished`` hook, history, reports, job summary) and
decide the exit status.

Shared by the pytest session and ``ragft merge``. Each sink returns what it wrote or why it
could not, so the finish reads as the short sequence it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_ragft.config import Settings, config_hash
from pytest_ragft.summarize import RunInputs, summarize

if TYPE_CHECKING:
    from pytest_ragft.history.store import HistoryStore
    from pytest_ragft.model import Case, CaseRecord
    from pytest_ragft.runsummary import RunSummary
    from pytest_ragft.summarize import HistoryContext


@dataclass
class Sunk:
    """What a sink wrote, what the user should be told, and whether the run must fail for it."""

    written: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failed: bool = False

    def add(self, other: Sunk) -> None:
        self.written += other.written
        self.notes += other.notes
        self.failed = self.failed or other.failed


@dataclass(frozen=True)
class Finished:
    """A finished run: its summary (verdict final), and what the sinks did."""

    summary: RunSummary
    sunk: Sunk


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def suite_cases(settings: Settings, check_names: set[str]) -> list[Case]:
    """Every file case of the suite, for the partial-run check and the contamination count."""
    from pytest_ragft import suite

    return suite.file_cases(settings, check_names)


def partial_reason(
    cases: Sequence[Case], records: Sequence[CaseRecord], *, stopped: bool, ran: str
) -> str | None:
    """Why this run does not stand for the whole suite, or None when it does."""
    from pytest_ragft.suite import missing_cases

    if stopped:
        return "the run stopped early (-x or --maxfail)"
    missing = missing_cases(cases, {r.nodeid for r in records})
    if missing:
        return f"{len(cases) - len(missing)} of {len(cases)} file cases {ran}"
    return None


def assemble(
    settings: Settings,
    records: Sequence[CaseRecord],
    cases: Sequence[Case],
    **given: Any,
) -> RunInputs:
    """A run's inputs: the records, the suite's cases, the training audit, and what the caller
    knows (``run_id``, ``started_at``, ``meta``, ``history``, ``partial``...)."""
    from pytest_ragft import __version__, training

    inputs = training.eval_inputs(cases, records)
    audit = training.audit(settings.checklist.training_data, settings.rootdir, inputs)
    git_contents, git_spanning = _git_signal(settings, records)
    return RunInputs(
        git_contents=git_contents,
        git_spanning=git_spanning,
        records=tuple(records),
        settings=settings,
        plugin_version=__version__,
        config_hash=config_hash(settings),
        today=date.today(),
        audit=audit,
        **given,
    )


def _git_signal(
    settings: Settings, records: Sequence[CaseRecord]
) -> tuple[dict[str, set[str]], set[str]]:
    """The evidence of the failures' signal in the git history of their case files."""
    from pytest_ragft.checklist import add_months
    from pytest_ragft.checks import BUILTIN_CHECKS, check_names
    from pytest_ragft.history.casefile_history import case_digests

    since = add_months(date.today(), -settings.checklist.horizon_months)
    return case_digests(settings.rootdir, records, since, check_names(BUILTIN_CHECKS))


def open_history(
    settings: Settings, run_id: str, records: Sequence[CaseRecord] = ()
) -> tuple[HistoryStore | None, HistoryContext | None, str | None]:
    """The store, what it knows for this run (with the evidence of its failures' signal), and
    why it could not be used."""
    from pytest_ragft.history.context import open_history as open_

    failing = sorted({r.id for r in records if r.outcome in ("failed", "error")})
    opened = open_(settings, run_id, failing)
    return opened.store, opened.context, opened.error


def finish(
    inputs: RunInputs,
    *,
    environ: Mapping[str, str],
    store: HistoryStore | None,
    hook: Any = None,
) -> Finished:
    """Summarise, post the comment, call the hook, store the run and write the reports."""
    from pytest_ragft.report.markdown import render_markdown

    summary = summarize(inputs)
    markdown = render_markdown(summary)
    sunk = Sunk()
    posted, comment_error = post_comment(summary, markdown, inputs.settings, environ)
    sunk.add(posted)
    if comment_error is not None:  # a required comment is an input to the gate
        summary = summarize(replace(inputs, comment_error=comment_error))
        markdown = render_markdown(summary)
    if hook is not None:
        sunk.add(run_finished_hook(hook, summary))
    if store is not None:
        sunk.add(store_run(store, summary, inputs.settings, inputs.variant_records))
    sunk.add(write_reports(summary, markdown, inputs.settings, environ))
    return Finished(summary, sunk)


def post_comment(
    summary: RunSummary, markdown: str, settings: Settings, environ: Mapping[str, str]
) -> tuple[Sunk, str | None]:
    """The sticky PR comment (or GitLab merge-request note); with ``github = "always"``, a post
    that failed is returned as a reason for the gate to fail."""
    from pytest_ragft.comment import post_report

    heads = any(e.action in ("fail", "comment") for e in summary.gate.events)
    outcome = post_report(
        settings,
        environ,
        markdown,
        summary.suite,
        create=settings.report.github != "events" or heads,
    )
    written = [outcome.written] if outcome.written else []
    return Sunk(written, list(outcome.notes)), outcome.failure


def run_finished_hook(hook: Any, summary: RunSummary) -> Sunk:
    """A failing ``pytest_ragft_run_finished`` implementation is the user's bug: say where,
    fail the run, and still store the run and write the reports."""
    caller = hook.pytest_ragft_run_finished
    if hasattr(caller, "get_hookimpls") and not caller.get_hookimpls():
        return Sunk()  # nobody listens: the run's JSON is not built for nothing
    try:
        caller(run=summary.to_json())
    except Exception as exc:
        import traceback

        frame = traceback.extract_tb(exc.__traceback__)[-1]
        note = (
            f"pytest_ragft_run_finished raised {type(exc).__name__}: {exc} "
            f"(at {frame.filename}:{frame.lineno})"
        )
        return Sunk(notes=[note], failed=True)
    return Sunk()


def store_run(
    store: HistoryStore,
    summary: RunSummary,
    settings: Settings,
    variant_records: Mapping[str, Sequence[CaseRecord]] | None = None,
) -> Sunk:
    """One history run for a whole run, its variants' results with it; a partial one is left
    out of the baselines."""
    try:
        if summary.partial is not None:
            note = f"not stored in history: {summary.partial}; baselines compare whole runs"
            return Sunk(notes=[note])
        variants = {n: [r.to_dict() for r in rs] for n, rs in (variant_records or {}).items()}
        extra = {"variants": variants} if variants else {}
        store.write_run(summary.to_json(), store_outputs=settings.store_outputs, **extra)
        return Sunk([f"history {relative_location(store.location, settings)}"])
    except Exception as exc:
        return Sunk(notes=[f"the run was not stored in history: {exc}"], failed=True)
    finally:
        store.close()


def write_reports(
    summary: RunSummary, markdown: str, settings: Settings, environ: Mapping[str, str]
) -> Sunk:
    """The configured JSON, Markdown and HTML reports, then the job summary."""
    from pytest_ragft.report.html import render_html
    from pytest_ragft.report.jsonfile import write_json

    sunk = Sunk()
    outputs: tuple[tuple[str, Path | None, Callable[[Path], None]], ...] = (
        ("JSON", settings.report_path("json"), lambda path: write_json(summary.to_json(), path)),
        ("Markdown", settings.report_path("markdown"), lambda path: write_text(path, markdown)),
        (
            "HTML",
            settings.report_path("html"),
            lambda path: write_text(path, render_html(summary)),
        ),
    )
    for name, path, write in outputs:
        if path is None:
            continue
        try:
            write(path)
            sunk.written.append(f"{name} {relative(path, settings)}")
        except OSError as exc:
            sunk.notes.append(f"{name} report not written to {path}: {exc.strerror or exc}")
            sunk.failed = True
    sunk.add(step_summary(markdown, environ))
    return sunk


def step_summary(markdown: str, environ: Mapping[str, str]) -> Sunk:
    from pytest_ragft import github

    if "GITHUB_STEP_SUMMARY" not in environ:
        return Sunk()
    try:
        return Sunk(["job summary"] if github.append_step_summary(markdown, environ) else [])
    except OSError as exc:
        return Sunk(notes=[f"job summary not written: {exc}"])


def write_text(path: Path, text: str) -> None:
    """Write a temporary file and rename it: readers never see half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def relative(path: Path, settings: Settings) -> str:
    try:
        return str(path.relative_to(settings.rootdir))
    except ValueError:
        return str(path)


def relative_location(location: str, settings: Settings) -> str:
    """A store file inside the project as a relative path; a URL or outside path as it is."""
    if "://" in location:
        return location
    return relative(Path(location), settings)
