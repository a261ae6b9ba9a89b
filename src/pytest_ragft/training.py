"""The file side of question 3: read the ``training_data`` files, and gather every eval
case's input (to find examples that would leak the eval into training).

``checklist.audit_examples`` does the counting; this module only reads.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_ragft.checklist import TrainingAudit, audit_examples

if TYPE_CHECKING:
    from pytest_ragft.model import Case, CaseRecord


def audit(patterns: Sequence[str], rootdir: Path, eval_inputs: Iterable[str]) -> TrainingAudit:
    """Audit the files ``patterns`` (globs relative to ``rootdir``) match."""
    files = _match_files(patterns, rootdir)
    unmatched = [p for p in patterns if not _match_files([p], rootdir)]
    contents: list[tuple[str, bytes | str]] = []
    for path, name in files:
        try:
            contents.append((name, path.read_bytes()))
        except OSError as exc:
            contents.append((name, str(exc.strerror or exc)))
    return audit_examples(patterns, contents, unmatched, eval_inputs)


def _match_files(patterns: Iterable[str], rootdir: Path) -> list[tuple[Path, str]]:
    """Files matched by the globs, each once, sorted, named relative to ``rootdir`` (posix)."""
    found: dict[Path, str] = {}
    for pattern in patterns:
        for match in glob.glob(pattern, root_dir=rootdir, recursive=True):
            path = (rootdir / match).resolve()
            if path.is_file() and path not in found:
                found[path] = Path(match).as_posix()
    return sorted(found.items(), key=lambda item: item[1])


def eval_inputs(cases: Iterable[Case], records: Iterable[CaseRecord]) -> list[str]:
    """The input of every case of the suite (``suite.file_cases``) and of every Python case
    that ran, so the contamination count does not change with ``-k`` or a path argument."""
    inputs = [r.input for r in records if r.input]
    inputs.extend(case.input_text for case in cases if case.input_text)
    return inputs
