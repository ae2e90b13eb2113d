"""The Dagster layer: assets, checks, jobs, schedules, sensors, resources and partitions.

Thin on purpose: each asset body reads its inputs, calls plain functions of the domain packages
(`energy_assets.ingestion`, `.features`, `.training`, `.forecasting`, `.monitoring`, ...) and
returns a value with metadata. The domain never imports this package. Domain modules are
imported inside the asset bodies, so loading the code location imports little beyond dagster
(no pandas, no ML libraries).

`build_definitions(settings)` assembles everything; `energy_assets.definitions` calls it with the
settings read from the environment.
"""

from __future__ import annotations

import warnings
from typing import Any

import dagster as dg

from energy_assets import sources
from energy_assets.defs.alerts import AlertsResource, build_alert_sensors
from energy_assets.defs.automation import build_catch_up_sensor
from energy_assets.defs.corrections import build_correction_sensor
from energy_assets.defs.features import build_features_assets
from energy_assets.defs.forecasting import build_forecasting_assets
from energy_assets.defs.ingestion import build_ingestion_assets
from energy_assets.defs.io_manager import STEP_IO_MANAGER, ParquetIOManager, StepValueIOManager
from energy_assets.defs.jobs import build_jobs
from energy_assets.defs.monitoring import build_monitoring_assets
from energy_assets.defs.partitions import Partitions
from energy_assets.defs.products import (
    build_product_assets,
    build_product_schedules,
    day_ahead_job,
    intraday_job,
)
from energy_assets.defs.realtime import (
    REALTIME_RESOURCE,
    build_realtime_assets,
    build_realtime_schedule,
    realtime_load_job,
)
from energy_assets.defs.resources import (
    EnergiDataResource,
    GreatExpectationsResource,
    MlflowResource,
    OptunaResource,
    StorageResource,
    WeatherResource,
)
from energy_assets.defs.revisions import build_revision_job, build_revision_schedules
from energy_assets.defs.schedules import build_schedules
from energy_assets.defs.sensors import build_retrain_sensor, thresholds_from_settings
from energy_assets.defs.training import build_training_assets
from energy_assets.defs.weather import build_weather_assets, build_weather_schedule, weather_job
from energy_assets.settings import Settings


def _from_env(settings: Settings, field: str) -> Any:
    """`dg.EnvVar` of the variable a setting was read from, else the setting's value.

    So the UI shows the variable's name and the value (a bucket, a tracking URI that may carry
    a password) stays out of the code location's snapshot; defaults are plain values.
    """
    variable = settings.environment_variable(field)
    return dg.EnvVar(variable) if variable else getattr(settings, field)


def build_resources(settings: Settings) -> dict[str, Any]:
    """Every resource the assets use, keyed as the assets name their parameters."""
    storage = StorageResource(
        storage_url=_from_env(settings, "storage_url"),
        gcp_project=_from_env(settings, "gcp_project"),
        reports_url=_from_env(settings, "reports_url"),
    )
    return {
        "storage": storage,
        "io_manager": ParquetIOManager(storage=storage),
        STEP_IO_MANAGER: StepValueIOManager(storage=storage),
        "energidata": EnergiDataResource(
            api_url=_from_env(settings, "api_url"),
            dataset=_from_env(settings, "dataset"),
            min_interval_seconds=settings.api_request_interval_seconds,
        ),
        "weather_api": WeatherResource(
            api_url=_from_env(settings, "weather_api_url"),
            locations=_from_env(settings, "weather_locations"),
        ),
        "mlflow": MlflowResource(tracking_uri=_from_env(settings, "mlflow_tracking_uri")),
        "optuna": OptunaResource(storage_url=_from_env(settings, "optuna_storage_url")),
        "gx": GreatExpectationsResource(),
        # The areas' total load in near real time: its own dataset, the same request pool.
        REALTIME_RESOURCE: EnergiDataResource(
            api_url=_from_env(
                settings, "realtime_api_url" if settings.realtime_api_url else "api_url"
            ),
            dataset=sources.ELECTRICITY_BALANCE_NONV.dataset,
            min_interval_seconds=settings.realtime_request_interval_seconds,
        ),
        "alerts": build_alerts_resource(settings),
    }


def build_alerts_resource(settings: Settings) -> AlertsResource:
    """ENERGY_UI_URL and ENERGY_ALERT_*: secrets (the webhook URL, the SMTP password) as EnvVar."""
    return AlertsResource(
        ui_url=settings.ui_url,
        webhook_url=_from_env(settings, "alert_webhook_url"),
        smtp_host=_from_env(settings, "alert_smtp_host"),
        smtp_port=settings.alert_smtp_port,
        smtp_from=_from_env(settings, "alert_smtp_from"),
        smtp_to=_from_env(settings, "alert_smtp_to"),
        smtp_user=_from_env(settings, "alert_smtp_user"),
        smtp_password=_from_env(settings, "alert_smtp_password"),
        smtp_starttls=settings.alert_smtp_starttls,
    )


def build_definitions(settings: Settings) -> dg.Definitions:
    """The platform's Definitions for `settings` (tests and the demo call this directly)."""
    partitions = Partitions.from_settings(settings)
    with warnings.catch_warnings():
        # BackfillPolicy.multi_run() is how a range runs in bounded units (DESIGN.md); Dagster 1.13
        # still marks the parameter beta, which would be printed on every load of the location.
        warnings.filterwarnings(
            "ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning
        )
        # Partitioned checks show which hour failed on the partition bar (defs/checks.py).
        warnings.filterwarnings(
            "ignore",
            message="Specifying a partitions_def on an AssetCheckSpec",
            category=dg.PreviewWarning,
        )
        assets = [
            *build_ingestion_assets(partitions, settings.source),
            *build_weather_assets(partitions),
            *build_realtime_assets(partitions),
            *build_features_assets(
                partitions,
                settings.source,
                block_implausible=settings.implausible_values == "block",
            ),
            *build_training_assets(),
            *build_forecasting_assets(partitions, settings.source),
            *build_product_assets(partitions, settings.publication_delay_hours, settings.source),
            *build_monitoring_assets(partitions),
        ]
    revision_job = build_revision_job(partitions)
    return dg.Definitions(
        assets=assets,
        # Steps in one process: the multiprocess executor would start a process per step, and each
        # loads the code location again (two to three extra loads per hourly run, for steps that
        # run one after the other anyway). A crashed run worker is retried as a whole (run_retries).
        executor=dg.in_process_executor,
        jobs=[
            *build_jobs(settings.retrain_executor),
            revision_job,
            weather_job,
            day_ahead_job,
            intraday_job,
            realtime_load_job,
        ],
        schedules=[
            *build_schedules(settings),
            *build_revision_schedules(revision_job, settings.source.revision_days),
            build_weather_schedule(),
            build_realtime_schedule(),
            *build_product_schedules(),
        ],
        sensors=[
            build_retrain_sensor(
                thresholds_from_settings(settings),
                interval_seconds=settings.retrain_sensor_interval_seconds,
            ),
            *build_alert_sensors(),
            build_catch_up_sensor(settings),
            build_correction_sensor(partitions),
        ],
        resources=build_resources(settings),
    )
