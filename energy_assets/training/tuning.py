"""Optuna search over the forecaster's parameters, scored on rolling backtest folds, in MLflow.

A tuning session = one MLflow parent run of one Optuna study, in three steps that may run in
different processes or pods: `start_session` (study, warm start, parent run), any number of
`run_worker` calls at once (each adds trials), `finish_session` (best trial, summary, plots).
`tune()` runs the three in this process. Every trial is a
nested MLflow run with its parameters, per-fold metrics and a `pruned` flag. The study lives in an
RDB (sqlite file by default, Postgres in deploy) and is opened with `load_if_exists=True`, so a
second call resumes it and several workers can tune the same study at once.

Scoring: a trial's value is the mean pooled MAPE over `n_folds` consecutive daily folds at the end
of the data (`backtest.rolling_folds`). After each fold the trial reports that fold's MAPE, so the
pruner (MedianPruner by default) stops hopeless trials after their first fold.
Warm start: DEFAULT_PARAMS is enqueued as the study's first trial, so the best configuration is
never worse (on these folds) than the shipped defaults.

Plots (optimisation history, parameter importances, intermediate values) are logged as
self-contained plotly HTML artifacts; PNG would need kaleido, which is not installed.

Every run is logged through an explicit MLflow client (`tracking.tracked_run`): no process-wide
MLflow state, so tuning works the same in a Dagster step, the CLI or a test.
"""

from __future__ import annotations

import json
import logging
import math
import re
import tempfile
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import sqlalchemy.exc
from optuna.trial import TrialState

from energy_assets.training.backtest import backtest, rolling_folds
from energy_assets.training.forecaster import DEFAULT_PARAMS, GlobalLGBMForecaster, suggest_params
from energy_assets.training.tracking import (
    MlflowSettings,
    TrackedRun,
    finite_metrics,
    loggable,
    tracked_run,
)

logger = logging.getLogger(__name__)

STUDY_NAME = "energy_consumption_forecaster"
OBJECTIVE_METRIC = "mape"  # pooled MAPE, the course's metric; lower is better
TOP_FEATURES_LOGGED = 10
BASELINES = ("seasonal_naive_24", "seasonal_naive_168")


@dataclass
class TuningResult:
    """best_params: the full parameter dict to pass to GlobalLGBMForecaster (search space values
    plus `fixed_params`); best_value: its mean fold MAPE (fraction); study: the Optuna study;
    parent_run_id: this session's MLflow parent run; n_trials_run: trials this call ran;
    best_metrics: model and baseline metrics of the best trial on the same folds."""

    best_params: dict[str, Any]
    best_value: float
    study: optuna.Study
    parent_run_id: str
    n_trials_run: int
    best_metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    feature_importance: pd.DataFrame | None = None


def open_study(
    storage_url: str,
    study_name: str = STUDY_NAME,
    *,
    seed: int = 0,
    pruner: optuna.pruners.BasePruner | None = None,
) -> optuna.Study:
    """Create or resume the study in an RDB storage (any SQLAlchemy URL)."""
    url = storage_url
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        # Several workers on one sqlite file: wait for the write lock instead of failing.
        engine_kwargs = {"connect_args": {"timeout": 30}}
    else:
        engine_kwargs = {"pool_pre_ping": True}
    storage = None
    for attempt in range(3):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    # A worker that dies mid-trial leaves it RUNNING; heartbeats let the
                    # others mark it FAILED.
                    heartbeat_interval=60,
                    grace_period=180,
                )
            break
        except sqlalchemy.exc.SQLAlchemyError:
            # Workers starting together race to create the schema of a new database; the
            # loser finds it created on the next try.
            if attempt == 2:
                raise
            time.sleep(1 + attempt)
    return optuna.create_study(
        study_name=study_name,
        storage=storage,
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=pruner or optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0),
        load_if_exists=True,
    )


def _pooled_over_folds(fold_metrics: list[dict[str, dict[str, float]]]) -> dict[str, dict]:
    """Combine per-fold metrics into one set per forecaster: pooled MAPE and median-series MAPE
    weighted by n_points (exact for MAPE, as the folds' points are disjoint), WAPE averaged."""
    combined: dict[str, dict[str, float]] = {}
    for name in fold_metrics[0]:
        rows = [fold[name] for fold in fold_metrics if name in fold]
        weights = [float(r.get("n_points", 1)) for r in rows]
        total = sum(weights) or 1.0
        combined[name] = {
            key: sum(w * r[key] for w, r in zip(weights, rows, strict=True)) / total
            for key in ("mape", "wape", "median_series_mape")
            if all(key in r for r in rows)
        }
        combined[name]["n_points"] = total
    return combined


@dataclass(frozen=True)
class TuningSession:
    """One tuning session of a study, shared by every worker that adds trials to it.

    parent_run_id: the MLflow run (kind=tuning) every worker's trials nest under; the other
    fields are how each trial is scored, identical for all workers. JSON-able (`as_dict` /
    `from_dict`) so it can travel between processes or pods; it holds no storage URL (those can
    carry passwords): each worker gets the URL from its own configuration.
    """

    study_name: str
    parent_run_id: str
    n_folds: int = 3
    fold_days: int = 1
    horizon_hours: int = 24
    seed: int = 0
    fixed_params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "study_name": self.study_name,
            "parent_run_id": self.parent_run_id,
            "n_folds": self.n_folds,
            "fold_days": self.fold_days,
            "horizon_hours": self.horizon_hours,
            "seed": self.seed,
            "fixed_params": dict(self.fixed_params),
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TuningSession:
        return cls(**{**values, "fixed_params": dict(values.get("fixed_params") or {})})


def split_trials(n_trials: int, n_workers: int) -> list[int]:
    """`n_trials` shared as evenly as possible by `n_workers` (earlier workers take the rest)."""
    if n_workers < 1:
        raise ValueError("n_workers must be at least 1")
    return [
        n_trials // n_workers + (1 if i < n_trials % n_workers else 0) for i in range(n_workers)
    ]


def available_cores() -> int:
    """Cores this process may use: the cgroup v2 CPU quota (a Kubernetes pod's limit) when there
    is one, else the CPUs it may run on. `os.cpu_count()` would count the whole node."""
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores or 1, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return cores or 1


def threads_per_worker(n_workers: int, cores: int | None = None) -> int:
    """Each worker's LightGBM threads: its share of the cores where the run is planned, at least
    one. With the multiprocess executor the workers share that machine; with `k8s_job_executor`
    every step pod gets the same CPU limit (1 core as shipped), so each worker gets 1 thread."""
    return max(1, (cores or available_cores()) // max(1, n_workers))


def start_session(
    *,
    storage_url: str,
    tracking: MlflowSettings,
    study_name: str = STUDY_NAME,
    n_trials: int,
    n_workers: int = 1,
    timeout_seconds: float | None = None,
    n_folds: int = 3,
    fold_days: int = 1,
    horizon_hours: int = 24,
    seed: int = 0,
    fixed_params: Mapping[str, Any] | None = None,
    run_tags: Mapping[str, str] | None = None,
) -> TuningSession:
    """Create (or resume) the study, enqueue the warm start and open the MLflow parent run.

    The parent run stays RUNNING until `finish_session` (or `abandon_session`) ends it.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    fixed = dict(fixed_params or {})
    study = open_study(storage_url, study_name, seed=seed)
    # Warm start: the shipped defaults are trial 0 of a new study (skipped when already tried).
    study.enqueue_trial(dict(DEFAULT_PARAMS), skip_if_exists=True)
    client = tracking.client()
    tags = {
        "mlflow.runName": f"tune-{study_name}",
        "optuna.study": study_name,
        "kind": "tuning",
        **{k: str(v) for k, v in dict(run_tags or {}).items()},
    }
    parent = client.create_run(
        tracking.experiment_id(client), run_name=tags["mlflow.runName"], tags=tags
    )
    session = TuningSession(
        study_name=study_name,
        parent_run_id=parent.info.run_id,
        n_folds=n_folds,
        fold_days=fold_days,
        horizon_hours=horizon_hours,
        seed=seed,
        fixed_params=fixed,
    )
    tracking.run(session.parent_run_id).log_params(
        {
            "study_name": study_name,
            "n_trials_budget": n_trials,
            "n_workers": n_workers,
            "timeout_seconds": timeout_seconds if timeout_seconds is not None else "none",
            "n_folds": n_folds,
            "fold_days": fold_days,
            "horizon_hours": horizon_hours,
            "seed": seed,
            "sampler": "TPESampler",
            "pruner": type(study.pruner).__name__,
            **{f"fixed.{k}": v for k, v in loggable(fixed).items()},
        }
    )
    return session


def run_worker(
    consumption: pd.DataFrame,
    session: TuningSession,
    *,
    storage_url: str,
    tracking: MlflowSettings,
    n_trials: int,
    timeout_seconds: float | None = None,
    worker: int = 0,
    num_threads: int = 1,
    pruner: optuna.pruners.BasePruner | None = None,
) -> int:
    """Add up to `n_trials` trials (within `timeout_seconds`) to the session's study; returns how
    many ran. Any number of workers may run at once, in processes or pods: the study's RDB
    serialises trial numbers, and the pruner compares a trial's folds with every worker's
    trials stored there. Each trial is a nested MLflow run under the session's parent run.

    worker: this worker's index (its sampler's seed offset, so workers do not propose the same
    point at once); num_threads: LightGBM threads of each fit (see `threads_per_worker`).
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if n_trials <= 0:
        return 0
    study = open_study(storage_url, session.study_name, seed=session.seed + worker, pruner=pruner)
    folds = rolling_folds(
        consumption,
        session.n_folds,
        fold_days=session.fold_days,
        horizon_hours=session.horizon_hours,
    )
    fixed = dict(session.fixed_params)
    trials_run = 0
    # Every worker derives the same folds from the same window; logging the same value again is
    # allowed, a different one would fail loudly (workers on different data).
    tracking.run(session.parent_run_id).log_params(
        {"fold_cutoffs": ",".join(pd.Timestamp(f.cutoff).isoformat() for f in folds)[:500]}
    )

    def objective(trial: optuna.Trial) -> float:
        nonlocal trials_run
        trials_run += 1
        params = {**suggest_params(trial), **fixed}
        with tracked_run(
            tracking,
            f"trial-{trial.number}",
            parent_run_id=session.parent_run_id,
            tags={
                "optuna.study": session.study_name,
                "optuna.trial": trial.number,
                "pruned": "false",
                "worker": worker,
            },
            finished_on=(optuna.TrialPruned,),
        ) as run:
            run.log_params(params)
            return _score_trial(
                run, trial, consumption, folds, params, session.horizon_hours, num_threads
            )

    study.optimize(objective, n_trials=n_trials, timeout=timeout_seconds, gc_after_trial=True)
    return trials_run


def finish_session(
    session: TuningSession,
    *,
    storage_url: str,
    tracking: MlflowSettings,
    trials_run: int,
    consumption: pd.DataFrame | None = None,
) -> TuningResult:
    """Pick the study's best trial, log the summary and plots on the parent run and end it.

    consumption: when given, the best configuration is fitted on it once to log its feature
    importances (`feature_importance` of the result); callers that fit the final model anyway
    log that one's with `log_feature_importance`. Raises RuntimeError (parent run FAILED) when
    the study has no completed trial.
    """
    study = open_study(storage_url, session.study_name, seed=session.seed)
    parent = tracking.run(session.parent_run_id)
    try:
        result = _summarise(study, session.fixed_params, trials_run, session.parent_run_id)
        _log_summary(parent, study, result)
        if consumption is not None:
            forecaster = GlobalLGBMForecaster(
                params=result.best_params,
                horizon_hours=session.horizon_hours,
                random_state=session.seed,
            ).fit(consumption)
            result.feature_importance = forecaster.feature_importance()
            log_feature_importance(parent, result.feature_importance)
    except BaseException:
        abandon_session(session, tracking)
        raise
    parent.client.set_terminated(session.parent_run_id, status="FINISHED")
    return result


def abandon_session(session: TuningSession, tracking: MlflowSettings) -> None:
    """Mark the parent run FAILED (a worker or the final step failed)."""
    tracking.client().set_terminated(session.parent_run_id, status="FAILED")


def tune(
    consumption: pd.DataFrame,
    n_trials: int,
    timeout_seconds: float | None = None,
    *,
    storage_url: str,
    tracking: MlflowSettings,
    study_name: str = STUDY_NAME,
    n_folds: int = 3,
    seed: int = 0,
    fold_days: int = 1,
    horizon_hours: int = 24,
    fixed_params: Mapping[str, Any] | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
    fit_best: bool = True,
    run_tags: Mapping[str, str] | None = None,
    num_threads: int = 1,
) -> TuningResult:
    """Tune GlobalLGBMForecaster on `consumption` (CLEAN frame) in this process and log
    everything to MLflow: `start_session`, one `run_worker`, `finish_session`.

    n_trials / timeout_seconds: budget of THIS call (whichever ends first); earlier trials of a
      resumed study count towards the best result, not towards the budget.
    storage_url: Optuna RDB URL (ENERGY_OPTUNA_STORAGE); tracking: where the MLflow runs go.
    fixed_params: merged over every trial's suggestion (e.g. a smaller num_boost_round in CI).
    fit_best: fit the best configuration on all of `consumption` once to log its feature
      importances (gain) on the parent run; returned as `feature_importance`. Pass False when
      the caller fits the final model anyway and logs it with `log_feature_importance`.
    run_tags: extra tags on the parent run (e.g. the Dagster run id).
    """
    session = start_session(
        storage_url=storage_url,
        tracking=tracking,
        study_name=study_name,
        n_trials=n_trials,
        timeout_seconds=timeout_seconds,
        n_folds=n_folds,
        fold_days=fold_days,
        horizon_hours=horizon_hours,
        seed=seed,
        fixed_params=fixed_params,
        run_tags=run_tags,
    )
    try:
        trials_run = run_worker(
            consumption,
            session,
            storage_url=storage_url,
            tracking=tracking,
            n_trials=n_trials,
            timeout_seconds=timeout_seconds,
            num_threads=num_threads,
            pruner=pruner,
        )
    except BaseException:
        abandon_session(session, tracking)
        raise
    return finish_session(
        session,
        storage_url=storage_url,
        tracking=tracking,
        trials_run=trials_run,
        consumption=consumption if fit_best else None,
    )


def _score_trial(
    run: TrackedRun,
    trial: optuna.Trial,
    consumption: pd.DataFrame,
    folds: list,
    params: dict[str, Any],
    horizon_hours: int,
    num_threads: int = 1,
) -> float:
    """Backtest `params` fold by fold, reporting each fold's MAPE so the pruner can stop it."""
    fold_metrics: list[dict[str, dict[str, float]]] = []
    fold_values: list[float] = []
    for step, fold in enumerate(folds):
        result = backtest(
            consumption,
            fold.cutoff,
            fold.origins,
            horizon_hours=horizon_hours,
            # The folds score MAPE, not the band: skip the band's calibration fit.
            params={**params, "calibration_days": 0},
            num_threads=num_threads,
        )
        metrics = {name: finite_metrics(values) for name, values in result.metrics.items()}
        fold_metrics.append(metrics)
        value = metrics["model"][OBJECTIVE_METRIC]
        fold_values.append(value)
        run.log_metrics({"fold_mape": value, "fit_seconds": result.fit_seconds}, step=step)
        run.log_metrics(
            {
                f"fold_{step}.{name}.{key}": v
                for name, values in metrics.items()
                for key, v in values.items()
                if key != "n_points"
            }
        )
        trial.set_user_attr("fold_metrics", fold_metrics)
        trial.report(value, step=step)
        if trial.should_prune():
            run.set_tags({"pruned": "true"})
            run.log_metrics({"pruned": 1.0})
            raise optuna.TrialPruned(f"fold {step} MAPE {value:.4f} worse than the median")
    mean_value = sum(fold_values) / len(fold_values)
    run.log_metrics({"pruned": 0.0, "mape_mean": mean_value})
    return mean_value


def _summarise(
    study: optuna.Study, fixed: Mapping[str, Any], trials_run: int, run_id: str
) -> TuningResult:
    try:
        best = study.best_trial
    except ValueError as error:
        raise RuntimeError(
            f"Study '{study.study_name}' has no completed trial: every trial was pruned or "
            "failed; raise n_trials/timeout_seconds or check the trial runs in MLflow."
        ) from error
    # The enqueued warm start carries DEFAULT_PARAMS keys the search space leaves fixed.
    params = {**DEFAULT_PARAMS, **best.params, **fixed}
    fold_metrics = best.user_attrs.get("fold_metrics") or []
    return TuningResult(
        best_params=params,
        best_value=float(best.value if best.value is not None else math.nan),
        study=study,
        parent_run_id=run_id,
        n_trials_run=trials_run,
        best_metrics=_pooled_over_folds(fold_metrics) if fold_metrics else {},
    )


def _log_summary(parent: TrackedRun, study: optuna.Study, result: TuningResult) -> None:
    states = [t.state for t in study.trials]
    parent.log_params({f"best.{k}": v for k, v in result.best_params.items()})
    parent.log_metrics(
        {
            "best_mape": result.best_value,
            "best_trial": float(study.best_trial.number),
            "n_trials_total": float(len(states)),
            "n_trials_complete": float(states.count(TrialState.COMPLETE)),
            "n_trials_pruned": float(states.count(TrialState.PRUNED)),
            "n_trials_this_session": float(result.n_trials_run),
        }
    )
    # The best configuration against the seasonal-naive baselines, on the same folds.
    flat = {
        f"{name}.{key}": value
        for name, values in result.best_metrics.items()
        for key, value in values.items()
    }
    model_mape = result.best_metrics.get("model", {}).get("mape")
    for baseline in BASELINES:
        baseline_mape = result.best_metrics.get(baseline, {}).get("mape")
        if model_mape is not None and baseline_mape:
            flat[f"mape_ratio_vs_{baseline}"] = model_mape / baseline_mape
    parent.log_metrics(flat)
    parent.log_dict(result.best_metrics, "backtest/best_metrics.json")
    _log_plots(parent, study)


def _log_plots(run: TrackedRun, study: optuna.Study) -> None:
    """Optimisation history, parameter importances and per-fold intermediate values as HTML."""
    from optuna import visualization

    plots: dict[str, Any] = {
        "optimization_history": visualization.plot_optimization_history,
        "param_importances": visualization.plot_param_importances,
        "intermediate_values": visualization.plot_intermediate_values,
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, plot in plots.items():
            try:
                figure = plot(study)
            except (ValueError, RuntimeError, ZeroDivisionError) as error:
                # e.g. parameter importances need two completed trials with varying params.
                logger.warning("skipped plot %s: %s", name, error)
                run.set_tags({f"plot.{name}": f"skipped: {error}"[:250]})
                continue
            path = Path(tmp) / f"{name}.html"
            figure.write_html(path, include_plotlyjs=True, full_html=True)
            run.log_artifact(path, artifact_path="plots")


def _metric_name(text: str) -> str:
    """MLflow keys allow letters, digits, _ - . / and spaces."""
    return re.sub(r"[^A-Za-z0-9_\-./ ]", "_", text)


def log_feature_importance(run: TrackedRun, importance: pd.DataFrame) -> None:
    """Log `forecaster.feature_importance()` (feature, gain) to `run` (e.g. a finished tuning
    parent run): full table as CSV/JSON artifacts, the top features' share of total gain as
    metrics (`importance.<feature>`) and their ranking as the tag `top_features` (a tag, not a
    param, so a later, final model's importances can replace it)."""
    run.log_text(importance.to_csv(index=False), "feature_importance/feature_importance.csv")
    run.log_text(
        json.dumps(importance.to_dict(orient="records"), indent=1),
        "feature_importance/feature_importance.json",
    )
    top = importance.head(TOP_FEATURES_LOGGED)
    total = float(importance["gain"].sum()) or 1.0
    run.log_metrics(
        {
            f"importance.{_metric_name(str(row.feature))}": float(row.gain) / total
            for row in top.itertuples()
        }
    )
    run.set_tags({"top_features": ",".join(top["feature"].astype(str))[:5000]})
