"""The evidence of a failure's signal in the git history of its case file: the case's
expectations as each commit since the horizon's start left them, and whether the file is older
than the horizon (it held the whole time).

Read only for the failed cases whose case leaves ``volatile`` out, a few commits each.
"""

from __future__ import annotations

import tempfile
from collections.abc import Collection, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_ragft.history.gitmeta import _git

if TYPE_CHECKING:
    from pytest_ragft.model import CaseRecord

MAX_COMMITS = 20  # per case file: enough to see a change, cheap to read


def file_versions(rootdir: Path, source: str, since: date) -> tuple[list[str], bool]:
    """The file's texts at the commits that changed it since ``since`` (newest first), and
    whether it was committed before ``since``; nothing outside a git work tree."""
    log = _git(
        rootdir,
        "log",
        f"--since={since.isoformat()}",
        f"-n{MAX_COMMITS}",
        "--format=%H",
        "--",
        source,
    )
    texts = []
    for sha in (log or "").split():
        text = _git(rootdir, "show", f"{sha}:./{source}")
        if text is not None:
            texts.append(text)
    older = _git(rootdir, "log", f"--until={since.isoformat()}", "-n1", "--format=%H", "--", source)
    return texts, bool(older and older.strip())


def case_digests(
    rootdir: Path, records: Sequence[CaseRecord], since: date, check_names: Collection[str]
) -> tuple[dict[str, set[str]], set[str]]:
    """For the failed cases that leave ``volatile`` out: each one's expectations digests in the
    versions of its file since ``since``, and the ids whose file is older than ``since``."""
    from pytest_ragft.cases import CaseFileError, load_native
    from pytest_ragft.model import expectations_digest

    wanted = [r for r in records if r.outcome in ("failed", "error") and r.volatile is None]
    by_file: dict[str, set[str]] = {}
    for record in wanted:
        if record.source and not record.python:
            by_file.setdefault(record.source, set()).add(record.id)
    digests: dict[str, set[str]] = {}
    spanning: set[str] = set()
    for source, ids in by_file.items():
        texts, older = file_versions(rootdir, source, since)
        if older:
            spanning |= ids
        for text in texts:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / Path(source).name
                path.write_text(text, encoding="utf-8")
                try:
                    cases = load_native(path, Path(tmp), check_names=check_names)
                except CaseFileError:
                    continue  # a version that did not load says nothing of the case
            for case in cases:
                if case.id in ids:
                    digests.setdefault(case.id, set()).add(expectations_digest(case))
    return digests, spanning
