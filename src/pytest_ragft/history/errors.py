"""The one error the store raises, and masking of credentials in the text users see."""

from __future__ import annotations

import re
from collections.abc import Iterable

_USERINFO = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@\s]*)@"
)
_SECRET_KEY = re.compile(r"(?:password|secret|token)$", re.IGNORECASE)
"""Query keys whose value is a credential: password, sslpassword, api_token, client_secret..."""
_SECRET_PARAM = re.compile(
    r"(?P<key>(?<![A-Za-z0-9_.~%-])[A-Za-z0-9_.~%-]*(?:password|secret|token))=(?P<value>[^&;#\s]*)",
    re.IGNORECASE,
)

MASK = "***"


class HistoryError(Exception):
    """A problem with the history store, worded to be shown to users as is (no secrets).

    The message is masked on the way in, so no code path can show a URL's password.
    """

    def __init__(self, message: object = "") -> None:
        super().__init__(mask_url(str(message)))


def is_secret_key(key: str) -> bool:
    """Whether a URL query key carries a credential (``password``, ``sslpassword``, ``*token``)."""
    return _SECRET_KEY.search(key) is not None


def mask_url(text: str) -> str:
    """Replace every URL password in ``text`` with ``***``: the ``user:pw@`` part and the value
    of password-like query keys (``?password=``, ``sslpassword=``, ``...secret=``, ``...token=``).
    """
    masked = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    return _SECRET_PARAM.sub(lambda m: f"{m['key']}={MASK}", masked)


def scrub(text: str, secrets: str | Iterable[str | None] | None) -> str:
    """Mask URLs in ``text`` and any literal secret in it (a driver may echo the password)."""
    masked = mask_url(text)
    if secrets is None or isinstance(secrets, str):
        secrets = [secrets]
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        masked = masked.replace(secret, MASK)
    return masked
