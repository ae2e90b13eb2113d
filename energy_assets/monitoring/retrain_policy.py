"""When to retrain: a pure decision over the monitoring events a sensor has seen since its cursor.

The sensor (Dagster side) turns each new `drift_report` / `forecast_accuracy` materialisation into
a `MonitoringEvent` and calls `decide`. Every event since the cursor counts, not only the newest
(two reports between ticks must not hide one another: dagster issue 32853). The run key is
derived from the triggering (kind, partition) pairs, so the same event never retrains twice,
even when the sensor re-reads it or the partition is re-materialised.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

EventKind = Literal["drift", "accuracy"]
# Past this, the run key keeps its readable head and ends in a hash of the full list.
_MAX_RUN_KEY_CHARS = 200
_MAX_LISTED_EVENTS = 6


@dataclass(frozen=True)
class MonitoringEvent:
    """One monitoring materialisation.

    kind: "drift" (value = drift share, 0..1) or "accuracy" (value = MAPE as a fraction);
    partition_key: the monitored partition ("2023-01-05"); storage_id: the event log id
    (the sensor's cursor); dataset_drift: Evidently's verdict for drift events, else None;
    coverage: for accuracy events, the share of actuals inside the p10..p90 band (None or NaN
    when not scored).
    """

    kind: EventKind
    partition_key: str
    storage_id: int
    value: float
    dataset_drift: bool | None = None
    coverage: float | None = None


@dataclass(frozen=True)
class RetrainThresholds:
    """Retrain when drift share > max_drift_share (and, if require_dataset_drift, Evidently
    also flagged dataset drift), when MAPE > max_mape, or when the p10..p90 band's coverage is
    outside [min_coverage, max_coverage] (fractions: 0.15 = 15 %; the band is nominally 0.80, and
    a day's coverage over ~1,800 points rarely leaves 0.65..0.95 unless it is miscalibrated)."""

    max_drift_share: float = 0.5
    max_mape: float = 0.15
    min_coverage: float = 0.65
    max_coverage: float = 0.95
    require_dataset_drift: bool = False


@dataclass(frozen=True)
class RetrainDecision:
    """retrain: request a run; triggering: the events over a threshold (in storage order);
    run_key: stable key from those events (None when not retraining); reason: one sentence per
    event considered, for a SkipReason or a run tag."""

    retrain: bool
    triggering: list[MonitoringEvent] = field(default_factory=list)
    run_key: str | None = None
    reason: str = ""


def crosses(event: MonitoringEvent, thresholds: RetrainThresholds) -> bool:
    """Whether this one event calls for retraining. A NaN value (nothing scored yet) never does."""
    if event.kind == "accuracy" and coverage_breached(event, thresholds):
        return True
    if event.value is None or math.isnan(event.value):
        return False
    if event.kind == "drift":
        over = event.value > thresholds.max_drift_share
        return over and (not thresholds.require_dataset_drift or bool(event.dataset_drift))
    if event.kind == "accuracy":
        return event.value > thresholds.max_mape
    raise ValueError(
        f"unknown monitoring event kind {event.kind!r}; expected 'drift' or 'accuracy'"
    )


def coverage_breached(event: MonitoringEvent, thresholds: RetrainThresholds) -> bool:
    """Whether an accuracy event's band coverage left [min_coverage, max_coverage]; an event
    without a scored band (None / NaN) never breaches."""
    if event.coverage is None or math.isnan(event.coverage):
        return False
    return not thresholds.min_coverage <= event.coverage <= thresholds.max_coverage


def decide(events: Iterable[MonitoringEvent], thresholds: RetrainThresholds) -> RetrainDecision:
    """Decide over ALL `events` (any order); retrain if any of them crosses its threshold."""
    ordered = sorted(events, key=lambda e: e.storage_id)
    if not ordered:
        return RetrainDecision(retrain=False, reason="no new drift or accuracy events")
    triggering = [e for e in ordered if crosses(e, thresholds)]
    reason = _reason(triggering if triggering else ordered, thresholds)
    if not triggering:
        return RetrainDecision(retrain=False, reason=reason)
    return RetrainDecision(
        retrain=True, triggering=triggering, run_key=run_key_for(triggering), reason=reason
    )


def run_key_for(events: Iterable[MonitoringEvent]) -> str:
    """'retrain:drift:2023-01-05+accuracy:2023-01-05': same (kind, partition) pairs, same key.

    Sorted and de-duplicated, so the order events arrive in and re-materialisations of a
    partition (new storage ids) do not change it.
    """
    pairs = sorted({(e.kind, e.partition_key) for e in events})
    key = "retrain:" + "+".join(f"{kind}:{partition}" for kind, partition in pairs)
    if len(key) <= _MAX_RUN_KEY_CHARS:
        return key
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    return f"{key[: _MAX_RUN_KEY_CHARS - 18]}~{digest}"


def describe(event: MonitoringEvent, thresholds: RetrainThresholds) -> str:
    """'drift share 0.21 ≤ 0.50 on 2023-01-05' / 'MAPE 16.2% > 15% on 2023-01-04'."""
    if event.value is None or math.isnan(event.value):
        label = "drift share" if event.kind == "drift" else "MAPE"
        return f"{label} not available on {event.partition_key} (nothing scored yet)"
    over = crosses(event, thresholds)
    if event.kind == "drift":
        text = (
            f"drift share {event.value:.2f} {'>' if event.value > thresholds.max_drift_share else '≤'} "
            f"{thresholds.max_drift_share:.2f} on {event.partition_key}"
        )
        if thresholds.require_dataset_drift:
            verdict = "dataset drift" if event.dataset_drift else "no dataset drift"
            text += f" ({verdict}{', retrain' if over else ''})"
        return text
    text = (
        f"MAPE {_percent(event.value)} {'>' if event.value > thresholds.max_mape else '≤'} "
        f"{_percent(thresholds.max_mape)} on {event.partition_key}"
    )
    if event.coverage is not None and not math.isnan(event.coverage):
        band = f"{_percent(thresholds.min_coverage)}–{_percent(thresholds.max_coverage)}"
        where = "outside" if coverage_breached(event, thresholds) else "inside"
        text += f", p10–p90 coverage {_percent(event.coverage)} {where} {band}"
    return text


def _reason(events: list[MonitoringEvent], thresholds: RetrainThresholds) -> str:
    parts = [describe(e, thresholds) for e in events[:_MAX_LISTED_EVENTS]]
    if len(events) > _MAX_LISTED_EVENTS:
        parts.append(f"and {len(events) - _MAX_LISTED_EVENTS} more")
    return "; ".join(parts)


def _percent(fraction: float) -> str:
    # 0.15 -> "15%", 0.041 -> "4.1%": no trailing ".0" on round thresholds.
    return f"{fraction * 100:.1f}".rstrip("0").rstrip(".") + "%"
