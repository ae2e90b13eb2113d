"""The one `Definitions` object of the platform (`energy_assets.definitions:defs`)."""

from __future__ import annotations

import os

from dagster import Definitions
from dagster_gcp import GCSResource

from energy_assets import config
from energy_assets.features.assets import consumption_features
from energy_assets.forecasting.assets import forecasts
from energy_assets.ingestion.assets import raw_consumption
from energy_assets.monitoring.assets import drift_report, forecast_accuracy
from energy_assets.monitoring.sensors import retrain_on_drift_or_error
from energy_assets.resources.energidata import EnergiDataClient
from energy_assets.resources.io_manager import ParquetIOManager
from energy_assets.resources.storage import ParquetStorage
from energy_assets.resources.tracking import MlflowTracking
from energy_assets.schedules import (
    daily_monitoring_job,
    daily_monitoring_schedule,
    forecasts_backfill_job,
    hourly_forecast_job,
    hourly_forecast_schedule,
    ingestion_backfill_job,
    retrain_job,
)
from energy_assets.training.assets import forecasting_model


def build_resources() -> dict:
    """Resources configured from the environment, so one set of definitions runs anywhere."""
    gcs = GCSResource(project=os.environ.get("GOOGLE_CLOUD_PROJECT"))
    storage_url = config.storage_url()
    return {
        "io_manager": ParquetIOManager(storage_url=storage_url, gcs=gcs),
        "storage": ParquetStorage(storage_url=storage_url, gcs=gcs),
        "energidata": EnergiDataClient(api_url=config.api_url(), dataset=config.dataset()),
        "mlflow": MlflowTracking(tracking_uri=config.mlflow_tracking_uri()),
    }


def build_definitions() -> Definitions:
    """Definitions with resources read from the environment now (tests and the demo call this)."""
    return Definitions(
        assets=[
            raw_consumption,
            consumption_features,
            forecasting_model,
            forecasts,
            forecast_accuracy,
            drift_report,
        ],
        jobs=[
            hourly_forecast_job,
            ingestion_backfill_job,
            forecasts_backfill_job,
            daily_monitoring_job,
            retrain_job,
        ],
        schedules=[hourly_forecast_schedule, daily_monitoring_schedule],
        sensors=[retrain_on_drift_or_error],
        resources=build_resources(),
    )


defs = build_definitions()
