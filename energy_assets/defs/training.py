"""`forecasting_model`: tune, train, register and (maybe) promote the global forecaster."""

from typing import Any

import dagster as dg

from energy_assets.contracts import CLEAN_COLUMNS, FEATURES, REGISTERED_MODEL_NAME, hour_text
from energy_assets.defs import keys
from energy_assets.defs.metadata import charts, dagster_run_tags, link_or_text, markdown_table
from energy_assets.defs.resources import MlflowResource, OptunaResource, StorageResource

STUDY_NAME = REGISTERED_MODEL_NAME


class ForecastingModelConfig(dg.Config):
    """How much history to learn from and how hard to search."""

    training_window_days: int = 56
    # The newest days of the window are the backtest on which candidate and champion compete.
    backtest_days: int = 7
    n_trials: int = 20
    timeout_seconds: int = 900
    n_folds: int = 3
    # ISO hour (UTC) of the last training hour; default: the newest materialised features hour.
    training_end: str | None = None
    # The Optuna study (in the `optuna` resource's storage) this run adds its trials to.
    study_name: str = STUDY_NAME
    # Parameters held fixed over the search and the final fit, e.g. {"num_boost_round": 150}
    # for a quick run; empty means the full search space.
    fixed_params: dict[str, Any] = {}


def training_end_hour(context: dg.AssetExecutionContext, training_end: str | None) -> Any:
    """The configured last training hour, else the newest materialised features hour (UTC)."""
    from energy_assets.contracts import hour_of_key, utc

    if training_end:
        return utc(training_end).floor("h")
    materialised = context.instance.get_materialized_partitions(keys.CONSUMPTION_FEATURES)
    if not materialised:
        raise dg.Failure(
            "consumption_features has no materialised partition: backfill raw_consumption and "
            "consumption_features first (job ingestion_backfill_job)."
        )
    return hour_of_key(max(materialised))


def build_training_assets() -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=keys.FORECASTING_MODEL,
        group_name="training",
        kinds={"lightgbm", "optuna", "mlflow"},
        deps=[keys.CONSUMPTION_FEATURES],
        description=(
            "The Optuna-tuned global LightGBM forecaster. Trains on a window of "
            "consumption_features, logs every trial as a nested MLflow run, registers a new "
            "version of `energy_consumption_forecaster`, and moves alias `champion` to it only if "
            "it beats the current champion on the same backtest window (the newest "
            "`backtest_days`)."
        ),
    )
    def forecasting_model(
        context: dg.AssetExecutionContext,
        config: ForecastingModelConfig,
        storage: StorageResource,
        mlflow: MlflowResource,
        optuna: OptunaResource,
    ) -> dg.Output:
        import pandas as pd

        from energy_assets.contracts import hour_keys
        from energy_assets.training import model_store, train, tuning
        from energy_assets.training.backtest import refit_evaluator

        end = training_end_hour(context, config.training_end)
        start = end - pd.Timedelta(days=config.training_window_days) + pd.Timedelta(hours=1)
        features = storage.store().read_many(
            FEATURES.name, hour_keys(start, end + pd.Timedelta(hours=1)), missing_ok=True
        )
        if features.empty:
            raise dg.Failure(
                f"No consumption_features between {hour_text(start)} and {hour_text(end)}: "
                "backfill them first."
            )
        consumption = features[CLEAN_COLUMNS].sort_values(["datetime_utc", "area", "consumer_type"])
        hours = consumption["datetime_utc"].nunique()
        context.log.info(
            f"Training window {hour_text(start)} → {hour_text(end)}: {len(consumption)} rows "
            f"over {hours} hours"
        )
        cutoff = end - pd.Timedelta(days=config.backtest_days)
        tracking = mlflow.settings()
        candidate = train.train_candidate(
            consumption,
            cutoff,
            config.backtest_days,
            tuning_plan=train.TuningPlan(
                n_trials=config.n_trials,
                storage_url=optuna.storage_url,
                study_name=config.study_name,
                n_folds=config.n_folds,
                timeout_seconds=config.timeout_seconds,
            ),
            tracking=tracking,
            fixed_params=config.fixed_params,
            run_tags=dagster_run_tags(context),
        )
        tuned, scored, forecaster = candidate.tuned, candidate.scored, candidate.forecaster
        assert tuned is not None and forecaster is not None
        version = model_store.register(
            forecaster,
            tracking,
            scored.metrics,
            parent_run_id=tuned.parent_run_id,
            extra_tags={"dagster_run_id": context.run_id},
        )
        decision = model_store.promote_if_better(
            tracking,
            version,
            candidate_score=scored.metrics["model"]["mape"],
            # Refit the champion's configuration on the same cutoff: a champion trained days
            # ago may have seen part of this window, which would make it look better than it is.
            evaluate_champion=refit_evaluator(consumption, cutoff, candidate.origins),
            candidate=forecaster,
            window=f"the {config.backtest_days} daily origins from {hour_text(cutoff)}",
            window_start=candidate.origins[0],
        )
        context.log.info(decision.reason)
        summary = train.metrics_table(scored.metrics)
        importance = forecaster.feature_importance()
        tuning.log_feature_importance(tracking.run(tuned.parent_run_id), importance)
        from energy_assets.reporting.charts import model_charts

        pngs = model_charts(scored.predictions, importance, tuned.study.trials)
        for name, png in pngs.items():
            tracking.run(tuned.parent_run_id).log_bytes(png, f"charts/{name}.png")
        return dg.Output(
            summary,
            metadata={
                "model_version": str(version),
                "model_uri": version.model_uri,
                "champion": decision.promoted,
                "champion_version": str(decision.champion_version),
                "promotion": decision.reason,
                "training_window": f"{hour_text(start)} → {hour_text(end)}",
                "training_rows": len(consumption),
                "series": int(consumption[["area", "consumer_type"]].drop_duplicates().shape[0]),
                "trials_run": tuned.n_trials_run,
                "trials_in_study": len(tuned.study.trials),
                "best_params": dg.MetadataValue.json(train.jsonable(candidate.params)),
                "backtest_mape": float(scored.metrics["model"]["mape"]),
                "backtest_wape": float(scored.metrics["model"]["wape"]),
                "seasonal_naive_24_mape": float(scored.metrics["seasonal_naive_24"]["mape"]),
                "seasonal_naive_168_mape": float(scored.metrics["seasonal_naive_168"]["mape"]),
                "fit_seconds": round(float(scored.fit_seconds), 2),
                "metrics": markdown_table(summary, floatfmt=".4f"),
                "feature_importance": markdown_table(importance.head(10)),
                "mlflow_run": link_or_text(tracking.run_url(tuned.parent_run_id)),
                **charts(pngs),
            },
        )

    return [forecasting_model]
