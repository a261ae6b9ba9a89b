"""Renderers of one run summary (a ``RunSummary``): Markdown, HTML, terminal lines, the JSON file.

They format what the summary holds and compute nothing, so every output tells the same story.
"""

from __future__ import annotations
