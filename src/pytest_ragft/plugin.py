"""The ``pytest11`` entry point: module-level hooks that hand work to the modules below.

Inert unless the rootdir's pyproject.toml has ``[tool.ragft]`` or ``--ragft`` is given: then
nothing is printed, written or imported beyond this module, hookspecs and config.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_ragft.state import RagftState, get_state, item_key, item_state, state_key

# During an eval run, the collections of the middle generation between two full ones (10 in
# CPython): see _space_full_collections.
FULL_COLLECTION_SPACING = 50

if TYPE_CHECKING:
    from pytest_ragft.model import Case
    from pytest_ragft.worker import Window


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_ragft import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


# (flag, dest, how, help): the options that mirror the common [tool.ragft] keys.
_OPTIONS: tuple[tuple[str, str, dict[str, Any], str], ...] = (
    (
        "--ragft-pipeline",
        "ragft_pipeline",
        {"metavar": "MODULE:CALLABLE"},
        "the pipeline to evaluate (pipeline)",
    ),
    (
        "--ragft-repeats",
        "ragft_repeats",
        {"type": int, "metavar": "N"},
        "runs of each case (repeats)",
    ),
    (
        "--ragft-concurrency",
        "ragft_concurrency",
        {"type": int, "metavar": "N"},
        "pipeline calls in flight at once (concurrency)",
    ),
    (
        "--ragft-history",
        "ragft_history",
        {"metavar": "PATH_OR_URL"},
        "history store: a path or a SQLAlchemy URL (history)",
    ),
    (
        "--ragft-no-history",
        "ragft_no_history",
        {"action": "store_true", "default": None},
        "do not read or write the history store",
    ),
    (
        "--ragft-baseline-branch",
        "ragft_baseline_branch",
        {"metavar": "BRANCH"},
        "branch whose runs form the baseline (baseline_branch)",
    ),
    (
        "--ragft-strict",
        "ragft_strict",
        {"action": "store_true", "default": None},
        "any failed eval case fails the run (gate.case_failures = strict)",
    ),
    (
        "--ragft-rejudge",
        "ragft_rejudge",
        {"action": "store_true", "default": None},
        "judge deepeval metrics afresh, not from the judge cache (rejudge)",
    ),
    (
        "--ragft-report-dir",
        "ragft_report_dir",
        {"metavar": "DIR"},
        "directory for the Markdown, JSON and HTML reports",
    ),
    (
        "--ragft-github",
        "ragft_github",
        {"choices": ("auto", "events", "always", "never")},
        "post the sticky PR comment (report.github)",
    ),
    (
        "--ragft-variant",
        "ragft_variant",
        {"action": "append", "metavar": "NAME"},
        "also run this [tool.ragft.variants] pipeline and compare it (repeatable)",
    ),
    (
        "--ragft-variants",
        "ragft_variants",
        {"metavar": "A,B"},
        "also run these variants, comma-separated ('all': every configured one)",
    ),
)
CLI_DESTS = tuple(dest for _, dest, _, _ in _OPTIONS)

# The run loop's window of calls issued ahead (worker.Window), for the length of one loop.


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ragft", "pytest-ragft: LLM eval gate")
    group.addoption(
        "--ragft",
        action="store_true",
        dest="ragft",
        default=False,
        help="activate pytest-ragft even without [tool.ragft] in pyproject.toml",
    )
    for flag, dest, how, text in _OPTIONS:
        group.addoption(flag, dest=dest, help=text, **how)
    group.addoption(
        "--ragft-shard",
        dest="ragft_shard",
        metavar="K/N",
        help="run shard K of N of the eval cases, split by case id (other tests run in "
        "shard 1); merge the shards' JSON reports with `ragft merge` (also RAGFT_SHARD)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "ragft(kind, facts=(), tags=(), volatile=None, repeats=None, min_pass_ratio=None): "
        "an eval case written in Python",
    )
    config.addinivalue_line("markers", "knowledge: an eval case of the knowledge category")
    config.addinivalue_line("markers", "behavior: an eval case of the behavior category")
    if not config.option.ragft and not _mentions_ragft(config.rootpath):
        return
    from pytest_ragft.config import load_settings, read_pyproject

    pyproject, table = read_pyproject(config.rootpath)
    if table is None and not config.option.ragft:
        return
    cli = {dest: config.getoption(dest, None) for dest in CLI_DESTS}
    settings = load_settings(config.rootpath, table, cli, os.environ, pyproject)

    from pytest_ragft.cases import expand_sources

    found = expand_sources(settings.cases, config.rootpath)
    state = RagftState(settings, {path.resolve(): source for path, source in found})
    state.shard = _shard(config)
    config.stash[state_key] = state
    if not hasattr(config, "workerinput"):
        from pytest_ragft.config import require_matches

        require_matches(settings, [source for _, source in found])
    _add_case_files_to_args(config, [path for path, _ in found])
    if not hasattr(config, "workerinput"):
        from pytest_ragft.session import RagftSession

        state.session = RagftSession(config, settings)
        config.pluginmanager.register(state.session, "ragft-session")


def _shard(config: pytest.Config) -> Any:
    """The shard this job runs (``--ragft-shard`` over ``RAGFT_SHARD``), or None for all."""
    from pytest_ragft.shard import parse_shard

    given = config.getoption("ragft_shard", None)
    if given:
        return parse_shard(given, "--ragft-shard")
    from_env = os.environ.get("RAGFT_SHARD", "").strip()
    return parse_shard(from_env, "RAGFT_SHARD") if from_env else None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep this job's shard of the eval cases (after ``-k`` / ``-m`` have deselected)."""
    state = get_state(config)
    if state is None or state.shard is None:
        return
    from pytest_ragft import collect
    from pytest_ragft.shard import split

    def key_of(item: pytest.Item) -> tuple[str | None, int]:
        if isinstance(item, collect.CaseItem):
            return item.case.id, item.case.repeats or state.settings.repeats
        found = item.stash.get(item_key, None)
        return (found.case.id, 1) if found is not None and found.case is not None else (None, 1)

    kept, dropped = split(items, state.shard, key_of)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def _mentions_ragft(rootdir: Path) -> bool:
    """A byte search before any TOML parsing or import, so an unconfigured run pays nothing."""
    try:
        return b"ragft" in (rootdir / "pyproject.toml").read_bytes()
    except OSError:
        return False


def _add_case_files_to_args(config: pytest.Config, files: list[Path]) -> None:
    """Case files outside ``testpaths`` are still part of a plain ``pytest`` run."""
    if config.args_source != pytest.Config.ArgsSource.TESTPATHS:
        return
    roots = [Path(config.invocation_params.dir, a.split("::")[0]).resolve() for a in config.args]
    for path in files:
        resolved = path.resolve()
        if not any(resolved == r or r in resolved.parents for r in roots):
            config.args.append(str(resolved))


def pytest_unconfigure(config: pytest.Config) -> None:
    state = get_state(config)
    if state is None:
        return
    if state.session is not None:
        config.pluginmanager.unregister(state.session)
    if state.runner is not None:
        state.runner.close()
    del config.stash[state_key]
    if state.gc_thresholds is not None:
        import gc

        found, ours = state.gc_thresholds
        if gc.get_threshold() == ours:
            gc.set_threshold(*found)
    _skip_the_last_collections()


def _space_full_collections(config: pytest.Config) -> None:
    """Make the garbage collector's full collections rarer until the run ends: each one walks
    every object alive (modules, items, cases, records), and at thousands of cases their
    walks cost more than what they collect. Its third threshold, the collections of the
    middle generation between two full ones, goes from 10 to ``FULL_COLLECTION_SPACING``; an
    explicit ``gc.collect()`` still collects everything, so a test that counts on one sees no
    change.
    ``pytest_unconfigure`` puts back the setting found, unless something changed it since."""
    import gc

    state = get_state(config)
    if state is None or state.gc_thresholds is not None or not gc.isenabled():
        return
    found = gc.get_threshold()
    if found[2] >= FULL_COLLECTION_SPACING:
        return
    gc.set_threshold(found[0], found[1], FULL_COLLECTION_SPACING)
    state.gc_thresholds = (found, gc.get_threshold())


_exit_freeze_registered = False


def _skip_the_last_collections() -> None:
    """At the interpreter's exit, move what is left to the collector's permanent generation.

    An eval run leaves about twice the objects of plain tests alive to the end (a record per
    case besides pytest's own reports), and the collections of interpreter shutdown walk them
    all again: a second or more at thousands of cases. Freezing them at exit skips those walks;
    nothing else changes (CPython does not promise finalizers of objects alive at exit, and
    exit handlers run as before). Registered once per process, so in-process runs add none.
    """
    global _exit_freeze_registered
    if _exit_freeze_registered:
        return
    import atexit
    import gc

    atexit.register(gc.freeze)
    _exit_freeze_registered = True


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    state = get_state(parent.config)
    if state is None or not state.sources:
        return None
    source = state.sources.get(file_path.resolve())
    if source is None:
        return None
    from pytest_ragft import collect

    node = collect.CaseFile.from_parent(parent, path=file_path)
    node.source = source
    return node


def pytest_itemcollected(item: pytest.Item) -> None:
    """A ``@pytest.mark.ragft(kind=...)`` test carries its kind's marker, so ``-m`` selects it."""
    if get_state(item.config) is None:
        return
    from pytest_ragft import collect
    from pytest_ragft.pycases import MarkerError, marker_case

    if isinstance(item, collect.CaseItem):
        return
    try:
        case = marker_case(item)
    except MarkerError as exc:
        item_state(item).marker_error = str(exc)
        return
    if case is not None:
        item.add_marker(case.kind)
        item_state(item).case = case


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A bad ``@pytest.mark.ragft`` is that test's own error, the same with or without xdist."""
    found = item.stash.get(item_key, None)
    if found is not None and found.marker_error is not None:
        pytest.fail(found.marker_error, pytrace=False)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``@pytest.mark.ragft(repeats=N)`` runs the test N times, as ``[r1]``..``[rN]``."""
    marker = metafunc.definition.get_closest_marker("ragft")
    if marker is None or "ragft_repeat" not in metafunc.fixturenames:
        return
    state = get_state(metafunc.config)
    repeats = marker.kwargs.get("repeats")
    if repeats is None:
        repeats = state.settings.repeats if state else 1
    if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1:
        pytest.fail(
            f"{metafunc.definition.nodeid}: @pytest.mark.ragft(repeats=...) must be a whole "
            f"number >= 1, got {repeats!r}",
            pytrace=False,
        )
    if repeats > 1:
        metafunc.parametrize(
            "ragft_repeat",
            range(1, repeats + 1),
            ids=[f"r{n}" for n in range(1, repeats + 1)],
            indirect=True,
        )


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Under xdist, a pipeline that cannot be resolved stops the run once, on the controller,
    instead of crashing every worker that reaches an eval case."""
    config = session.config
    state = get_state(config)
    if (
        state is None
        or not state.settings.pipeline
        or hasattr(config, "workerinput")
        or not config.pluginmanager.hasplugin("dsession")
        or config.hook.pytest_ragft_pipeline.get_hookimpls()
    ):
        return
    from pytest_ragft.worker import resolve_pipeline

    resolve_pipeline(config, state.settings)


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    _space_full_collections(session.config)
    window = _start_window(session)
    try:
        return (yield)
    finally:
        if window is not None:
            window.close()
            state = get_state(session.config)
            if state is not None:
                state.window = None


def _start_window(session: pytest.Session) -> Window | None:
    """The window of calls issued ahead, in a process that runs tests (not xdist's controller)."""
    config = session.config
    state = get_state(config)
    # pytest's own loop runs nothing in these cases: neither should the pipeline be called.
    skipped = config.option.collectonly or (
        session.testsfailed and not config.option.continue_on_collection_errors
    )
    if state is None or skipped:
        return None
    from pytest_ragft.worker import Window, get_runner, prefetch_mode, prefetch_notice, work_unit

    mode = prefetch_mode(config)
    if config.pluginmanager.hasplugin("dsession"):
        _say_once(config, prefetch_notice(config, mode))
        return None
    cases = [_ahead_case(item) for item in session.items]
    if not any(cases) and not any(_is_python_case(i) for i in session.items):
        return None
    runner = get_runner(config)
    if not any(cases):
        return None
    units = [work_unit(mode, item.nodeid) for item in session.items]
    concurrency = state.settings.concurrency
    window = Window(runner, session.items, cases, units, concurrency, ramp=mode == "runs")
    state.window = window
    return window


def _ahead_case(item: pytest.Item) -> Case | None:
    """The case of an eval test whose calls may be issued ahead: not one marked to skip."""
    from pytest_ragft import collect

    if isinstance(item, collect.CaseItem) and item.get_closest_marker("skip") is None:
        return item.case
    return None


def _say_once(config: pytest.Config, line: str | None) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if line is not None and reporter is not None:
        reporter.write_line(line)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist's controller tells each worker how far ahead it may issue calls."""
    from pytest_ragft.worker import PREFETCH, prefetch_mode

    if get_state(node.config) is not None:
        node.workerinput[PREFETCH] = prefetch_mode(node.config)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Issue the calls of this test and of the next ones this process runs, ahead of them."""
    state = get_state(item.config)
    if state is not None and state.window is not None:
        state.window.advance(item, nextitem)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    state = get_state(item.config)
    if state is not None:
        _attach_record(item, report, state)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_report_to_serializable(
    config: pytest.Config, report: pytest.CollectReport | pytest.TestReport
) -> Generator[None, dict[str, Any] | None, dict[str, Any] | None]:
    """A case record travels as its dict: the serialized report is JSON, and is not the
    report itself (``_to_json`` copies the report's attributes, not its lists)."""
    data = yield
    if data is not None and isinstance(report, pytest.TestReport):
        from pytest_ragft.model import CaseRecord

        properties = data.get("user_properties")
        if properties and any(isinstance(v, CaseRecord) for _, v in properties):
            data["user_properties"] = [
                (k, v.to_dict() if isinstance(v, CaseRecord) else v) for k, v in properties
            ]
    return data


def _attach_record(item: pytest.Item, report: pytest.TestReport, state: RagftState) -> None:
    """Put the item's case record on its report, where the controller (or xdist) finds it,
    and its kind, diagnosis and pass ratio on the item for JUnit XML."""
    from pytest_ragft import collect
    from pytest_ragft.pycases import record_for
    from pytest_ragft.worker import RECORD

    if isinstance(item, collect.CaseItem):
        record = item.record(report)
    else:
        case = item_state(item).case if _is_python_case(item) else None
        if case is None:
            return
        record = record_for(item, case, report, state.settings.min_pass_ratio)
    if record is None:
        return
    # The record itself while the report stays in this process; its dict once the report is
    # serialized (for xdist's controller, a report log): see pytest_report_to_serializable.
    report.user_properties.append((RECORD, record))
    if report.when == "call" and isinstance(item, collect.CaseItem):
        from pytest_ragft.worker import VARIANT_RECORD

        for name, variant in item.variant_records.items():
            report.user_properties.append((VARIANT_RECORD, {"variant": name, **variant.to_dict()}))
    item.user_properties.extend(
        [
            ("kind", record.kind),
            ("diagnosis", record.diagnosis or ""),
            ("pass_ratio", "" if record.pass_ratio is None else f"{record.pass_ratio:g}"),
        ]
    )


def _is_python_case(item: pytest.Item) -> bool:
    found = item.stash.get(item_key, None)
    return found is not None and found.case is not None


@pytest.fixture
def ragft_repeat(request: pytest.FixtureRequest) -> int:
    """The repeat number of a ``@pytest.mark.ragft(repeats=N)`` test (1 without repeats)."""
    return int(getattr(request, "param", 1))


@pytest.fixture
def ragft(request: pytest.FixtureRequest, ragft_repeat: int) -> Any:
    """Call the pipeline from a test: ``ragft.ask(input, **vars)`` returns a Result."""
    from pytest_ragft.pycases import Ragft
    from pytest_ragft.worker import get_runner

    config = request.config
    state = item_state(request.node)
    runner = get_runner(config) if get_state(config) is not None else None
    state.fixture = Ragft(runner, state.case)
    return state.fixture
