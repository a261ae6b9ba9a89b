"""pytest-ragft: an LLM eval gate for CI that tells knowledge gaps (RAG) from behavior gaps
(fine-tuning)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_ragft.model import Case, CheckOutcome, Result

__version__ = "0.1.0"
__all__ = ["Case", "CheckOutcome", "Result", "__version__"]


def __getattr__(name: str) -> Any:
    """The public classes load on first use: importing the plugin must stay cheap."""
    if name in ("Case", "CheckOutcome", "Result"):
        from pytest_ragft import model

        return getattr(model, name)
    raise AttributeError(f"module 'pytest_ragft' has no attribute {name!r}")
