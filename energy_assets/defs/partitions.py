"""Partitions of the asset graph: hourly (UTC) for data and forecasts, daily for monitoring.

Both start at `Settings.partitions_start` (ENERGY_PARTITIONS_START; by default the dataset's first
hour, 2020-06-30 22:00 UTC): an installation that needs no history since 2020 starts later and
keeps the partition count, and so the UI's partition pages, small.

A backfill of the hourly assets runs in units of `Settings.backfill_hours_per_run` hours
(ENERGY_BACKFILL_HOURS_PER_RUN, default 1,488 = 62 days): Dagster's multi-run backfill policy makes
each unit its own run, so a run's memory is bounded by its unit, not by the range, and the run
queue runs units side by side (docs/decisions/0012-scale-out.md).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import timedelta

import dagster as dg

from energy_assets.settings import Settings


@dataclass(frozen=True)
class Partitions:
    hourly: dg.HourlyPartitionsDefinition
    daily: dg.DailyPartitionsDefinition
    backfill: dg.BackfillPolicy

    @classmethod
    def from_settings(cls, settings: Settings) -> Partitions:
        return cls(
            hourly=dg.HourlyPartitionsDefinition(
                start_date=settings.partitions_start, timezone="UTC"
            ),
            daily=dg.DailyPartitionsDefinition(
                start_date=settings.partitions_start_day, timezone="UTC"
            ),
            backfill=dg.BackfillPolicy.multi_run(
                max_partitions_per_run=settings.backfill_hours_per_run
            ),
        )


def lookback_mapping(hours: int = 0) -> dg.TimeWindowPartitionMapping:
    """Map a partition to its own window plus `hours` before it, tolerating hours before the start.

    At the first partitions of the dataset the lookback reaches before the first hour; those
    upstream partitions do not exist and the window is simply shorter. Dagster marks the
    parameter that allows this as beta; it is the documented way, so its warning is silenced here
    in this one place rather than shown on every load.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.TimeWindowPartitionMapping(
            start_offset=-hours, allow_nonexistent_upstream_partitions=True
        )


# How long each published asset may go without an update (Dagster's freshness policies, evaluated
# by the daemon; a breach shows on the asset and sends the *Freshness deadline missed* alert). The
# schedules already target the newest hour the source's publication lag allows, so the windows
# are the cadence plus the retries' slack, not the lag.
FRESHNESS = {
    "forecasts": dg.FreshnessPolicy.time_window(
        fail_window=timedelta(hours=2), warn_window=timedelta(minutes=90)
    ),
    "forecast_accuracy": dg.FreshnessPolicy.time_window(
        fail_window=timedelta(hours=30), warn_window=timedelta(hours=26)
    ),
}
