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

RETRAIN_JOB = "retrain_job"
# Each tuning worker pod of the retrain job on Kubernetes: one core, its LightGBM one thread.
K8S_TUNING_STEP_CONFIG = {
    "container_config": {
        "resources": {
            "requests": {"cpu": "1", "memory": "2Gi"},
            "limits": {"cpu": "1", "memory": "4Gi"},
        }
    }
}


def build_retrain_job(executor: str = "multiprocess") -> dg.UnresolvedAssetJobDefinition:
    """`retrain_job`: forecasting_model, whose tuning workers are steps run in parallel.

    executor "multiprocess" (ENERGY_RETRAIN_EXECUTOR default): one process per step on the run
    worker's machine; "k8s": dagster-k8s' `k8s_job_executor`, one pod per step, with the image,
    env and secrets of the run (the K8sRunLauncher's), so every worker gets its own node share.
    """
    # Explicit: the location's default executor runs steps in one process (defs/__init__.py).
    executor_def: dg.ExecutorDefinition = dg.multiprocess_executor
    if executor == "k8s":
        from dagster_k8s import k8s_job_executor

        executor_def = k8s_job_executor.configured(
            {"max_concurrent": 8, "step_k8s_config": K8S_TUNING_STEP_CONFIG},
            name="k8s_tuning_executor",
        )
    return dg.define_asset_job(
        RETRAIN_JOB,
        selection=dg.AssetSelection.assets(keys.FORECASTING_MODEL),
        executor_def=executor_def,
        description=(
            "Tune (n_workers parallel steps on one Optuna study), train, register and maybe "
            "promote the forecaster (run by the drift sensor)."
        ),
    )


def build_jobs(retrain_executor: str = "multiprocess") -> list[dg.UnresolvedAssetJobDefinition]:
    return [
        hourly_forecast_job,
        ingestion_backfill_job,
        forecasts_backfill_job,
        daily_monitoring_job,
        build_retrain_job(retrain_executor),
    ]
