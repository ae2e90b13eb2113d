"""Jobs: the hourly forecast loop, backfills, daily monitoring and retraining."""

from __future__ import annotations

import dagster as dg

from energy_assets.defs import keys

hourly_forecast_job = dg.define_asset_job(
    "hourly_forecast_job",
    selection=dg.AssetSelection.assets(
        keys.RAW_CONSUMPTION, keys.CONSUMPTION_FEATURES, keys.FORECASTS
    ),
    # A not-yet-published hour fails raw_consumption; try again a few times within the hour.
    op_retry_policy=dg.RetryPolicy(max_retries=3, delay=300, backoff=dg.Backoff.EXPONENTIAL),
    description="Ingest the newest publishable hour, build its features and forecast the next 24 h.",
)

ingestion_backfill_job = dg.define_asset_job(
    "ingestion_backfill_job",
    selection=dg.AssetSelection.assets(keys.RAW_CONSUMPTION, keys.CONSUMPTION_FEATURES),
    description="Raw records and features over a range of hours: one run, a few paged requests.",
)

forecasts_backfill_job = dg.define_asset_job(
    "forecasts_backfill_job",
    selection=dg.AssetSelection.assets(keys.FORECASTS),
    description="Forecasts over a range of origins: the model and feature window load once per run.",
)

daily_monitoring_job = dg.define_asset_job(
    "daily_monitoring_job",
    selection=dg.AssetSelection.assets(keys.FORECAST_ACCURACY, keys.DRIFT_REPORT),
    description="Score yesterday's forecasts against actuals and report feature drift.",
)

retrain_job = dg.define_asset_job(
    "retrain_job",
    selection=dg.AssetSelection.assets(keys.FORECASTING_MODEL),
    description="Tune, train, register and maybe promote the forecaster (run by the drift sensor).",
)

JOBS = [
    hourly_forecast_job,
    ingestion_backfill_job,
    forecasts_backfill_job,
    daily_monitoring_job,
    retrain_job,
]
