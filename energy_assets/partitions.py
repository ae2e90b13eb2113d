"""Partitions shared by the asset graph: hourly (UTC) for data and forecasts, daily for monitoring."""

from __future__ import annotations

from dagster import DailyPartitionsDefinition, HourlyPartitionsDefinition

from energy_assets import config

hourly_partitions = HourlyPartitionsDefinition(start_date=config.partitions_start(), timezone="UTC")
daily_partitions = DailyPartitionsDefinition(
    start_date=config.partitions_start().split("-00:00")[0][:10], timezone="UTC"
)
