"""Partitions shared by the asset graph: hourly (UTC) for data and forecasts, daily for monitoring."""

from __future__ import annotations

import warnings

from dagster import (
    BetaWarning,
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
    TimeWindowPartitionMapping,
)

from energy_assets import config

hourly_partitions = HourlyPartitionsDefinition(start_date=config.partitions_start(), timezone="UTC")
daily_partitions = DailyPartitionsDefinition(
    start_date=config.partitions_start().split("-00:00")[0][:10], timezone="UTC"
)


def lookback_mapping(hours: int = 0) -> TimeWindowPartitionMapping:
    """Map a partition to its own window plus `hours` before it, tolerating hours before the start.

    At the first partitions of the dataset the lookback reaches before the first hour; those
    upstream partitions do not exist and the window is simply shorter. Dagster marks the
    parameter that allows this as beta; it is the documented way, so its warning is silenced here
    in this one place rather than shown on every load.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)
        return TimeWindowPartitionMapping(
            start_offset=-hours, allow_nonexistent_upstream_partitions=True
        )
