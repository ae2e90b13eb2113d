"""The transport both public-API clients share (Energi Data Service, Open-Meteo): one GET that
turns what may pass — a timeout, a refused connection, HTTP 429 and 5xx, a body that is not JSON —
into `Retryable` (with the server's Retry-After), and the backoff between attempts. What each
client does with other 4xx and with a document that breaks its own contract stays in the client.
"""

from __future__ import annotations

import random
from typing import Any

import pandas as pd
import requests

# The longest single wait between attempts, whatever the server asks for.
MAX_SLEEP_SECONDS = 300.0


class Retryable(Exception):
    """A failure worth another attempt; `retry_after` is the server's wish in seconds, if any."""

    def __init__(self, cause: str, retry_after: float | None = None) -> None:
        super().__init__(cause)
        self.retry_after = retry_after


def get(
    session: requests.Session, url: str, params: dict[str, Any], timeout_seconds: float
) -> requests.Response:
    """GET `url`; raises Retryable for a timeout, a connection error, 429 and 5xx. Any other
    status is the caller's to judge."""
    try:
        response = session.get(url, params=params, timeout=timeout_seconds)
    except requests.Timeout as exc:
        raise Retryable(f"no answer within {timeout_seconds:g}s ({exc})") from exc
    except requests.ConnectionError as exc:
        raise Retryable(f"connection error ({exc})") from exc
    status = response.status_code
    if status == 429 or status >= 500:
        raise Retryable(f"HTTP {status} {short(response.text)}", retry_after(response.headers))
    return response


def json_body(response: requests.Response) -> Any:
    """The response's JSON; a truncated or garbled body is a transport hiccup (Retryable)."""
    try:
        return response.json()
    except ValueError as exc:
        raise Retryable(f"malformed JSON in the answer ({exc})") from exc


def backoff(attempt: int, base_seconds: float, retry_after: float | None) -> float:
    """Seconds to wait before attempt `attempt` + 1: exponential with jitter, at least what the
    server asked for, at most MAX_SLEEP_SECONDS."""
    delay = base_seconds * 2**attempt + random.uniform(0, base_seconds)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, MAX_SLEEP_SECONDS)


def short(text: str, limit: int = 200) -> str:
    """A response body on one line, cut at `limit` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def retry_after(headers: Any) -> float | None:
    """The Retry-After header in seconds (a number or an HTTP date), or None."""
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:  # an HTTP date
            when = pd.Timestamp(value)
            return max(0.0, (when - pd.Timestamp.now(tz="UTC")).total_seconds())
        except ValueError:
            return None
