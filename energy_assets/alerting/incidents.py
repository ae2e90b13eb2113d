"""One incident, one alert: which alerts go out, given the incidents already open.

An incident opens with its first alert and closes with one "resolved" message. A retry that
fails again, the next tick seeing the same failure, a second failing check of the same hour:
all find the incident open and send nothing. A notice (a promotion decision) has a key of its
own and is sent once, so re-reading its event after a failed tick does not repeat it. A success or a passing check sends "resolved" only
when the incident is open, so a run that always succeeded is never "resolved".

The state lives wherever the caller keeps it (`IncidentStore`): the Dagster layer uses the
instance's key-value storage, so it survives daemon restarts and is shared by every sensor.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Protocol

from energy_assets.alerting.alerts import Alert

KEY_PREFIX = "energy_assets/alert_incident/"


class IncidentStore(Protocol):
    """A string key-value store (Dagster's `instance.daemon_cursor_storage` has this shape)."""

    def get_cursor_values(self, keys: set[str]) -> Mapping[str, str]: ...

    def set_cursor_values(self, pairs: Mapping[str, str]) -> None: ...


class IncidentLedger:
    """Open and closed incidents over an `IncidentStore`.

    `admits(alert)` says whether to send it; `record(alert)` notes it as sent (call it after a
    delivery that reached someone, so an alert nobody received is tried again on the next tick).
    """

    def __init__(self, store: IncidentStore) -> None:
        self._store = store

    def _state(self, incident_key: str) -> dict | None:
        key = KEY_PREFIX + incident_key
        raw = self._store.get_cursor_values({key}).get(key)
        return json.loads(raw) if raw else None

    def is_open(self, incident_key: str) -> bool:
        state = self._state(incident_key)
        return bool(state and state.get("open"))

    def admits(self, alert: Alert) -> bool:
        """Firing: when its incident is not open. Resolved: when it is. A notice: once."""
        if alert.incident_key is None:
            return True
        if alert.status == "firing":
            return not self.is_open(alert.incident_key)
        if alert.status == "resolved":
            return self.is_open(alert.incident_key)
        return self._state(alert.incident_key) is None

    def record(self, alert: Alert, at: str = "") -> None:
        """Note `alert` as delivered: its incident opens (firing), closes (resolved), or the
        notice is marked sent."""
        if alert.incident_key is None:
            return
        state = {"open": alert.status == "firing", "status": alert.status, "at": at}
        self._store.set_cursor_values({KEY_PREFIX + alert.incident_key: json.dumps(state)})
