"""`forecasting_model`: tune, train, register and promote the global forecaster.

A graph-backed asset whose ops are one-line calls into the typed steps of
`energy_assets.training.steps` (plan → shares of tuning → finalise), so the Optuna search fans
out over steps of one run:

    prepare_tuning ──► tune_worker[worker_0] ──┐
                   ├─► tune_worker[worker_1] ──┼─► finalize_model  (the asset's value)
                   └─► …  (n_workers, config) ─┘

The multiprocess executor runs the workers in parallel processes; `k8s_job_executor`
(ENERGY_RETRAIN_EXECUTOR=k8s) runs each as its own pod. They share the study through the Optuna
RDB (ENERGY_OPTUNA_STORAGE) and nest their trials under one MLflow parent run; the plan and the
shares travel as JSON through the step IO manager. Run config keeps the shape of a plain asset:
ops.forecasting_model.config.{…}.
"""

from typing import Any

import dagster as dg

from energy_assets import metadata_keys as meta
from energy_assets.contracts import CLEAN_COLUMNS, FEATURES, STUDY_NAME, hour_text
from energy_assets.defs import errors, keys
from energy_assets.defs.io_manager import STEP_IO_MANAGER
from energy_assets.defs.metadata import charts, dagster_run_tags, link_or_text, markdown_table
from energy_assets.defs.resources import MlflowResource, OptunaResource, StorageResource


class ForecastingModelConfig(dg.Config):
    """How much history to learn from and how hard to search."""

    training_window_days: int = 56
    # The newest days of the window are the backtest on which candidate and champion compete.
    backtest_days: int = 7
    n_trials: int = 20
    # Tuning steps sharing the trials; each runs in its own process (or pod on Kubernetes) with
    # its share of the cores for LightGBM. At most n_trials start (each gets a trial).
    n_workers: int = 2
    timeout_seconds: int = 900
    n_folds: int = 3
    # ISO hour (UTC) of the last training hour; default: the newest materialised features hour.
    training_end: str | None = None
    # The Optuna study (in the `optuna` resource's storage) this run adds its trials to.
    study_name: str = STUDY_NAME
    # Parameters held fixed over the search and the final fit, e.g. {"num_boost_round": 150}
    # for a quick run; empty means the full search space.
    fixed_params: dict[str, Any] = {}


def training_end_hour(context: dg.OpExecutionContext, training_end: str | None) -> Any:
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


def read_training_window(storage: StorageResource, plan: Any) -> Any:
    """The plan's window of consumption_features as a CLEAN frame (one parallel read)."""
    import pandas as pd

    from energy_assets.contracts import hour_keys

    start, end = plan.window_start, plan.window_end
    features = storage.store().read_many(
        FEATURES.name, hour_keys(start, end + pd.Timedelta(hours=1)), missing_ok=True
    )
    if features.empty:
        raise dg.Failure(
            f"No consumption_features between {hour_text(start)} and {hour_text(end)}: "
            "backfill them first (job ingestion_backfill_job)."
        )
    from energy_assets.features.plausibility import without_implausible

    # A value the plausibility check flagged is a gap to the model, not a target to learn.
    clean = without_implausible(features)[CLEAN_COLUMNS]
    return clean.sort_values(["datetime_utc", "area", "segment"])


def services_reachable(mlflow: MlflowResource, optuna: OptunaResource):
    """Failures naming the service that is down, where (no password) and what to do."""
    return errors.services_reachable(mlflow.tracking_uri, optuna.storage_url)


def read_training_weather(storage: StorageResource, plan: Any) -> Any:
    """The stored `weather` hours of the plan's window, or None when there are none: weather is
    an input the forecaster may use, never a requirement (hours it lacks are missing features)."""
    import pandas as pd

    from energy_assets.contracts import WEATHER, hour_keys

    keys = hour_keys(plan.window_start, plan.window_end + pd.Timedelta(hours=1))
    weather = storage.store().read_many(WEATHER.name, keys, missing_ok=True)
    return weather if len(weather) else None


def training_services(mlflow: MlflowResource, optuna: OptunaResource) -> Any:
    from energy_assets.training.steps import TrainingServices

    return TrainingServices(optuna_storage_url=optuna.storage_url, tracking=mlflow.settings())


@dg.op(
    out={
        "plan": dg.Out(io_manager_key=STEP_IO_MANAGER),
        "shares": dg.DynamicOut(io_manager_key=STEP_IO_MANAGER),
    },
    ins={"consumption_features": dg.In(dg.Nothing)},
    description="Plan the run (window, cutoff, budget), open the Optuna study and the MLflow "
    "parent run, and hand each tuning worker its share of the trials.",
)
def prepare_tuning(
    context: dg.OpExecutionContext,
    config: ForecastingModelConfig,
    storage: StorageResource,
    mlflow: MlflowResource,
    optuna: OptunaResource,
):
    import pandas as pd

    from energy_assets.training import steps

    if config.n_workers < 1 or config.n_trials < 1:
        raise dg.Failure(
            f"n_workers={config.n_workers} with n_trials={config.n_trials}: tuning needs at "
            "least one worker and one trial."
        )
    end = training_end_hour(context, config.training_end)
    plan = steps.plan_training(
        window_start=end - pd.Timedelta(days=config.training_window_days, hours=-1),
        window_end=end,
        backtest_days=config.backtest_days,
        budget=steps.TuningBudget(
            n_trials=config.n_trials,
            n_workers=config.n_workers,
            timeout_seconds=config.timeout_seconds,
            n_folds=config.n_folds,
            study_name=config.study_name,
            fixed_params=config.fixed_params,
        ),
    )
    consumption = read_training_window(storage, plan)
    context.log.info(
        f"Training window {plan.window_text}: {len(consumption)} rows over "
        f"{consumption['datetime_utc'].nunique()} hours; {config.n_trials} trials over "
        f"{len(plan.shares())} worker(s)"
    )
    with services_reachable(mlflow, optuna):
        plan = steps.open_tuning(
            plan,
            training_services(mlflow, optuna),
            run_tags=dagster_run_tags(context, keys.FORECASTING_MODEL),
        )
    yield dg.Output(plan, "plan")
    for share in plan.shares():
        yield dg.DynamicOutput(share, mapping_key=f"worker_{share.worker}", output_name="shares")


@dg.op(
    out=dg.Out(io_manager_key=STEP_IO_MANAGER),
    description="Run this worker's share of the Optuna trials on the shared study; every trial "
    "is a nested MLflow run, pruned against all workers' trials.",
)
def tune_worker(
    context: dg.OpExecutionContext,
    plan: Any,
    share: Any,
    storage: StorageResource,
    mlflow: MlflowResource,
    optuna: OptunaResource,
) -> Any:
    from energy_assets.training import steps

    with services_reachable(mlflow, optuna):
        result = steps.run_share(
            plan, share, read_training_window(storage, plan), training_services(mlflow, optuna)
        )
    context.log.info(
        f"worker {share.worker}: {result.trials_run} trial(s) with {share.num_threads} "
        "LightGBM thread(s)"
    )
    return result


@dg.op(
    description="Compare the tuned configuration with the champion's on the same backtest, fit "
    "the winner on the whole window as `champion` and the loser as `challenger`.",
)
def finalize_model(
    context: dg.OpExecutionContext,
    plan: Any,
    workers: list,
    storage: StorageResource,
    mlflow: MlflowResource,
    optuna: OptunaResource,
) -> dg.Output:
    from energy_assets.reporting.charts import model_charts
    from energy_assets.training import steps

    services = training_services(mlflow, optuna)
    with services_reachable(mlflow, optuna):
        outcome = steps.finalise(
            plan,
            workers,
            read_training_window(storage, plan),
            services,
            version_tags={"dagster_run_id": context.run_id},
            draw_charts=model_charts,
            weather=read_training_weather(storage, plan),
        )
    context.log.info(outcome.reason)
    mlflow_run = services.tracking.run_url(outcome.mlflow_run_id) if outcome.mlflow_run_id else ""
    return dg.Output(
        outcome.metrics_table(),
        metadata=forecasting_model_metadata(plan, outcome, mlflow_run),
    )


def forecasting_model_metadata(plan: Any, outcome: Any, mlflow_run: str) -> dict[str, Any]:
    """Everything a `forecasting_model` materialisation shows: the one place to add to it."""
    decision, metrics = outcome.decision, outcome.metrics
    champion_score = (
        {}
        if decision.champion_score is None
        else {meta.CHAMPION_SCORE.name: decision.champion_score}
    )
    challenger = (
        {}
        if outcome.challenger_version is None
        else {meta.CHALLENGER_VERSION.name: outcome.challenger_version}
    )
    return {
        meta.MODEL_VERSION.name: outcome.candidate_version,
        "model_uri": outcome.model_uri,
        meta.PROMOTED.name: decision.promoted,
        meta.CHAMPION_VERSION.name: outcome.champion_version,
        **challenger,
        **champion_score,
        meta.PROMOTION_MARGIN.name: float(decision.margin),
        meta.PROMOTION_REASON.name: outcome.reason,
        "training_window": plan.window_text,
        "training_rows": outcome.training_rows,
        "series": outcome.series,
        "tuning_workers": len(outcome.trials_per_worker),
        meta.TRIALS_RUN.name: outcome.trials_run,
        "trials_per_worker": ", ".join(str(n) for n in outcome.trials_per_worker),
        "trials_in_study": outcome.trials_in_study,
        "best_params": dg.MetadataValue.json(outcome.params),
        meta.BACKTEST_MAPE.name: float(metrics["model"]["mape"]),
        "backtest_wape": float(metrics["model"]["wape"]),
        "seasonal_naive_24_mape": float(metrics["seasonal_naive_24"]["mape"]),
        meta.SEASONAL_NAIVE_168_MAPE.name: float(metrics["seasonal_naive_168"]["mape"]),
        "fit_seconds": round(outcome.fit_seconds, 2),
        "metrics": markdown_table(outcome.metrics_table(), floatfmt=".4f"),
        "feature_importance": markdown_table(outcome.importance_frame().head(10)),
        meta.MLFLOW_RUN.name: link_or_text(mlflow_run),
        **charts(outcome.charts),
    }


@dg.config_mapping
def _forecasting_model_config(config: ForecastingModelConfig) -> dict[str, Any]:
    """The asset's config (ops.forecasting_model.config) goes to the step that plans the run."""
    return {"prepare_tuning": {"config": config.model_dump()}}


def build_training_assets() -> list[dg.AssetsDefinition]:
    @dg.graph_asset(
        key=keys.FORECASTING_MODEL,
        group_name="training",
        kinds={"lightgbm", "optuna", "mlflow"},
        # Lineage only: the window is read through the storage resource (an unpartitioned
        # asset with a partitioned input would load every partition).
        ins={
            "consumption_features": dg.AssetIn(
                key=keys.CONSUMPTION_FEATURES, dagster_type=dg.Nothing
            )
        },
        config=_forecasting_model_config,
        description=(
            "The Optuna-tuned global LightGBM forecaster. Trains on a window of "
            "consumption_features; `n_workers` tuning steps share the trials of one study, each "
            "trial a nested MLflow run; registers a new version of "
            "`energy_consumption_forecaster`: the tuned configuration if it beats the champion's "
            "on the same backtest window (the newest `backtest_days`) by more than the promotion "
            "margin, else the champion's configuration refit on the window; alias `champion` "
            "moves to it, so the serving model has seen the newest data."
        ),
    )
    def forecasting_model(consumption_features):
        plan, shares = prepare_tuning(consumption_features)
        workers = shares.map(lambda share: tune_worker(plan, share))
        return finalize_model(plan, workers.collect())

    return [forecasting_model]
