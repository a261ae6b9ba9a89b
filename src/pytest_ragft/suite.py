"""Every file case of the suite, read on the controller (which collects nothing under xdist):
to tell a whole run from a partial one, and for the training-data contamination check."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_ragft.config import Settings
    from pytest_ragft.model import Case


def file_cases(settings: Settings, check_names: Collection[str]) -> list[Case]:
    """The cases of every file ``cases`` matches; a broken file is skipped here because the
    run reports it as a collection error of its own."""
    from pytest_ragft.casefiles import load_case_file
    from pytest_ragft.cases import CaseFileError, expand_sources

    found: list[Case] = []
    for path, source in expand_sources(settings.cases, settings.rootdir):
        try:
            found.extend(
                load_case_file(
                    path,
                    settings.rootdir,
                    fmt=source.format,
                    kind=source.kind,
                    check_names=check_names,
                )
            )
        except CaseFileError:
            continue
    return found


def missing_cases(cases: Collection[Case], ran: Collection[str]) -> list[str]:
    """Node ids of the suite's file cases that this run did not run (deselected, not given on
    the command line, or not reached)."""
    return [f"{c.source}::{c.id}" for c in cases if f"{c.source}::{c.id}" not in ran]


def nothing_evaluated(outcomes: Collection[str]) -> str | None:
    """Why the gate cannot give a verdict on this run, or None: a run whose eval cases were all
    skipped (or xfailed) measured nothing, and a pass at 0/0 would read as a green build."""
    if not outcomes:
        return None  # no eval cases at all: nothing is gated
    if any(o in ("passed", "failed", "error") for o in outcomes):
        return None
    return (
        f"all {len(outcomes)} eval case(s) were skipped: the run measured nothing; "
        "remove the skip (or xfail) markers, or deselect the eval cases (-m 'not ragft')"
    )
