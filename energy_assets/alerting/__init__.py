"""Alerts a person receives: what went wrong (or right), as typed facts, rendered and delivered.

    alerts.py     the facts (a failed run, a failed check, a promotion decision, a missed
                  freshness deadline, and their recoveries) as frozen dataclasses, each turned
                  into one `Alert` with an incident key
    incidents.py  one incident, one alert: which alerts to send given what is already open
    render.py     an `Alert` as a webhook JSON payload (Slack's incoming-webhook format) and an e-mail
    deliver.py    the channels (webhook, SMTP, the log) with retries and a clear error
    _redact.py    keeps credentials in URIs out of every payload

No Dagster here: `energy_assets.defs.alerts` reads Dagster's events, builds these facts and
calls `send`.
"""
