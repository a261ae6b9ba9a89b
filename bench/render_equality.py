"""Render the test reports with the renderers of another commit and with these, and compare.

    python bench/render_equality.py [REF]      (REF defaults to main)

Used to show that a change of the renderers changed no output.

Each report is first read into a ``RunSummary`` and written back (``from_json`` then
``to_json``), so both sides see a report the summary reproduces exactly: the old renderers
read that dict, the new ones the summary made from it. The terminal lines, the Markdown (at
several size caps) and the HTML page must be equal byte for byte, but for ``KNOWN_CHANGES``,
wording changed on purpose. Exit status 1 when anything else differs.
"""

from __future__ import annotations

import difflib
import json
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from reportdata import build_report  # noqa: E402
from test_html import HOSTILE, hostile_report, make_report  # noqa: E402
from test_markdown import HOSTILE as MD_HOSTILE  # noqa: E402
from test_terminal import spec_report  # noqa: E402

from pytest_ragft.report.html import render_html  # noqa: E402
from pytest_ragft.report.markdown import render_markdown  # noqa: E402
from pytest_ragft.report.terminal import terminal_lines  # noqa: E402
from pytest_ragft.runsummary import RunSummary  # noqa: E402

# (old text, new text): a matrix cell is now worded as the checklist words it (in the HTML
# matrix, and as the recommendation of a report that carries no summary of its own).
KNOWN_CHANGES = [("continued pretraining (rare)", "continued pretraining (rare; try RAG first)")]
LIMITS = (8_000, 20_000, 65_000)

# Run with the other commit's package; renderers that take a RunSummary are given one.
OLD = """
import inspect, json, sys
from pytest_ragft.report.html import render_html
from pytest_ragft.report.markdown import render_markdown
from pytest_ragft.report.terminal import terminal_lines
typed = "summary" in inspect.signature(terminal_lines).parameters
out = {}
for name, report in json.load(sys.stdin).items():
    if typed:
        from pytest_ragft.runsummary import RunSummary
        report = RunSummary.from_json(report)
    out[name] = {"terminal": "\\n".join(terminal_lines(report)), "html": render_html(report)}
    limits = json.loads(sys.argv[1])
    out[name].update({f"md{n}": render_markdown(report, limit=n) for n in limits})
print(json.dumps(out))
"""


def reports() -> dict[str, dict[str, Any]]:
    hostile_md = build_report(8, failed=3, errors=0, failing_answer=MD_HOSTILE)
    hostile_md["cases"][0]["messages"] = [MD_HOSTILE, "# not a heading", "1. not a list"]
    hostile_md["checklist"][0]["evidence"] = MD_HOSTILE
    found: dict[str, dict[str, Any]] = {
        "default": build_report(),
        "empty": build_report(0, failed=0, errors=0),
        "passing": build_report(10, failed=0, errors=0, baseline=False),
        "large": build_report(1_200, failed=900, errors=60, failing_answer="y" * 3_000),
        "spec": spec_report(),
        "html": make_report(),
        "hostile-md": hostile_md,
        **{f"hostile-html-{i}": hostile_report(p) for i, p in enumerate(HOSTILE)},
    }
    for recommendation in ({"cell": "pretraining"}, {"cell": None}, {"cell": "rag"}):
        report = build_report(12)
        report["recommendation"] = recommendation
        found[f"cell-{recommendation['cell']}"] = report
    return found


def new_outputs(report: dict[str, Any]) -> dict[str, str]:
    summary = RunSummary.from_json(report)
    out = {"terminal": "\n".join(terminal_lines(summary)), "html": render_html(summary)}
    out.update({f"md{n}": render_markdown(summary, limit=n) for n in LIMITS})
    return out


def old_outputs(ref: str, samples: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "src/pytest_ragft"],
        check=True,
        capture_output=True,
    ).stdout
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        done = subprocess.run(
            [sys.executable, "-c", OLD, json.dumps(LIMITS)],
            input=json.dumps(samples),
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONPATH": str(Path(tmp) / "src"), "PATH": ""},
        )
    result: dict[str, dict[str, str]] = json.loads(done.stdout)
    return result


def main(ref: str) -> int:
    samples = {}
    for name, report in reports().items():
        exact = RunSummary.from_json(report).to_json()
        assert RunSummary.from_json(exact).to_json() == exact, name
        samples[name] = exact
    old = old_outputs(ref, samples)
    differ = 0
    for name, report in samples.items():
        for what, text in new_outputs(report).items():
            before = old[name][what]
            for was, now in KNOWN_CHANGES:
                before = before.replace(was, now)
            if before != text:
                differ += 1
                print(f"{name} {what} differs:")
                lines = difflib.unified_diff(before.splitlines(), text.splitlines(), lineterm="")
                print("\n".join(list(lines)[:40]))
    print(f"{len(samples)} reports, {differ} differing outputs against {ref}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "main"))
