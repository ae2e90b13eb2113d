"""Jobs and schedules: the hourly forecast loop, daily monitoring, retraining, backfills."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from dagster import (
    AssetSelection,
    Backoff,
    DefaultScheduleStatus,
    RetryPolicy,
    RunRequest,
    ScheduleEvaluationContext,
    define_asset_job,
    schedule,
)

from energy_assets import config
from energy_assets.partitions import daily_partitions, hourly_partitions

hourly_forecast_job = define_asset_job(
    "hourly_forecast_job",
    selection=AssetSelection.assets("raw_consumption", "consumption_features", "forecasts"),
    partitions_def=hourly_partitions,
    # A not-yet-published hour fails raw_consumption; try again a few times within the hour.
    op_retry_policy=RetryPolicy(max_retries=3, delay=300, backoff=Backoff.EXPONENTIAL),
    description="Ingest the newest publishable hour, build its features and forecast the next 24 h.",
)

ingestion_backfill_job = define_asset_job(
    "ingestion_backfill_job",
    selection=AssetSelection.assets("raw_consumption", "consumption_features"),
    partitions_def=hourly_partitions,
    description="Raw records and features over a range of hours: one run, a few paged requests.",
)

forecasts_backfill_job = define_asset_job(
    "forecasts_backfill_job",
    selection=AssetSelection.assets("forecasts"),
    partitions_def=hourly_partitions,
    description="Forecasts over a range of origins: the model and feature window load once per run.",
)

daily_monitoring_job = define_asset_job(
    "daily_monitoring_job",
    selection=AssetSelection.assets("forecast_accuracy", "drift_report"),
    partitions_def=daily_partitions,
    description="Score yesterday's forecasts against actuals and report feature drift.",
)

retrain_job = define_asset_job(
    "retrain_job",
    selection=AssetSelection.assets("forecasting_model"),
    description="Tune, train, register and maybe promote the forecaster (run by the drift sensor).",
)


def newest_publishable_hour(now: datetime, delay_hours: int | None = None) -> str:
    """Hourly partition key of the newest hour the source should have published by `now`."""
    delay = config.publication_delay_hours() if delay_hours is None else delay_hours
    hour = pd.Timestamp(now).tz_convert("UTC").floor("h") - pd.Timedelta(hours=delay)
    return hour.strftime("%Y-%m-%d-%H:%M")


def newest_scorable_day(now: datetime, delay_hours: int | None = None) -> str:
    """Daily partition key of the newest day whose forecasts (24 h past the day) have actuals."""
    delay = config.publication_delay_hours() if delay_hours is None else delay_hours
    published_until = pd.Timestamp(now).tz_convert("UTC").floor("h") - pd.Timedelta(hours=delay)
    day = (published_until - pd.Timedelta(hours=47)).floor("D")
    return day.strftime("%Y-%m-%d")


@schedule(
    job=hourly_forecast_job,
    cron_schedule="5 * * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
    description="Every hour: the newest publishable hour (now minus the publication delay).",
)
def hourly_forecast_schedule(context: ScheduleEvaluationContext):
    partition_key = newest_publishable_hour(context.scheduled_execution_time)
    return RunRequest(run_key=partition_key, partition_key=partition_key)


@schedule(
    job=daily_monitoring_job,
    cron_schedule="30 6 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
    description="Every morning: accuracy and drift for the newest day with published actuals.",
)
def daily_monitoring_schedule(context: ScheduleEvaluationContext):
    partition_key = newest_scorable_day(context.scheduled_execution_time)
    return RunRequest(run_key=partition_key, partition_key=partition_key)
