"""Renderers of one run summary (the JSON report dict): Markdown, terminal lines, the JSON file.

They format what the summary holds and compute nothing, so every output tells the same story.
"""

from __future__ import annotations
