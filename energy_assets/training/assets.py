"""`forecasting_model`: tune, train, register and (maybe) promote the global forecaster."""

from typing import Any

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetKey,
    Config,
    MetadataValue,
    Output,
    asset,
)

from energy_assets import config as settings
from energy_assets.features.engineering import CLEAN_COLUMNS
from energy_assets.monitoring.assets import hourly_keys
from energy_assets.resources.storage import ParquetStorage
from energy_assets.resources.tracking import MlflowTracking
from energy_assets.training import registry, tuning
from energy_assets.training.backtest import backtest
from energy_assets.training.forecaster import DEFAULT_PARAMS, GlobalLGBMForecaster


class ForecastingModelConfig(Config):
    """How much history to learn from and how hard to search."""

    training_window_days: int = 56
    # The newest days of the window are the backtest on which candidate and champion compete.
    backtest_days: int = 7
    n_trials: int = 20
    timeout_seconds: int = 900
    n_folds: int = 3
    # ISO hour (UTC) of the last training hour; default: the newest materialised features hour.
    training_end: str | None = None
    # Optuna RDB storage; default ENERGY_OPTUNA_STORAGE or a sqlite file under DAGSTER_HOME.
    optuna_storage_url: str | None = None
    study_name: str = "energy_consumption_forecaster"
    # Parameters held fixed over the search and the final fit, e.g. {"num_boost_round": 150}
    # for a quick run; empty means the full search space.
    fixed_params: dict[str, Any] = {}


def newest_materialised_hour(context: AssetExecutionContext) -> pd.Timestamp:
    keys = context.instance.get_materialized_partitions(AssetKey("consumption_features"))
    if not keys:
        raise ValueError(
            "consumption_features has no materialised partition: backfill raw_consumption and "
            "consumption_features first (job ingestion_backfill_job)."
        )
    return pd.to_datetime(max(keys), format="%Y-%m-%d-%H:%M").tz_localize("UTC")


def training_end_hour(context: AssetExecutionContext, training_end: str | None) -> pd.Timestamp:
    if not training_end:
        return newest_materialised_hour(context)
    end = pd.Timestamp(training_end)
    return (end.tz_localize("UTC") if end.tz is None else end.tz_convert("UTC")).floor("h")


@asset(
    group_name="training",
    kinds={"lightgbm", "optuna", "mlflow"},
    deps=["consumption_features"],
    description=(
        "The Optuna-tuned global LightGBM forecaster. Trains on a window of consumption_features, "
        "logs every trial as a nested MLflow run, registers a new version of "
        "`energy_consumption_forecaster`, and moves alias `champion` to it only if it beats the "
        "current champion on the same backtest window (the newest `backtest_days`)."
    ),
)
def forecasting_model(
    context: AssetExecutionContext,
    config: ForecastingModelConfig,
    storage: ParquetStorage,
    mlflow: MlflowTracking,
) -> Output[pd.DataFrame]:
    end = training_end_hour(context, config.training_end)
    start = end - pd.Timedelta(days=config.training_window_days) + pd.Timedelta(hours=1)
    features = storage.store().read_many(
        "consumption_features", hourly_keys(start, end + pd.Timedelta(hours=1)), missing_ok=True
    )
    if features.empty:
        raise ValueError(f"No consumption_features between {start} and {end}: backfill them first.")
    consumption = features[CLEAN_COLUMNS].sort_values(["datetime_utc", "area", "consumer_type"])
    hours = consumption["datetime_utc"].nunique()
    context.log.info(f"Training window {start} → {end}: {len(consumption)} rows over {hours} hours")
    cutoff = end - pd.Timedelta(days=config.backtest_days)
    tracking = mlflow.settings()
    tracking.activate()
    tuned = tuning.tune(
        consumption[consumption["datetime_utc"] <= cutoff],
        n_trials=config.n_trials,
        timeout_seconds=config.timeout_seconds,
        storage_url=config.optuna_storage_url or settings.optuna_storage_url(),
        study_name=config.study_name,
        n_folds=config.n_folds,
        tracking=tracking,
        fit_best=False,
        fixed_params=config.fixed_params,
        run_tags=MlflowTracking.dagster_tags(context),
    )
    params = {**DEFAULT_PARAMS, **tuned.best_params, **config.fixed_params}
    # Out-of-sample score of the tuned configuration on the newest days, with both naives.
    scored = backtest(consumption, cutoff=cutoff, origins=config.backtest_days, params=params)
    forecaster = GlobalLGBMForecaster(params=params).fit(consumption)
    version = registry.log_and_register(
        forecaster,
        metrics=scored.metrics,
        parent_run_id=tuned.parent_run_id,
        tracking=tracking,
        extra_tags={"dagster_run_id": context.run_id},
    )
    origins = sorted(scored.predictions["forecast_origin"].unique())
    decision = registry.promote_if_better(
        version,
        candidate_score=scored.metrics["model"]["mape"],
        # Refit the champion's configuration on the same cutoff: a champion trained days ago
        # may have seen part of this window, which would make it look better than it is.
        evaluate_champion=registry.refit_evaluator(consumption, cutoff, list(origins)),
        tracking=tracking,
        candidate=forecaster,
        window=f"the {config.backtest_days} daily origins from {cutoff:%Y-%m-%dT%H:%MZ}",
        window_start=origins[0],
    )
    context.log.info(decision.reason)
    summary = metrics_table(scored.metrics)
    run_link = mlflow.run_url(tuned.parent_run_id)
    importance = forecaster.feature_importance()
    tuning.log_feature_importance(importance, run_id=tuned.parent_run_id)
    importance = importance.head(10)
    return Output(
        summary,
        metadata={
            "model_version": str(version),
            "model_uri": version.model_uri,
            "champion": decision.promoted,
            "champion_version": str(decision.champion_version),
            "promotion": decision.reason,
            "training_window": f"{start:%Y-%m-%dT%H:%MZ} → {end:%Y-%m-%dT%H:%MZ}",
            "training_rows": len(consumption),
            "series": int(consumption[["area", "consumer_type"]].drop_duplicates().shape[0]),
            "trials_run": tuned.n_trials_run,
            "trials_in_study": len(tuned.study.trials),
            "best_params": MetadataValue.json(_jsonable(params)),
            "backtest_mape": float(scored.metrics["model"]["mape"]),
            "backtest_wape": float(scored.metrics["model"]["wape"]),
            "seasonal_naive_24_mape": float(scored.metrics["seasonal_naive_24"]["mape"]),
            "seasonal_naive_168_mape": float(scored.metrics["seasonal_naive_168"]["mape"]),
            "fit_seconds": round(float(scored.fit_seconds), 2),
            "metrics": MetadataValue.md(summary.to_markdown(index=False, floatfmt=".4f")),
            "feature_importance": MetadataValue.md(importance.to_markdown(index=False)),
            "mlflow_run": MetadataValue.url(run_link)
            if run_link.startswith("http")
            else MetadataValue.text(run_link),
        },
    )


def metrics_table(metrics: dict) -> pd.DataFrame:
    """Model and baselines side by side, with the model's MAPE as a ratio of each one's."""
    rows = [
        {"forecaster": name, **{k: values[k] for k in ("mape", "wape", "median_series_mape")}}
        for name, values in metrics.items()
    ]
    table = pd.DataFrame(rows)
    table["model_mape_ratio"] = metrics["model"]["mape"] / table["mape"]
    return table


def _jsonable(params: dict) -> dict:
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in params.items()}
