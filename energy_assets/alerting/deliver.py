"""Delivering an `Alert`: a JSON webhook, e-mail over SMTP, and always the log.

Each channel is tried a few times with a growing pause on errors that may pass (a refused or
dropped connection, a timeout, HTTP 429 / 5xx, an SMTP 4xx reply); an error that will not pass
(HTTP 4xx, a refused login) fails at once. A failure is an `AlertDeliveryError` naming the
channel and its host, never its secret (a webhook URL's path, the SMTP password), and what to
check.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from energy_assets.alerting._redact import destination, redact
from energy_assets.alerting.alerts import Alert
from energy_assets.alerting.render import email_message, webhook_payload

ATTEMPTS = 3
BACKOFF_SECONDS = 1.0
TIMEOUT_SECONDS = 10.0


class AlertDeliveryError(RuntimeError):
    """An alert did not reach a channel; the message says which, where and what to check."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where e-mail alerts go. `password` is never shown (repr, messages)."""

    host: str
    sender: str
    recipients: tuple[str, ...]
    port: int = 587
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = True


@dataclass(frozen=True)
class Channels:
    """The configured channels; neither set means alerts go to the log only."""

    webhook_url: str | None = field(default=None, repr=False)
    smtp: SmtpSettings | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(
            name for name, on in (("webhook", self.webhook_url), ("email", self.smtp)) if on
        )


@dataclass(frozen=True)
class DeliveryReport:
    """Which channels took the alert and which failed (with the error, already redacted)."""

    delivered: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()

    @property
    def reached_someone(self) -> bool:
        """Delivered to a channel, or there was none to deliver to (log only)."""
        return bool(self.delivered) or not self.failed


def _retrying(
    what: str,
    attempt: Callable[[], None],
    transient: Callable[[Exception], bool],
    attempts: int,
    backoff_seconds: float,
    sleep: Callable[[float], None],
    scrub: Callable[[str], str] = redact,
) -> None:
    for number in range(1, attempts + 1):
        try:
            attempt()
            return
        except Exception as error:
            if not transient(error) or number == attempts:
                tries = f" after {number} attempts" if number > 1 else ""
                raise AlertDeliveryError(scrub(f"{what} failed{tries}: {error}")) from None
            sleep(backoff_seconds * 2 ** (number - 1))


class _HttpStatus(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status} {body[:200]!r}".rstrip())
        self.status = status


def post_webhook(
    url: str,
    payload: dict[str, Any],
    *,
    attempts: int = ATTEMPTS,
    backoff_seconds: float = BACKOFF_SECONDS,
    timeout: float = TIMEOUT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """POST `payload` as JSON to `url`; any 2xx is delivered."""
    import requests

    def attempt() -> None:
        response = requests.post(url, json=payload, timeout=timeout)
        if not 200 <= response.status_code < 300:
            raise _HttpStatus(response.status_code, response.text)

    def transient(error: Exception) -> bool:
        if isinstance(error, _HttpStatus):
            return error.status == 429 or error.status >= 500
        return isinstance(error, (requests.ConnectionError, requests.Timeout))

    def scrub(text: str) -> str:
        # requests names the URL (its path is a Slack webhook's secret) in its errors.
        path = urlsplit(url).path
        text = text.replace(url, destination(url))
        return redact(text.replace(path, "/…") if len(path) > 1 else text)

    what = f"webhook alert to {destination(url)} (ENERGY_ALERT_WEBHOOK_URL)"
    _retrying(what, attempt, transient, attempts, backoff_seconds, sleep, scrub)


def send_email(
    smtp: SmtpSettings,
    alert: Alert,
    *,
    attempts: int = ATTEMPTS,
    backoff_seconds: float = BACKOFF_SECONDS,
    timeout: float = TIMEOUT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Send `alert` as an e-mail through `smtp` (STARTTLS and login when configured)."""
    import smtplib

    message = email_message(alert, smtp.sender, smtp.recipients)

    def attempt() -> None:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=timeout) as client:
            if smtp.starttls:
                client.starttls()
            if smtp.user:
                client.login(smtp.user, smtp.password or "")
            client.send_message(message)

    def transient(error: Exception) -> bool:
        # SMTPException is an OSError: decide on the SMTP kinds before the network ones.
        if isinstance(error, smtplib.SMTPServerDisconnected):
            return True
        if isinstance(error, smtplib.SMTPAuthenticationError):
            return False
        if isinstance(error, smtplib.SMTPResponseException):
            return 400 <= error.smtp_code < 500
        if isinstance(error, smtplib.SMTPException):
            return False  # e.g. no AUTH or STARTTLS offered: a setup to fix, not a wait
        return isinstance(error, OSError)  # refused, reset, timed out

    what = (
        f"e-mail alert via {smtp.host}:{smtp.port} to {', '.join(smtp.recipients)} "
        "(ENERGY_ALERT_SMTP_*)"
    )
    _retrying(what, attempt, transient, attempts, backoff_seconds, sleep)


def send(
    alert: Alert,
    channels: Channels,
    log: Callable[[str], None],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryReport:
    """Deliver `alert` to every configured channel, and always to `log`.

    A channel that fails does not stop the others; the report says which took it.
    """
    alert = alert.redacted()
    where = ", ".join(channels.names) or "the log only (no channel configured)"
    log(f"alert [{alert.status}] {alert.title} -> {where}")
    delivered: list[str] = []
    failed: list[tuple[str, str]] = []
    if channels.webhook_url:
        try:
            post_webhook(channels.webhook_url, webhook_payload(alert), sleep=sleep)
            delivered.append("webhook")
        except AlertDeliveryError as error:
            failed.append(("webhook", str(error)))
    if channels.smtp:
        try:
            send_email(channels.smtp, alert, sleep=sleep)
            delivered.append("email")
        except AlertDeliveryError as error:
            failed.append(("email", str(error)))
    return DeliveryReport(tuple(delivered), tuple(failed))
