"""The one error the store raises, and masking of credentials in the text users see."""

from __future__ import annotations

import re

_USERINFO = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@\s]*)@"
)


class HistoryError(Exception):
    """A problem with the history store, worded to be shown to users as is (no secrets)."""


def mask_url(text: str) -> str:
    """Replace the password of every URL in ``text`` with ``***``, so errors can name the store."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)


def scrub(text: str, secret: str | None) -> str:
    """Mask URLs in ``text`` and any literal ``secret`` in it (a driver may echo the password)."""
    masked = mask_url(text)
    if secret:
        masked = masked.replace(secret, "***")
    return masked
