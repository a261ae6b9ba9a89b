"""pytest-ragft: an LLM eval gate for CI that tells knowledge gaps (RAG) from behavior gaps
(fine-tuning)."""

from __future__ import annotations

from pytest_ragft.model import Case, CheckOutcome, Result

__version__ = "0.1.0"
__all__ = ["Case", "CheckOutcome", "Result", "__version__"]
