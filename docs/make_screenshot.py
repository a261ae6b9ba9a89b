"""Render a JSON report to HTML and save a full-page PNG of it, for the README.

    python docs/make_screenshot.py ragft-report.json docs/report.png [--width 1200] [--html OUT]

Needs a Chromium binary (``apt-get install chromium``, or ``CHROME_BIN``); no Python package
beyond pytest-ragft itself.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from chromium import screenshot_html

from pytest_ragft.report.html import render_html
from pytest_ragft.runsummary import RunSummary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="a JSON report (ragft-report.json)")
    parser.add_argument("png", type=Path, help="where to save the screenshot")
    parser.add_argument("--width", type=int, default=1200, help="viewport width in CSS pixels")
    parser.add_argument("--html", type=Path, help="also keep the rendered HTML here")
    args = parser.parse_args(argv)

    report = json.loads(args.report.read_text(encoding="utf-8"))
    page = render_html(RunSummary.from_json(report))
    with tempfile.TemporaryDirectory(prefix="ragft-shot-") as tmp:
        html_file = args.html or Path(tmp) / "report.html"
        html_file.write_text(page, encoding="utf-8")
        args.png.parent.mkdir(parents=True, exist_ok=True)
        screenshot_html(html_file, args.png, width=args.width)
    print(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
