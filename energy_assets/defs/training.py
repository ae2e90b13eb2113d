"""`forecasting_model`: tune, train, register and (maybe) promote the global forecaster.

A graph-backed asset, so the Optuna search fans out over steps of one run:

    prepare_tuning ──► tune_worker[worker_0] ──┐
                   ├─► tune_worker[worker_1] ──┼─► finalize_model  (the asset's value)
                   └─► …  (n_workers, config) ─┘

The multiprocess executor runs the workers in parallel processes; `k8s_job_executor`
(ENERGY_RETRAIN_EXECUTOR=k8s) runs each as its own pod. They share the study through the Optuna
RDB (ENERGY_OPTUNA_STORAGE) and nest their trials under one MLflow parent run. The domain work is
in `energy_assets.training.tuning` / `.train`; the ops only read inputs and hand values on.
Run config keeps the shape of a plain asset: ops.forecasting_model.config.{…}.
"""

from typing import Any

import dagster as dg

from energy_assets import metadata_keys as meta
from energy_assets.contracts import CLEAN_COLUMNS, FEATURES, REGISTERED_MODEL_NAME, hour_text
from energy_assets.defs import errors, keys
from energy_assets.defs.io_manager import STEP_IO_MANAGER
from energy_assets.defs.metadata import charts, dagster_run_tags, link_or_text, markdown_table
from energy_assets.defs.resources import MlflowResource, OptunaResource, StorageResource
from energy_assets.redaction import redact

STUDY_NAME = REGISTERED_MODEL_NAME


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


def read_training_window(storage: StorageResource, plan: dict[str, Any]) -> Any:
    """The plan's window of consumption_features as a CLEAN frame (one parallel read)."""
    import pandas as pd

    from energy_assets.contracts import hour_keys, utc

    start, end = utc(plan["window_start"]), utc(plan["window_end"])
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


@dg.op(
    out={
        "plan": dg.Out(dict, io_manager_key=STEP_IO_MANAGER),
        "assignments": dg.DynamicOut(dict, io_manager_key=STEP_IO_MANAGER),
    },
    ins={"consumption_features": dg.In(dg.Nothing)},
    description="Choose the training window, open the Optuna study and the MLflow parent run, "
    "and hand each tuning worker its share of the trials.",
)
def prepare_tuning(
    context: dg.OpExecutionContext,
    config: ForecastingModelConfig,
    storage: StorageResource,
    mlflow: MlflowResource,
    optuna: OptunaResource,
):
    if config.n_workers < 1 or config.n_trials < 1:
        raise dg.Failure(
            f"n_workers={config.n_workers} with n_trials={config.n_trials}: tuning needs at "
            "least one worker and one trial."
        )
    with services_reachable(mlflow, optuna):
        yield from _prepare_tuning(context, config, storage, mlflow, optuna)


def _prepare_tuning(
    context: dg.OpExecutionContext,
    config: ForecastingModelConfig,
    storage: StorageResource,
    mlflow: MlflowResource,
    optuna: OptunaResource,
):
    import pandas as pd

    from energy_assets.training import tuning

    # Every worker gets at least one trial: more workers than trials would start idle steps.
    n_workers = min(config.n_workers, config.n_trials)
    end = training_end_hour(context, config.training_end)
    start = end - pd.Timedelta(days=config.training_window_days) + pd.Timedelta(hours=1)
    cutoff = end - pd.Timedelta(days=config.backtest_days)
    plan: dict[str, Any] = {
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "cutoff": cutoff.isoformat(),
        "backtest_days": config.backtest_days,
        "n_workers": n_workers,
    }
    consumption = read_training_window(storage, plan)
    context.log.info(
        f"Training window {hour_text(start)} → {hour_text(end)}: {len(consumption)} rows over "
        f"{consumption['datetime_utc'].nunique()} hours; {config.n_trials} trials over "
        f"{n_workers} worker(s)"
    )
    session = tuning.start_session(
        storage_url=optuna.storage_url,
        tracking=mlflow.settings(),
        study_name=config.study_name,
        n_trials=config.n_trials,
        n_workers=n_workers,
        timeout_seconds=config.timeout_seconds,
        n_folds=config.n_folds,
        fixed_params=config.fixed_params,
        run_tags=dagster_run_tags(context, keys.FORECASTING_MODEL),
    )
    plan["session"] = session.as_dict()
    yield dg.Output(plan, "plan")
    threads = tuning.threads_per_worker(n_workers)
    for worker, n_trials in enumerate(tuning.split_trials(config.n_trials, n_workers)):
        yield dg.DynamicOutput(
            {
                **plan,
                "worker": worker,
                "n_trials": n_trials,
                "timeout_seconds": config.timeout_seconds,
                "num_threads": threads,
            },
            mapping_key=f"worker_{worker}",
            output_name="assignments",
        )


@dg.op(
    out=dg.Out(dict, io_manager_key=STEP_IO_MANAGER),
    description="Run this worker's share of the Optuna trials on the shared study; every trial "
    "is a nested MLflow run, pruned against all workers' trials.",
)
def tune_worker(
    context: dg.OpExecutionContext,
    assignment: dict,
    storage: StorageResource,
    mlflow: MlflowResource,
    optuna: OptunaResource,
) -> dict:

    with services_reachable(mlflow, optuna):
        return _tune_worker(context, assignment, storage, mlflow, optuna)


def _tune_worker(
    context: dg.OpExecutionContext,
    assignment: dict,
    storage: StorageResource,
    mlflow: MlflowResource,
    optuna: OptunaResource,
) -> dict:
    from energy_assets.contracts import utc
    from energy_assets.training import tuning

    session = tuning.TuningSession.from_dict(assignment["session"])
    try:
        consumption = read_training_window(storage, assignment)
        before_cutoff = consumption[consumption["datetime_utc"] <= utc(assignment["cutoff"])]
        trials = tuning.run_worker(
            before_cutoff,
            session,
            storage_url=optuna.storage_url,
            tracking=mlflow.settings(),
            n_trials=assignment["n_trials"],
            timeout_seconds=assignment["timeout_seconds"],
            worker=assignment["worker"],
            num_threads=assignment["num_threads"],
        )
    except Exception:
        # The session's parent MLflow run would otherwise stay RUNNING forever: the final step
        # that ends it never runs. A retry that completes marks it FINISHED again.
        try:
            tuning.abandon_session(session, mlflow.settings())
        except Exception as error:  # MLflow itself may be what failed
            context.log.warning(
                f"could not mark the tuning session's MLflow run FAILED: {redact(str(error))}"
            )
        raise
    context.log.info(
        f"worker {assignment['worker']}: {trials} trial(s) with {assignment['num_threads']} "
        "LightGBM thread(s)"
    )
    return {"worker": assignment["worker"], "trials_run": trials}


@dg.op(
    description="Pick the best trial, backtest it against the seasonal naives, fit it on the "
    "whole window, register it and promote it to `champion` if it beats the champion.",
)
def finalize_model(
    context: dg.OpExecutionContext,
    plan: dict,
    workers: list[dict],
    storage: StorageResource,
    mlflow: MlflowResource,
    optuna: OptunaResource,
) -> dg.Output:

    with services_reachable(mlflow, optuna):
        return _finalize_model(context, plan, workers, storage, mlflow, optuna)


def _finalize_model(
    context: dg.OpExecutionContext,
    plan: dict,
    workers: list[dict],
    storage: StorageResource,
    mlflow: MlflowResource,
    optuna: OptunaResource,
) -> dg.Output:
    from energy_assets.contracts import utc
    from energy_assets.training import model_store, train, tuning
    from energy_assets.training.backtest import refit_evaluator
    from energy_assets.training.forecaster import DEFAULT_PARAMS

    tracking = mlflow.settings()
    session = tuning.TuningSession.from_dict(plan["session"])
    consumption = read_training_window(storage, plan)
    trials_run = sum(w["trials_run"] for w in workers)
    tuned = tuning.finish_session(
        session, storage_url=optuna.storage_url, tracking=tracking, trials_run=trials_run
    )
    cutoff = utc(plan["cutoff"])
    params = {**DEFAULT_PARAMS, **tuned.best_params, **session.fixed_params}
    # The workers are done: the backtest, the final fit and the champion's refit have the cores.
    threads = tuning.available_cores()
    candidate = train.score_candidate(
        consumption, cutoff, plan["backtest_days"], params, tuned=tuned, num_threads=threads
    )
    forecaster = candidate.forecaster
    assert forecaster is not None
    version = model_store.register(
        forecaster,
        tracking,
        candidate.scored.metrics,
        parent_run_id=session.parent_run_id,
        extra_tags={"dagster_run_id": context.run_id},
    )
    decision = model_store.promote_if_better(
        tracking,
        version,
        candidate_score=candidate.scored.metrics["model"]["mape"],
        # Refit the champion's configuration on the same cutoff: a champion trained days
        # ago may have seen part of this window, which would make it look better than it is.
        evaluate_champion=refit_evaluator(
            consumption, cutoff, candidate.origins, num_threads=threads
        ),
        candidate=forecaster,
        window=f"the {plan['backtest_days']} daily origins from {hour_text(cutoff)}",
        window_start=candidate.origins[0],
    )
    context.log.info(decision.reason)
    summary = train.metrics_table(candidate.scored.metrics)
    importance = forecaster.feature_importance()
    tuning.log_feature_importance(tracking.run(session.parent_run_id), importance)
    from energy_assets.reporting.charts import model_charts

    pngs = model_charts(candidate.scored.predictions, importance, tuned.study.trials)
    for name, png in pngs.items():
        tracking.run(session.parent_run_id).log_bytes(png, f"charts/{name}.png")
    return dg.Output(
        summary,
        metadata=forecasting_model_metadata(
            plan=plan,
            consumption=consumption,
            candidate=candidate,
            version=version,
            decision=decision,
            summary=summary,
            importance=importance,
            workers=workers,
            mlflow_run=tracking.run_url(session.parent_run_id),
            pngs=pngs,
        ),
    )


def _champion_score(score: float | None) -> dict[str, float]:
    """The previous champion's score on the same backtest; absent when there was none."""
    return {} if score is None else {meta.CHAMPION_SCORE.name: float(score)}


def forecasting_model_metadata(
    *,
    plan: dict,
    consumption: Any,
    candidate: Any,
    version: Any,
    decision: Any,
    summary: Any,
    importance: Any,
    workers: list[dict],
    mlflow_run: str,
    pngs: dict[str, bytes],
) -> dict[str, Any]:
    """Everything a `forecasting_model` materialisation shows: the one place to add to it."""
    from energy_assets.contracts import utc
    from energy_assets.training import train

    tuned, scored = candidate.tuned, candidate.scored
    return {
        meta.MODEL_VERSION.name: str(version),
        "model_uri": version.model_uri,
        meta.PROMOTED.name: decision.promoted,
        meta.CHAMPION_VERSION.name: str(decision.champion_version),
        **_champion_score(decision.champion_score),
        meta.PROMOTION_REASON.name: decision.reason,
        "training_window": f"{hour_text(utc(plan['window_start']))} → "
        f"{hour_text(utc(plan['window_end']))}",
        "training_rows": len(consumption),
        "series": int(consumption[["area", "segment"]].drop_duplicates().shape[0]),
        "tuning_workers": len(workers),
        meta.TRIALS_RUN.name: tuned.n_trials_run,
        "trials_per_worker": ", ".join(
            str(w["trials_run"]) for w in sorted(workers, key=lambda w: w["worker"])
        ),
        "trials_in_study": len(tuned.study.trials),
        "best_params": dg.MetadataValue.json(train.jsonable(candidate.params)),
        meta.BACKTEST_MAPE.name: float(scored.metrics["model"]["mape"]),
        "backtest_wape": float(scored.metrics["model"]["wape"]),
        "seasonal_naive_24_mape": float(scored.metrics["seasonal_naive_24"]["mape"]),
        meta.SEASONAL_NAIVE_168_MAPE.name: float(scored.metrics["seasonal_naive_168"]["mape"]),
        "fit_seconds": round(float(scored.fit_seconds), 2),
        "metrics": markdown_table(summary, floatfmt=".4f"),
        "feature_importance": markdown_table(importance.head(10)),
        meta.MLFLOW_RUN.name: link_or_text(mlflow_run),
        **charts(pngs),
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
            "`energy_consumption_forecaster` and moves alias `champion` to it only if it beats "
            "the current champion on the same backtest window (the newest `backtest_days`)."
        ),
    )
    def forecasting_model(consumption_features):
        plan, assignments = prepare_tuning(consumption_features)
        workers = assignments.map(tune_worker)
        return finalize_model(plan, workers.collect())

    return [forecasting_model]
