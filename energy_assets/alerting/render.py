"""An `Alert` as what a receiver reads: a webhook JSON payload and an e-mail.

The webhook payload is Slack's incoming-webhook format (`text` for notifications and clients
without blocks, `blocks` for the message itself), so a Slack webhook URL takes it as is; the
same payload carries the alert as plain fields under `alert` for any other JSON receiver
(Slack ignores fields it does not know). Every text is redacted before rendering.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from energy_assets.alerting.alerts import Alert

SOURCE = "energy_assets"
_MARK = {
    ("firing", "error"): ":red_circle:",
    ("firing", "warning"): ":warning:",
    ("firing", "info"): ":information_source:",
    ("resolved", "info"): ":large_green_circle:",
}


def _mark(alert: Alert) -> str:
    if alert.status == "resolved":
        return ":large_green_circle:"
    if alert.status == "notice":
        return ":trophy:" if alert.kind == "new_champion" else ":warning:"
    return _MARK.get((alert.status, alert.severity), ":red_circle:")


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn control characters; everything else is shown as written.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webhook_payload(alert: Alert) -> dict[str, Any]:
    """The JSON body POSTed to ENERGY_ALERT_WEBHOOK_URL for `alert`."""
    alert = alert.redacted()
    lines = [f"*{_slack_escape(alert.title)}*"]
    lines += [f"• {_slack_escape(name)}: {_slack_escape(value)}" for name, value in alert.details]
    if alert.link:
        lines.append(f"<{alert.link}|Open in Dagster>")
    context = f"{SOURCE} · {alert.status}"
    if alert.incident_key:
        context += f" · incident `{_slack_escape(alert.incident_key)}`"
    return {
        "text": f"{_mark(alert)} {alert.title}",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ],
        "alert": {
            "source": SOURCE,
            "kind": alert.kind,
            "status": alert.status,
            "severity": alert.severity,
            "title": alert.title,
            "details": dict(alert.details),
            "link": alert.link,
            "incident_key": alert.incident_key,
        },
    }


def email_message(alert: Alert, sender: str, recipients: tuple[str, ...]) -> EmailMessage:
    """`alert` as a plain-text e-mail from `sender` to `recipients`."""
    alert = alert.redacted()
    message = EmailMessage()
    prefix = {"resolved": "[resolved] ", "notice": ""}.get(alert.status, "[alert] ")
    message["Subject"] = f"{prefix}{SOURCE}: {alert.title}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    if alert.incident_key:
        # Mail clients can thread an incident's alert and its "resolved" by this header.
        message["X-Energy-Assets-Incident"] = alert.incident_key
    width = max((len(name) for name, _ in alert.details), default=0)
    body = [alert.title, ""]
    body += [f"{name.ljust(width)}  {value}" for name, value in alert.details]
    if alert.link:
        body += ["", f"Open in Dagster: {alert.link}"]
    body += ["", f"-- {SOURCE} ({alert.status})"]
    message.set_content("\n".join(body) + "\n")
    return message
