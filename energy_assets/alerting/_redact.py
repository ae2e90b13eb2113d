"""Credentials out of text that leaves the platform (alert payloads, delivery errors).

Private and small on purpose: a shared redaction helper is on its way; this one is swapped for it
without touching its callers (`redact`, `destination`).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# scheme://user:password@host or scheme://token@host: everything between // and @.
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/@\s]+)@")
# password=..., token=..., secret=..., api_key=... in query strings or key=value text.
_SECRET_PARAMS = re.compile(
    r"(?P<name>\b(?:password|passwd|pwd|token|secret|api[_-]?key|access[_-]?key)=)[^&\s;,]+",
    re.IGNORECASE,
)
MASK = "***"


def redact(text: str) -> str:
    """`text` with URI credentials and secret-looking parameters masked.

    >>> redact("postgresql://dagster:s3cret@db:5432/optuna?token=x")
    'postgresql://***@db:5432/optuna?token=***'
    """
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    return _SECRET_PARAMS.sub(lambda m: f"{m['name']}{MASK}", text)


def destination(url: str) -> str:
    """Where a URL points, safe to print: scheme and host only (a Slack webhook's path *is* its
    secret, so the path never appears in a message)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return (
        f"{parts.scheme}://{host}{port}/…"
        if parts.path not in ("", "/")
        else f"{parts.scheme}://{host}{port}"
    )
