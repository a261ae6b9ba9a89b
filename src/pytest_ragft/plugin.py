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

if TYPE_CHECKING:
    from pytest_ragft.config import CaseSource, Settings
    from pytest_ragft.model import Case
    from pytest_ragft.pycases import Ragft
    from pytest_ragft.runner import Runner
    from pytest_ragft.session import RagftSession

settings_key: pytest.StashKey[Settings] = pytest.StashKey()
sources_key: pytest.StashKey[dict[Path, CaseSource]] = pytest.StashKey()
session_key: pytest.StashKey[RagftSession] = pytest.StashKey()
fixture_key: pytest.StashKey[Ragft] = pytest.StashKey()
case_key: pytest.StashKey[Case] = pytest.StashKey()
marker_error_key: pytest.StashKey[str] = pytest.StashKey()
queue_key: pytest.StashKey[Any] = pytest.StashKey()


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_ragft import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ragft", "pytest-ragft: LLM eval gate")
    group.addoption(
        "--ragft",
        action="store_true",
        dest="ragft",
        default=False,
        help="activate pytest-ragft even without [tool.ragft] in pyproject.toml",
    )
    group.addoption(
        "--ragft-pipeline",
        dest="ragft_pipeline",
        metavar="MODULE:CALLABLE",
        help="the pipeline to evaluate (pipeline)",
    )
    group.addoption(
        "--ragft-repeats",
        dest="ragft_repeats",
        type=int,
        metavar="N",
        help="runs of each case (repeats)",
    )
    group.addoption(
        "--ragft-concurrency",
        dest="ragft_concurrency",
        type=int,
        metavar="N",
        help="pipeline calls in flight at once (concurrency)",
    )
    group.addoption(
        "--ragft-history",
        dest="ragft_history",
        metavar="PATH_OR_URL",
        help="history store: a path or a SQLAlchemy URL (history)",
    )
    group.addoption(
        "--ragft-no-history",
        dest="ragft_no_history",
        action="store_true",
        default=None,
        help="do not read or write the history store",
    )
    group.addoption(
        "--ragft-baseline-branch",
        dest="ragft_baseline_branch",
        metavar="BRANCH",
        help="branch whose runs form the baseline (baseline_branch)",
    )
    group.addoption(
        "--ragft-strict",
        dest="ragft_strict",
        action="store_true",
        default=None,
        help="any failed eval case fails the run (gate.case_failures = strict)",
    )
    group.addoption(
        "--ragft-report-dir",
        dest="ragft_report_dir",
        metavar="DIR",
        help="directory for the Markdown, JSON and HTML reports",
    )
    group.addoption(
        "--ragft-github",
        dest="ragft_github",
        choices=("auto", "events", "always", "never"),
        help="post the sticky PR comment (report.github)",
    )


CLI_DESTS = (
    "ragft_pipeline",
    "ragft_repeats",
    "ragft_concurrency",
    "ragft_history",
    "ragft_no_history",
    "ragft_baseline_branch",
    "ragft_strict",
    "ragft_report_dir",
    "ragft_github",
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "ragft(kind, facts=(), tags=(), volatile=False, repeats=None, min_pass_ratio=None): "
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
    config.stash[settings_key] = settings

    from pytest_ragft.cases import expand_sources

    found = expand_sources(settings.cases, config.rootpath)
    config.stash[sources_key] = {path.resolve(): source for path, source in found}
    _warn_unmatched(config, settings, [source for _, source in found])
    _add_case_files_to_args(config, [path for path, _ in found])
    if not hasattr(config, "workerinput"):
        from pytest_ragft.session import RagftSession

        session = RagftSession(config, settings)
        config.stash[session_key] = session
        config.pluginmanager.register(session, "ragft-session")


def _warn_unmatched(config: pytest.Config, settings: Settings, matched: list[CaseSource]) -> None:
    """A ``cases`` entry that matches no file would drop its evals without a word."""
    from pytest_ragft.config import DEFAULT_CASE_GLOBS

    if hasattr(config, "workerinput"):
        return
    defaults = tuple(s.pattern for s in settings.cases) == tuple(DEFAULT_CASE_GLOBS)
    if defaults:
        return  # no `cases` set: a project of Python cases only is fine
    for source in settings.cases:
        if source not in matched:
            config.issue_config_time_warning(
                pytest.PytestConfigWarning(
                    f"[tool.ragft] cases entry {source.pattern!r} matches no file under "
                    f"{config.rootpath}: its cases are not run"
                ),
                stacklevel=2,
            )


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
    session = config.stash.get(session_key, None)
    if session is not None:
        config.pluginmanager.unregister(session)
        del config.stash[session_key]
    if settings_key in config.stash:
        from pytest_ragft import collect

        runner = config.stash.get(collect.runner_key, None)
        if runner is not None:
            runner.close()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    sources = parent.config.stash.get(sources_key, None)
    if not sources:
        return None
    source = sources.get(file_path.resolve())
    if source is None:
        return None
    from pytest_ragft import collect

    node = collect.CaseFile.from_parent(parent, path=file_path)
    node.source = source
    return node


def pytest_itemcollected(item: pytest.Item) -> None:
    """A ``@pytest.mark.ragft(kind=...)`` test carries its kind's marker, so ``-m`` selects it."""
    if settings_key not in item.config.stash:
        return
    from pytest_ragft import collect
    from pytest_ragft.pycases import MarkerError, marker_case

    if isinstance(item, collect.CaseItem):
        return
    try:
        case = marker_case(item)
    except MarkerError as exc:
        item.stash[marker_error_key] = str(exc)
        return
    if case is not None:
        item.add_marker(case.kind)
        item.stash[case_key] = case


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A bad ``@pytest.mark.ragft`` is that test's own error, the same with or without xdist."""
    error = item.stash.get(marker_error_key, None)
    if error is not None:
        pytest.fail(error, pytrace=False)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``@pytest.mark.ragft(repeats=N)`` runs the test N times, as ``[r1]``..``[rN]``."""
    marker = metafunc.definition.get_closest_marker("ragft")
    if marker is None or "ragft_repeat" not in metafunc.fixturenames:
        return
    settings = metafunc.config.stash.get(settings_key, None)
    repeats = marker.kwargs.get("repeats")
    if repeats is None:
        repeats = settings.repeats if settings else 1
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


def get_runner(config: pytest.Config) -> Runner:
    """The process's runner, built on first use (resolving the pipeline then)."""
    from pytest_ragft import collect

    runner = config.stash.get(collect.runner_key, None)
    if runner is None:
        from pytest_ragft.session import build_runner

        runner = build_runner(config, config.stash[settings_key])
        config.stash[collect.runner_key] = runner
    return runner


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Under xdist, a pipeline that cannot be resolved stops the run once, on the controller,
    instead of crashing every worker that reaches an eval case."""
    config = session.config
    settings = config.stash.get(settings_key, None)
    if (
        settings is None
        or not settings.pipeline
        or hasattr(config, "workerinput")
        or not config.pluginmanager.hasplugin("dsession")
        or config.hook.pytest_ragft_pipeline.get_hookimpls()
    ):
        return
    from pytest_ragft.session import resolve_pipeline

    resolve_pipeline(config, settings)


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    config = session.config
    # pytest's own loop runs nothing in these cases: neither should the pipeline be called.
    skipped = config.option.collectonly or (
        session.testsfailed and not config.option.continue_on_collection_errors
    )
    if (
        settings_key in config.stash
        and not skipped
        and not config.pluginmanager.hasplugin("dsession")
    ):
        from pytest_ragft import collect

        items = [i for i in session.items if isinstance(i, collect.CaseItem)]
        if items or any(case_key in i.stash for i in session.items):
            runner = get_runner(config)
            if not hasattr(config, "workerinput"):
                for item in items:
                    if not item.case.skip:
                        runner.submit(item.case)
    return (yield)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Under xdist, issue the calls of the items queued for this worker ahead of them."""
    config = item.config
    if not hasattr(config, "workerinput") or settings_key not in config.stash:
        return
    from pytest_ragft import collect

    runner = config.stash.get(collect.runner_key, None)
    if runner is None:
        return
    items = item.session.items
    for index in _worker_queue(config):
        if 0 <= index < len(items):
            queued = items[index]
            if isinstance(queued, collect.CaseItem) and not queued.case.skip:
                runner.submit(queued.case)
    if isinstance(item, collect.CaseItem) and not item.case.skip:
        runner.submit(item.case)


def _worker_queue(config: pytest.Config) -> list[int]:
    """The indices xdist has queued for this worker (its queue is found once and kept)."""
    if queue_key not in config.stash:
        found = (getattr(p, "torun", None) for p in config.pluginmanager.get_plugins())
        config.stash[queue_key] = next((q for q in found if hasattr(q, "lock")), None)
    queue = config.stash[queue_key]
    if queue is None:
        return []
    try:
        with queue.lock() as pending:
            return [i for i in pending if isinstance(i, int)]
    except Exception:  # a private structure: prefetch is best effort
        return []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if settings_key in item.config.stash:
        from pytest_ragft.session import attach_record

        attach_record(item, report)
    return report


@pytest.fixture
def ragft_repeat(request: pytest.FixtureRequest) -> int:
    """The repeat number of a ``@pytest.mark.ragft(repeats=N)`` test (1 without repeats)."""
    return int(getattr(request, "param", 1))


@pytest.fixture
def ragft(request: pytest.FixtureRequest, ragft_repeat: int) -> Any:
    """Call the pipeline from a test: ``ragft.ask(input, **vars)`` returns a Result."""
    from pytest_ragft.pycases import Ragft

    config = request.config
    case = request.node.stash.get(case_key, None)
    runner = get_runner(config) if settings_key in config.stash else None
    fixture = Ragft(runner, case)
    request.node.stash[fixture_key] = fixture
    return fixture
