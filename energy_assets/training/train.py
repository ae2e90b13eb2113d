"""Training a candidate model: tune on folds before a cutoff, score out of sample on the days
after it against both seasonal naives, and fit the final model on the whole window.

One `train_candidate` serves the `forecasting_model` asset (which then registers and maybe
promotes the candidate) and the `energy-assets backtest` CLI (which writes its backtest).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from energy_assets.contracts import FORECAST_HORIZON_HOURS, utc
from energy_assets.training import tuning
from energy_assets.training.backtest import BacktestResult, backtest, daily_origins
from energy_assets.training.forecaster import DEFAULT_PARAMS, GlobalLGBMForecaster
from energy_assets.training.tracking import MlflowSettings


@dataclass(frozen=True)
class TuningPlan:
    """How hard to search: trials and time budget of this session, the shared study and its
    storage (any SQLAlchemy URL), and how many daily folds score a trial."""

    n_trials: int
    storage_url: str
    study_name: str = tuning.STUDY_NAME
    n_folds: int = 3
    timeout_seconds: float | None = None


@dataclass
class Candidate:
    """params: the configuration (defaults < tuned < fixed); scored: its backtest on the
    origins after the cutoff; forecaster: fitted on all of the data (None when not asked for);
    tuned: the tuning session (None without trials)."""

    params: dict[str, Any]
    scored: BacktestResult
    forecaster: GlobalLGBMForecaster | None = None
    tuned: tuning.TuningResult | None = None
    origins: list[pd.Timestamp] = field(default_factory=list)


def train_candidate(
    consumption: pd.DataFrame,
    cutoff: Any,
    origins: int | Sequence[Any],
    *,
    horizon_hours: int = FORECAST_HORIZON_HOURS,
    tuning_plan: TuningPlan | None = None,
    tracking: MlflowSettings | None = None,
    fixed_params: Mapping[str, Any] | None = None,
    fit_final: bool = True,
    run_tags: Mapping[str, str] | None = None,
) -> Candidate:
    """A candidate from CLEAN `consumption`.

    With a `tuning_plan` (and `tracking`, where its MLflow runs go) the parameters are tuned on
    folds at the end of the data up to `cutoff`, so the backtest after it stays unseen;
    `fixed_params` hold their values through the search and the final fit.
    """
    fixed = dict(fixed_params or {})
    cutoff = utc(cutoff)
    tuned = None
    params = {**DEFAULT_PARAMS, **fixed}
    if tuning_plan is not None and tuning_plan.n_trials > 0:
        if tracking is None:
            raise ValueError("tuning logs every trial to MLflow: pass `tracking`")
        tuned = tuning.tune(
            consumption[consumption["datetime_utc"] <= cutoff],
            n_trials=tuning_plan.n_trials,
            timeout_seconds=tuning_plan.timeout_seconds,
            storage_url=tuning_plan.storage_url,
            study_name=tuning_plan.study_name,
            n_folds=tuning_plan.n_folds,
            tracking=tracking,
            horizon_hours=horizon_hours,
            fit_best=False,
            fixed_params=fixed,
            run_tags=run_tags,
        )
        params = {**DEFAULT_PARAMS, **tuned.best_params, **fixed}
    return score_candidate(
        consumption,
        cutoff,
        origins,
        params,
        horizon_hours=horizon_hours,
        fit_final=fit_final,
        tuned=tuned,
    )


def score_candidate(
    consumption: pd.DataFrame,
    cutoff: Any,
    origins: int | Sequence[Any],
    params: Mapping[str, Any],
    *,
    horizon_hours: int = FORECAST_HORIZON_HOURS,
    fit_final: bool = True,
    tuned: tuning.TuningResult | None = None,
    num_threads: int = 1,
) -> Candidate:
    """The candidate with `params`: its backtest on the origins after `cutoff` (trained on the
    data up to it) and, with `fit_final`, the forecaster fitted on all of `consumption`."""
    cutoff = utc(cutoff)
    origin_list = daily_origins(cutoff, origins) if isinstance(origins, int) else list(origins)
    scored = backtest(
        consumption,
        cutoff,
        origin_list,
        horizon_hours=horizon_hours,
        params=params,
        num_threads=num_threads,
    )
    forecaster = (
        GlobalLGBMForecaster(params, horizon_hours=horizon_hours, num_threads=num_threads).fit(
            consumption
        )
        if fit_final
        else None
    )
    return Candidate(
        params=dict(params),
        scored=scored,
        forecaster=forecaster,
        tuned=tuned,
        origins=scored.origins,
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
