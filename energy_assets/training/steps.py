"""Training as three typed steps: plan → shares of tuning → finalise with an outcome.

    plan_training(window, budget) -> open_tuning -> TrainingPlan     (opens study + MLflow run)
    run_share(plan, share, consumption, services)  -> ShareResult    (any number at once)
    finalise(plan, results, consumption, services) -> TrainingOutcome (compare, fit, register)

The `forecasting_model` asset runs them as ops (one step per share, in other processes or pods:
the values travel as JSON through `to_dict` / `from_dict`); the backtest CLI runs the same plan
and shares in this process (`tuned_backtest`). Storage URLs (they can carry passwords) live in
`TrainingServices`, built from each process's own configuration, never in a plan.

Finalise compares the tuned configuration with the champion's on the same backtest window, fits
the winner on the whole window as the new `champion` and the loser as `challenger`
(`promotion.decide`): after every retrain the serving model has seen the newest data.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from energy_assets.contracts import FORECAST_HORIZON_HOURS, STUDY_NAME, hour_text, utc
from energy_assets.redaction import redact
from energy_assets.training.tracking import MlflowSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingServices:
    """Where the study and the MLflow runs live, from this process's configuration."""

    optuna_storage_url: str
    tracking: MlflowSettings


@dataclass(frozen=True)
class TuningBudget:
    """How hard to search: trials shared by `n_workers`, a time budget per worker, daily folds
    per trial, the study, and parameters held fixed through the search and the final fits."""

    n_trials: int = 20
    n_workers: int = 1
    timeout_seconds: float | None = None
    n_folds: int = 3
    study_name: str = STUDY_NAME
    fixed_params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.n_trials < 0 or self.n_workers < 1:
            raise ValueError(
                f"n_workers={self.n_workers} with n_trials={self.n_trials}: tuning needs at "
                "least one worker and no negative trial count."
            )


@dataclass(frozen=True)
class TrainingPlan:
    """One training run: the window (first and last hour, UTC), the cutoff after which
    `backtest_days` daily origins score the configurations, the budget and, with trials, the
    tuning session every share adds to (None without trials: the defaults + fixed params)."""

    window_start: pd.Timestamp
    window_end: pd.Timestamp
    cutoff: pd.Timestamp
    backtest_days: int
    budget: TuningBudget
    horizon_hours: int = FORECAST_HORIZON_HOURS
    session: Any = None  # tuning.TuningSession (typed loosely: tuning imports optuna)

    @property
    def origins(self) -> list[pd.Timestamp]:
        return [self.cutoff + pd.Timedelta(days=i) for i in range(self.backtest_days)]

    @property
    def window_text(self) -> str:
        return f"{hour_text(self.window_start)} → {hour_text(self.window_end)}"

    @property
    def backtest_text(self) -> str:
        return f"the {self.backtest_days} daily origins from {hour_text(self.cutoff)}"

    def shares(self) -> list[TuningShare]:
        """Each worker's share of the trials and its LightGBM threads (every worker gets at
        least one trial: more workers than trials would start idle steps)."""
        from energy_assets.training import tuning

        n_workers = max(1, min(self.budget.n_workers, self.budget.n_trials))
        threads = tuning.threads_per_worker(n_workers)
        return [
            TuningShare(worker=worker, n_trials=n, num_threads=threads)
            for worker, n in enumerate(tuning.split_trials(self.budget.n_trials, n_workers))
            if n > 0
        ]

    def to_dict(self) -> dict[str, Any]:
        budget = self.budget
        return {
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "cutoff": self.cutoff.isoformat(),
            "backtest_days": self.backtest_days,
            "horizon_hours": self.horizon_hours,
            "budget": {
                "n_trials": budget.n_trials,
                "n_workers": budget.n_workers,
                "timeout_seconds": budget.timeout_seconds,
                "n_folds": budget.n_folds,
                "study_name": budget.study_name,
                "fixed_params": dict(budget.fixed_params),
            },
            "session": None if self.session is None else self.session.as_dict(),
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainingPlan:
        session = None
        if values.get("session") is not None:
            from energy_assets.training.tuning import TuningSession

            session = TuningSession.from_dict(values["session"])
        return cls(
            window_start=utc(values["window_start"]),
            window_end=utc(values["window_end"]),
            cutoff=utc(values["cutoff"]),
            backtest_days=int(values["backtest_days"]),
            horizon_hours=int(values["horizon_hours"]),
            budget=TuningBudget(**values["budget"]),
            session=session,
        )


@dataclass(frozen=True)
class TuningShare:
    """One worker's part of the search: its index (sampler seed offset), trials, threads."""

    worker: int
    n_trials: int
    num_threads: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {"worker": self.worker, "n_trials": self.n_trials, "num_threads": self.num_threads}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TuningShare:
        return cls(**values)


@dataclass(frozen=True)
class ShareResult:
    worker: int
    trials_run: int

    def to_dict(self) -> dict[str, Any]:
        return {"worker": self.worker, "trials_run": self.trials_run}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ShareResult:
        return cls(**values)


@dataclass(frozen=True)
class TrainingOutcome:
    """What a training run did: the versions it registered, the comparison, the tuned
    configuration's backtest, and what the asset's metadata shows."""

    candidate_version: str  # the tuned configuration fitted on the window (always registered)
    champion_version: str  # what serves now: the candidate, or the champion's configuration refit
    model_uri: str
    challenger_version: str | None
    decision: Any  # promotion.PromotionDecision
    reason: str  # promotion.settled: why, and what serves now
    params: dict[str, Any]  # the tuned configuration (defaults < tuned < fixed)
    metrics: dict[str, dict[str, float]]  # its backtest, beside the seasonal naives
    fit_seconds: float
    training_rows: int
    series: int
    trials_run: int
    trials_per_worker: tuple[int, ...]
    trials_in_study: int
    feature_importance: tuple[tuple[str, float], ...]  # the champion's, by gain
    mlflow_run_id: str | None
    charts: dict[str, bytes] = field(default_factory=dict)

    def importance_frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.feature_importance), columns=["feature", "gain"])

    def metrics_table(self) -> pd.DataFrame:
        return metrics_table(self.metrics)

    def to_dict(self) -> dict[str, Any]:
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        values["decision"] = self.decision.to_dict()
        values["trials_per_worker"] = list(self.trials_per_worker)
        values["feature_importance"] = [list(row) for row in self.feature_importance]
        values["charts"] = {k: base64.b64encode(v).decode() for k, v in self.charts.items()}
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainingOutcome:
        from energy_assets.training.promotion import PromotionDecision

        return cls(
            **{
                **values,
                "decision": PromotionDecision.from_dict(values["decision"]),
                "trials_per_worker": tuple(values["trials_per_worker"]),
                "feature_importance": tuple(
                    (str(f), float(g)) for f, g in values["feature_importance"]
                ),
                "charts": {k: base64.b64decode(v) for k, v in values["charts"].items()},
            }
        )


# Step values the Dagster step IO manager stores as JSON, by name (what it may rebuild).
STEP_VALUE_TYPES: dict[str, Any] = {
    cls.__name__: cls for cls in (TrainingPlan, TuningShare, ShareResult, TrainingOutcome)
}


# --------------------------------------------------------------------------- the steps


def plan_training(
    *,
    window_start: Any,
    window_end: Any,
    backtest_days: int,
    budget: TuningBudget,
    horizon_hours: int = FORECAST_HORIZON_HOURS,
) -> TrainingPlan:
    """The plan for the window [window_start, window_end] (UTC hours): the newest
    `backtest_days` are the backtest. No study yet: `open_tuning` opens it."""
    start, end = utc(window_start).floor("h"), utc(window_end).floor("h")
    cutoff = end - pd.Timedelta(days=backtest_days)
    if backtest_days < 1 or cutoff <= start:
        raise ValueError(
            f"a {backtest_days}-day backtest needs a window longer than it: "
            f"{hour_text(start)} → {hour_text(end)}"
        )
    return TrainingPlan(start, end, cutoff, backtest_days, budget, horizon_hours)


def open_tuning(
    plan: TrainingPlan, services: TrainingServices, run_tags: Mapping[str, str] | None = None
) -> TrainingPlan:
    """The plan with its tuning session: the study and its MLflow parent run are opened here
    and stay open until `finalise` (or a failing share) ends them. Without trials: unchanged."""
    if plan.budget.n_trials == 0:
        return plan
    from energy_assets.training import tuning

    budget = plan.budget
    session = tuning.start_session(
        storage_url=services.optuna_storage_url,
        tracking=services.tracking,
        study_name=budget.study_name,
        n_trials=budget.n_trials,
        n_workers=len(plan.shares()),
        timeout_seconds=budget.timeout_seconds,
        n_folds=budget.n_folds,
        horizon_hours=plan.horizon_hours,
        fixed_params=budget.fixed_params,
        run_tags=run_tags,
    )
    return replace(plan, session=session)


def run_share(
    plan: TrainingPlan, share: TuningShare, consumption: pd.DataFrame, services: TrainingServices
) -> ShareResult:
    """This worker's trials on the shared study, tuned on the window up to the cutoff (the
    backtest after it stays unseen). On failure the session's MLflow run is marked FAILED."""
    from energy_assets.training import tuning

    if plan.session is None:
        return ShareResult(share.worker, 0)
    try:
        trials = tuning.run_worker(
            consumption[consumption["datetime_utc"] <= plan.cutoff],
            plan.session,
            storage_url=services.optuna_storage_url,
            tracking=services.tracking,
            n_trials=share.n_trials,
            timeout_seconds=plan.budget.timeout_seconds,
            worker=share.worker,
            num_threads=share.num_threads,
        )
    except Exception:
        # The parent run would otherwise stay RUNNING: the final step that ends it never runs.
        try:
            tuning.abandon_session(plan.session, services.tracking)
        except Exception as error:  # MLflow itself may be what failed; the cause is raised
            logger.warning(
                "could not mark the tuning session's MLflow run FAILED: %s", redact(str(error))
            )
        raise
    return ShareResult(share.worker, trials)


def tuned_params(
    plan: TrainingPlan, results: Sequence[ShareResult], services: TrainingServices
) -> tuple[dict[str, Any], Any]:
    """(the configuration to score: defaults < best trial < fixed, the tuning result or None);
    ends the session's MLflow run."""
    from energy_assets.training import tuning
    from energy_assets.training.forecaster import DEFAULT_PARAMS

    fixed = dict(plan.budget.fixed_params)
    if plan.session is None:
        return {**DEFAULT_PARAMS, **fixed}, None
    tuned = tuning.finish_session(
        plan.session,
        storage_url=services.optuna_storage_url,
        tracking=services.tracking,
        trials_run=sum(r.trials_run for r in results),
    )
    return {**DEFAULT_PARAMS, **tuned.best_params, **fixed}, tuned


def tuned_backtest(
    plan: TrainingPlan, consumption: pd.DataFrame, services: TrainingServices
) -> Any:
    """Every share in this process, then the tuned configuration's backtest (BacktestResult):
    the backtest CLI's path. Registers nothing."""
    from energy_assets.training.backtest import backtest

    results = [run_share(plan, share, consumption, services) for share in plan.shares()]
    params, _ = tuned_params(plan, results, services)
    return backtest(
        consumption, plan.cutoff, plan.origins, horizon_hours=plan.horizon_hours, params=params
    )


def finalise(
    plan: TrainingPlan,
    results: Sequence[ShareResult],
    consumption: pd.DataFrame,
    services: TrainingServices,
    *,
    version_tags: Mapping[str, str] | None = None,
    margin: float | None = None,
    draw_charts: Callable[..., dict[str, bytes]] | None = None,
    weather: Any = None,
) -> TrainingOutcome:
    """Compare the tuned configuration with the champion's on the plan's backtest, fit the
    winner on the whole window as `champion` and the loser as `challenger`.

    weather: the observed weather over the window (WEATHER rows), or None. The final fits take
    it, and each decides from its own evidence whether to serve its weather model
    (`GlobalLGBMForecaster.weather_decision`); the configurations are compared without it, on
    the same footing as the tuning trials.

    draw_charts(predictions, importance, trials) -> {name: png} (the reporting layer's
    `model_charts`): logged on the tuning session's MLflow run and kept in the outcome."""
    from energy_assets.training import model_store, promotion, tuning
    from energy_assets.training.backtest import backtest
    from energy_assets.training.forecaster import GlobalLGBMForecaster

    tracking = services.tracking
    params, tuned = tuned_params(plan, results, services)
    # The workers are done: the backtests and the final fits have the cores.
    threads = tuning.available_cores()

    def scored(config: Mapping[str, Any]) -> Any:
        return backtest(
            consumption,
            plan.cutoff,
            plan.origins,
            horizon_hours=plan.horizon_hours,
            params=config,
            num_threads=threads,
        )

    def fitted(config: Mapping[str, Any]) -> GlobalLGBMForecaster:
        model = GlobalLGBMForecaster(config, horizon_hours=plan.horizon_hours, num_threads=threads)
        return model.fit(consumption, weather)

    candidate = scored(params)
    current = model_store.current_champion(tracking)
    champion, champion_backtest = None, None
    if current is not None:
        champion_model, champion_version = current
        # Its own configuration again would score the same: no second backtest.
        champion_backtest = (
            candidate
            if promotion.same_configuration(params, champion_model.params)
            else scored(champion_model.params)
        )
        champion = promotion.Contender(
            float(champion_backtest.metrics["model"]["mape"]),
            champion_model.params,
            champion_version,
        )
    decision = promotion.decide(
        promotion.Contender(float(candidate.metrics["model"]["mape"]), params),
        champion,
        margin=promotion.PROMOTION_MARGIN if margin is None else margin,
        window=plan.backtest_text,
    )
    extra = dict(version_tags or {})
    parent = None if plan.session is None else plan.session.parent_run_id

    def register(model: GlobalLGBMForecaster, metrics: Mapping[str, Any]) -> Any:
        return model_store.register(
            model, tracking, metrics, parent_run_id=parent, extra_tags=extra
        )

    # The tuned configuration on the whole window: champion if it won, else the challenger.
    candidate_model = fitted(params)
    candidate_version = register(candidate_model, candidate.metrics)
    serving, serving_version = candidate_model, candidate_version
    challenger_version: str | None = None
    if decision.promoted:
        # The replaced champion stays at hand as challenger (None: there was none).
        challenger_version = None if champion is None else champion.version
    elif not decision.same_configuration:
        assert champion is not None and champion_backtest is not None
        serving = fitted(champion.params)
        serving_version = register(serving, champion_backtest.metrics)
        challenger_version = str(candidate_version)
    reason = promotion.settled(
        decision,
        champion_version=str(serving_version),
        challenger_version=challenger_version,
        training_end=hour_text(plan.window_end),
    )
    model_store.set_aliases(tracking, champion=str(serving_version), challenger=challenger_version)
    model_store.tag_version(tracking, serving_version, promotion.tags(decision, reason, "champion"))
    if challenger_version is not None and challenger_version == str(candidate_version):
        model_store.tag_version(
            tracking, candidate_version, promotion.tags(decision, reason, "challenger")
        )
    importance = serving.feature_importance()
    charts: dict[str, bytes] = {}
    if parent is not None:
        run = tracking.run(parent)
        tuning.log_feature_importance(run, importance)
        if draw_charts is not None:
            charts = draw_charts(candidate.predictions, importance, tuned.study.trials)
        for name, png in charts.items():
            run.log_bytes(png, f"charts/{name}.png")
    return TrainingOutcome(
        candidate_version=str(candidate_version),
        champion_version=str(serving_version),
        model_uri=serving_version.model_uri,
        challenger_version=challenger_version,
        decision=decision,
        reason=reason,
        params=jsonable(params),
        metrics={k: {m: float(v) for m, v in d.items()} for k, d in candidate.metrics.items()},
        fit_seconds=float(candidate.fit_seconds),
        training_rows=len(consumption),
        series=int(consumption[["area", "segment"]].drop_duplicates().shape[0]),
        trials_run=0 if tuned is None else tuned.n_trials_run,
        trials_per_worker=tuple(r.trials_run for r in sorted(results, key=lambda r: r.worker)),
        trials_in_study=0 if tuned is None else len(tuned.study.trials),
        feature_importance=tuple(
            (str(row.feature), float(row.gain)) for row in importance.itertuples()
        ),
        mlflow_run_id=parent,
        charts=charts,
    )


def metrics_table(metrics: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """Model and baselines side by side, with the model's MAPE as a ratio of each one's."""
    rows = [
        {"forecaster": name, **{k: values[k] for k in ("mape", "wape", "median_series_mape")}}
        for name, values in metrics.items()
    ]
    table = pd.DataFrame(rows)
    table["model_mape_ratio"] = metrics["model"]["mape"] / table["mape"]
    return table


def jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters with numpy scalars as plain Python values (for JSON metadata)."""
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in params.items()}
