"""Delivery to a real webhook receiver and SMTP server on 127.0.0.1: retries that pass, errors
that do not, and no secret in any payload or error."""

from __future__ import annotations

import json

import pytest

from energy_assets.alerting.alerts import RunFailed
from energy_assets.alerting.deliver import (
    AlertDeliveryError,
    Channels,
    SmtpSettings,
    post_webhook,
    send,
)
from energy_assets.alerting.render import webhook_payload

NO_WAIT = {"sleep": lambda seconds: None}
SECRET_URI = "postgresql+psycopg2://dagster:hunter2@db:5432/optuna"


def failed_run(error: str = "raw_consumption: HTTP 503") -> RunFailed:
    return RunFailed(
        job="hourly_forecast_job",
        run_id="0123456789abcdef",
        run_url="http://127.0.0.1:3000/runs/0123456789abcdef",
        error=error,
        partition="2023-01-10-12:00",
    )


def test_a_passing_server_error_is_retried_and_delivered_once(webhook_receiver):
    webhook_receiver.respond_next(503, n=2)
    report = send(
        failed_run().alert(), Channels(webhook_url=webhook_receiver.url), print, **NO_WAIT
    )
    assert report.delivered == ("webhook",) and not report.failed
    assert [post["status"] for post in webhook_receiver.posts] == [503, 503, 200]
    assert webhook_receiver.posts[-1]["content_type"] == "application/json"


def test_a_refused_webhook_fails_at_once_naming_the_host_not_the_secret_path(webhook_receiver):
    webhook_receiver.respond_next(404)
    with pytest.raises(AlertDeliveryError) as raised:
        post_webhook(webhook_receiver.url, {"text": "x"}, **NO_WAIT)
    message = str(raised.value)
    assert "HTTP 404" in message and "ENERGY_ALERT_WEBHOOK_URL" in message
    assert "127.0.0.1" in message and "not-a-real-secret" not in message
    assert len(webhook_receiver.posts) == 1  # a 4xx is not retried


def test_an_unreachable_webhook_is_retried_then_named_without_its_path():
    url = "http://127.0.0.1:9/services/T000/B000/not-a-real-secret"  # discard port: refused
    report = send(failed_run().alert(), Channels(webhook_url=url), print, **NO_WAIT)
    ((channel, error),) = report.failed
    assert channel == "webhook" and "after 3 attempts" in error
    assert "not-a-real-secret" not in error and not report.reached_someone


def test_no_secret_reaches_a_payload_or_an_email(webhook_receiver, smtp_receiver):
    alert = failed_run(f"MLflow unreachable at {SECRET_URI}?token=abc").alert()
    smtp = SmtpSettings(
        host=smtp_receiver.host,
        port=smtp_receiver.port,
        sender="dagster@energy.invalid",
        recipients=("ops@energy.invalid",),
        starttls=False,
    )
    report = send(alert, Channels(webhook_url=webhook_receiver.url, smtp=smtp), print, **NO_WAIT)
    assert report.delivered == ("webhook", "email")
    body = json.dumps(webhook_receiver.accepted()) + smtp_receiver.messages[0].as_string()
    assert "hunter2" not in body and "token=abc" not in body
    assert "postgresql+psycopg2://***@db:5432/optuna" in body


def test_the_payload_is_slack_incoming_webhook_format():
    payload = webhook_payload(failed_run().alert())
    assert isinstance(payload["text"], str) and payload["text"]
    section, context = payload["blocks"]
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert (
        "<http://127.0.0.1:3000/runs/0123456789abcdef|Open in Dagster>" in section["text"]["text"]
    )
    assert context["type"] == "context"


def test_the_smtp_password_is_used_never_shown(smtp_receiver):
    smtp = SmtpSettings(
        host=smtp_receiver.host,
        port=smtp_receiver.port,
        sender="a@b.invalid",
        recipients=("c@d.invalid",),
        user="alerts",
        password="hunter2",
        starttls=False,
    )
    assert "hunter2" not in repr(smtp) and "hunter2" not in repr(Channels(smtp=smtp))
    # The test server offers no AUTH: the login fails, and the error names the server, not the
    # password, without retrying a refusal that will not pass.
    report = send(failed_run().alert(), Channels(smtp=smtp), print, **NO_WAIT)
    ((channel, error),) = report.failed
    assert channel == "email" and smtp_receiver.host in error and "hunter2" not in error
    assert "attempts" not in error


def test_log_only_when_no_channel_is_configured():
    lines: list[str] = []
    report = send(failed_run().alert(), Channels(), lines.append)
    assert report.reached_someone and report.delivered == () and report.failed == ()
    assert lines == [
        "alert [firing] Run failed: hourly_forecast_job on 2023-01-10-12:00 -> the log only "
        "(no channel configured)"
    ]
