"""Run the example suite the way the README's first command does and paste what it prints into
the README's "What the example prints" block (and the example's own README), so the pasted
output is always the real one.

    python docs/example_output.py            # rewrite both READMEs
    python docs/example_output.py --check    # exit 1 when a README is out of date

Runs in a copy of examples/support_bot with no history, committed on a branch ``main``, as on a
fresh checkout.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "support_bot"
# The whole output in the project's README; the ragft section alone in the example's.
_WHOLE = re.compile(r"(```\n)(tests/test_python_cases\.py.*?exit status: \d+\n)(```)", re.S)
_SECTION = re.compile(r"(```\n)(=+ ragft =+\n.*?\n=+ \d+ failed.*?=+\n)(```)", re.S)
READMES = ((ROOT / "README.md", _WHOLE), (EXAMPLE / "README.md", _SECTION))
_TIME = re.compile(r" in \d+\.\d+s ")


def example_output() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "support_bot"
        ignore = shutil.ignore_patterns(".ragft", "reports", ".pytest_cache", "__pycache__")
        shutil.copytree(EXAMPLE, project, ignore=ignore)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RAGFT_", "CI"))}
        env |= {"GIT_AUTHOR_NAME": "x", "GIT_AUTHOR_EMAIL": "x@example.com"}
        env |= {"GIT_COMMITTER_NAME": "x", "GIT_COMMITTER_EMAIL": "x@example.com"}
        for step in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "example"]):
            subprocess.run(["git", *step], cwd=project, env=env, check=True)  # a fresh checkout
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"],
            cwd=project,
            env={**env, "COLUMNS": "80"},
            capture_output=True,
            text=True,
            check=False,
        )
    lines = done.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("tests/test_python_cases"))
    text = "\n".join(lines[start:]) + f"\nexit status: {done.returncode}\n"
    return _TIME.sub(" in 2.00s ", text)


def _ragft_section(output: str) -> str:
    """The ``ragft`` section and pytest's closing line, as the example's README shows them."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if re.fullmatch(r"=+ ragft =+", line))
    end = next(i for i, line in enumerate(lines) if line.startswith("=====") and i > start)
    return "\n".join([*lines[start:end], lines[-2]]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether they are current")
    args = parser.parse_args(argv)
    output = example_output()
    stale = []
    for readme, block in READMES:
        text = readme.read_text(encoding="utf-8")
        if not block.search(text):
            print(f"{readme}: no example output block found", file=sys.stderr)
            return 2
        shown = output if block is _WHOLE else _ragft_section(output)
        new = block.sub(lambda m, shown=shown: m.group(1) + shown + m.group(3), text, count=1)
        if new != _TIME.sub(" in 2.00s ", text) and new != text:
            stale.append(readme)
            if not args.check:
                readme.write_text(new, encoding="utf-8")
    for readme in stale:
        print(f"{'out of date' if args.check else 'updated'}: {readme.relative_to(ROOT)}")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
