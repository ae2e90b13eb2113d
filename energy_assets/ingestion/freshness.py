"""Is a missing hour late, or will it never come? (no Dagster)

An hour the API does not have yet is usually just not published: the run fails and is retried.
But a dataset that is no longer published (ConsumptionDE35Hour since July 2023: its spec sets
`last_hour`) or one that has stalled (its newest record is far older than its publication lag)
will never deliver it, and retrying only repeats the failure. `never_coming` says which case it
is, in one sentence that names the dataset, its last hour and the live datasets to use instead.
"""

from __future__ import annotations

import pandas as pd

from energy_assets.contracts import hour_of_key, hour_text, naive_utc
from energy_assets.sources import LIVE_DATASETS, SourceSpec

# How far past its publication lag a live dataset's newest record may be before it counts as
# stalled rather than late (Energinet has published a few days late before, never weeks).
STALLED_MARGIN = pd.Timedelta(days=7)


def _instead(spec: SourceSpec) -> str:
    live = [name for name in spec.successors or LIVE_DATASETS if name != spec.dataset]
    if not live:
        return "check the dataset's page on energidataservice.dk"
    return "use a live dataset instead: " + " or ".join(
        f"ENERGIDATA_DATASET={name}" for name in live
    )


def after_last_hour(spec: SourceSpec, hour: pd.Timestamp) -> str | None:
    """The message when `hour` (naive UTC) is after a frozen dataset's last hour, else None."""
    if spec.last_hour is None:
        return None
    last = naive_utc(hour_of_key(spec.last_hour))
    if naive_utc(hour) <= last:
        return None
    return (
        f"{spec.dataset} is no longer published: its last hour is {hour_text(last)}, so "
        f"{hour_text(hour)} will never come (not retried); {_instead(spec)}."
    )


def stalled(
    spec: SourceSpec, newest: pd.Timestamp | None, now: pd.Timestamp, hour: pd.Timestamp
) -> str | None:
    """The message when a live dataset's newest record (naive UTC) is older than
    now − (publication lag + STALLED_MARGIN), i.e. `hour` is not merely late; else None."""
    lag = pd.Timedelta(hours=spec.publication_lag_hours)
    if newest is not None and naive_utc(newest) >= naive_utc(now) - (lag + STALLED_MARGIN):
        return None
    newest_text = "no records at all" if newest is None else hour_text(newest)
    return (
        f"{spec.dataset} has stopped publishing: its newest record is {newest_text}, more than "
        f"{lag.days + STALLED_MARGIN.days} days ago (its lag is {lag.days} days), so "
        f"{hour_text(hour)} is not coming soon (not retried); {_instead(spec)}."
    )
