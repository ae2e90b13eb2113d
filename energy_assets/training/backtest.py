"""Backtest: train up to a cutoff, forecast daily origins after it, score model and naive baselines.

Baselines, defined for a forecast of target hour T = origin + h made at `origin`:
* seasonal_naive_24: y(T - 24 * ceil(h / 24)), the last OBSERVED value at the same hour of day
  (for h <= 24 that is y(T - 24)); never reads after the origin.
* seasonal_naive_168: y(T - 168), the same hour one week earlier (observed when h <= 168).
All three prediction columns are scored by energy_assets.metrics.score on exactly the same points.
The model's p10 / p50 / p90 quantiles are scored too: `coverage` (share of actuals inside
[p10, p90], target 0.80) and `pinball` (weighted pinball loss over the three quantiles); the
baselines are point forecasts, so they get the pinball of that point as every quantile and no
coverage.

A retrain compares the tuned configuration with the champion's by one `backtest` each on the
same window (energy_assets.training.steps.finalise).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from energy_assets.contracts import (
    FORECAST_QUANTILES,
    QUANTILE_COLUMNS,
    InputError,
    hour_text,
    utc,
)
from energy_assets.metrics import field_metrics, pinball_loss, score, score_quantiles
from energy_assets.training.forecaster import MIN_HISTORY_HOURS, GlobalLGBMForecaster

logger = logging.getLogger(__name__)

_HOUR = pd.Timedelta(hours=1)
PREDICTION_COLUMNS = [
    "area",
    "segment",
    "forecast_origin",
    "datetime_utc",
    "horizon_hours",
    "predicted",
    *QUANTILE_COLUMNS,
    "actual",
    "seasonal_naive_24",
    "seasonal_naive_168",
]


@dataclass
class Fold:
    cutoff: pd.Timestamp
    origins: list[pd.Timestamp]


@dataclass
class BacktestResult:
    predictions: pd.DataFrame
    metrics: dict
    fit_seconds: float
    predict_seconds: float
    cutoff: pd.Timestamp | None = None
    origins: list[pd.Timestamp] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    # rMAE / rCRPS / skill overall and by lead time (score_field); apart from `metrics`, whose
    # values are flat dicts of numbers that tuning, promotion and MLflow read.
    field_metrics: dict = field(default_factory=dict)

    def to_json(self) -> str:
        """Every prediction (ISO hours) plus metrics and timings as a JSON document."""
        frame = self.predictions.copy()
        for col in ("forecast_origin", "datetime_utc"):
            frame[col] = frame[col].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        return json.dumps(
            {
                "cutoff": self.cutoff.isoformat() if self.cutoff is not None else None,
                "origins": [o.isoformat() for o in self.origins],
                "params": self.params,
                "metrics": self.metrics,
                "field_metrics": self.field_metrics,
                "fit_seconds": self.fit_seconds,
                "predict_seconds": self.predict_seconds,
                "predictions": frame.to_dict(orient="records"),
            },
            default=_json_default,
        )


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value)}")


def daily_origins(cutoff, n_origins: int) -> list[pd.Timestamp]:
    """cutoff, cutoff + 24 h, ... (n_origins of them)."""
    cutoff = utc(cutoff)
    return [cutoff + pd.Timedelta(days=i) for i in range(int(n_origins))]


def check_backtest_arguments(n_origins: int, horizon_hours: int) -> None:
    """InputError unless there is at least one origin and the horizon is at least one hour."""
    if n_origins < 1:
        raise InputError(f"--origins must be 1 or more (got {n_origins}): daily origins to score")
    if horizon_hours < 1:
        raise InputError(f"--horizon must be 1 or more hours (got {horizon_hours})")


def check_backtest_window(
    consumption: pd.DataFrame,
    cutoff: Any,
    n_origins: int,
    horizon_hours: int = 24,
    source: str = "the data",
) -> None:
    """Raise InputError (one line: what is wrong, what to do) unless a backtest can run.

    Checked before any training: at least one origin and a horizon of at least one hour; at
    least MIN_HISTORY_HOURS of data up to the cutoff (what the forecaster and the lag-168
    baseline need); and the first origin's first target hour (cutoff + 1 h) in the data, so
    something can be scored. Later origins whose actuals lie beyond the data are just not scored.
    """
    check_backtest_arguments(n_origins, horizon_hours)
    if len(consumption) == 0:
        raise InputError(f"{source} has no rows")
    cutoff = utc(cutoff)
    first, last = consumption["datetime_utc"].min(), consumption["datetime_utc"].max()
    covers = f"{source} covers {hour_text(first)} to {hour_text(last)}"
    earliest = first + pd.Timedelta(hours=MIN_HISTORY_HOURS - 1)
    latest = last - pd.Timedelta(hours=1)
    if earliest > latest:
        raise InputError(
            f"{covers}: too short for a backtest, which needs {MIN_HISTORY_HOURS // 24} days "
            "before the cutoff and at least 1 hour after it; use a longer file"
        )
    choose = f"choose a cutoff from {hour_text(earliest)} to {hour_text(latest)}"
    if cutoff > latest:
        raise InputError(
            f"--cutoff {hour_text(cutoff)} leaves no actuals to score ({covers}); {choose}"
        )
    if cutoff < earliest:
        history = max(0, int((cutoff - first) / pd.Timedelta(hours=1)) + 1)
        raise InputError(
            f"--cutoff {hour_text(cutoff)} has {history} hour(s) of history in {source}; the "
            f"forecaster needs {MIN_HISTORY_HOURS} ({MIN_HISTORY_HOURS // 24} days): {choose}"
        )


def seasonal_naive(
    consumption: pd.DataFrame, points: pd.DataFrame, lag_hours: int | None
) -> np.ndarray:
    """Seasonal-naive value for each row of points (area, segment, forecast_origin,
    datetime_utc, horizon_hours). lag_hours=None: 24 * ceil(h / 24) (last same-hour value)."""
    h = points["horizon_hours"].to_numpy()
    lag = 24 * np.ceil(h / 24).astype(np.int64) if lag_hours is None else np.full(len(h), lag_hours)
    source = points["datetime_utc"] - pd.to_timedelta(lag, unit="h")
    values = consumption.set_index(["area", "segment", "datetime_utc"])["energy_consumption"]
    key = pd.MultiIndex.from_arrays([points["area"], points["segment"], source])
    out = values.reindex(key).to_numpy(dtype="float64")
    # Only values observed at the origin are allowed (lag-168 with h > 168 would peek).
    out[(source > points["forecast_origin"]).to_numpy()] = np.nan
    return out


def backtest(
    consumption: pd.DataFrame,
    cutoff,
    origins: int | Sequence,
    horizon_hours: int = 24,
    params: Mapping | None = None,
    random_state: int = 0,
    num_threads: int = 1,
) -> BacktestResult:
    """Train on everything <= cutoff; forecast each origin from data <= that origin; score.

    origins: an int N (daily origins cutoff, cutoff + 24 h, ...) or explicit timestamps.
    Points whose actual is not in `consumption` (the future beyond the data) are dropped.
    (Tuning first, on folds before the cutoff: energy_assets.training.steps.)
    """
    cutoff = utc(cutoff)
    origin_list = (
        daily_origins(cutoff, origins) if isinstance(origins, int) else [utc(o) for o in origins]
    )
    train = consumption[consumption["datetime_utc"] <= cutoff]
    if len(train) == 0:
        raise ValueError(f"no data at or before the cutoff {cutoff}")
    model = GlobalLGBMForecaster(
        params, horizon_hours=horizon_hours, random_state=random_state, num_threads=num_threads
    )
    started = time.perf_counter()
    model.fit(train)
    fit_seconds = time.perf_counter() - started
    last_origin = max(origin_list)
    history = consumption[consumption["datetime_utc"] <= last_origin]
    started = time.perf_counter()
    # Vectorised over origins; the forecaster reads only hours <= each origin (tested).
    forecasts = model.predict(history, origin_list)
    predict_seconds = time.perf_counter() - started
    points, metrics, relative = score_forecasts(consumption, forecasts)
    return BacktestResult(
        predictions=points,
        metrics=metrics,
        field_metrics=relative,
        fit_seconds=fit_seconds,
        predict_seconds=predict_seconds,
        cutoff=cutoff,
        origins=origin_list,
        params=dict(model.params),
    )


def score_forecasts(
    consumption: pd.DataFrame, forecasts: pd.DataFrame
) -> tuple[pd.DataFrame, dict, dict]:
    """The forecast's points (PREDICTION_COLUMNS: joined to their actuals, with both baselines),
    the metrics of the model and the baselines (score_points) and the field's metrics
    (score_field), all on the points where both baselines exist.

    forecasts: the forecaster's frame (area, segment, forecast_origin, datetime_utc,
    horizon_hours, prediction, p10..p90). Every backtest path scores through here, so a variant
    scored by the weather comparison and the JSON's top-level metrics agree by construction.
    """
    actual = consumption.rename(columns={"energy_consumption": "actual"})
    points = forecasts.rename(columns={"prediction": "predicted"}).merge(
        actual[["area", "segment", "datetime_utc", "actual"]],
        on=["area", "segment", "datetime_utc"],
        how="inner",
    )
    if len(points) == 0:
        first = forecasts["forecast_origin"].min() if len(forecasts) else None
        raise ValueError(f"no actuals after the origins {first} ...; nothing to score")
    points["seasonal_naive_24"] = seasonal_naive(consumption, points, None)
    points["seasonal_naive_168"] = seasonal_naive(consumption, points, 168)
    points = points[PREDICTION_COLUMNS].dropna(subset=["actual"]).reset_index(drop=True)
    # Score every method on the SAME points: those where both baselines exist.
    scored = points.dropna(subset=["seasonal_naive_24", "seasonal_naive_168"])
    if len(scored) < len(points):
        logger.info("%d points lack a naive baseline value; not scored", len(points) - len(scored))
    return points, score_points(scored), score_field(scored)


def score_points(scored: pd.DataFrame) -> dict:
    """The backtest's metrics of scored points (PREDICTION_COLUMNS, both baselines present):
    MAPE / WAPE / median-series MAPE / pinball for the model and both seasonal naives, and the
    model's p10-p90 coverage (the field's metrics: score_field)."""
    quantile_columns = dict(zip(FORECAST_QUANTILES, QUANTILE_COLUMNS, strict=True))
    return {
        "model": {**score(scored, "predicted"), **score_quantiles(scored, quantile_columns)},
        **{
            name: {
                **score(scored, name),
                "pinball": pinball_loss(
                    scored["actual"], {q: scored[name] for q in FORECAST_QUANTILES}
                ),
            }
            for name in ("seasonal_naive_24", "seasonal_naive_168")
        },
    }


def score_field(scored: pd.DataFrame) -> dict:
    """The field's metrics of scored points: rMAE, rCRPS (from p10 / p50 / p90) and skill against
    the lag-168 basecase, overall and by lead time (energy_assets.metrics.field_metrics)."""
    quantile_columns = dict(zip(FORECAST_QUANTILES, QUANTILE_COLUMNS, strict=True))
    return field_metrics(scored, quantile_columns, basecase="seasonal_naive_168")


def rolling_folds(
    consumption: pd.DataFrame, n_folds: int, fold_days: int = 1, horizon_hours: int = 24
) -> list[Fold]:
    """The last n_folds non-overlapping folds before the end of the data, oldest first.

    Each fold covers fold_days daily origins; its cutoff is the first origin, and the last
    origin's horizon still ends inside the data, so every fold can be scored.
    """
    end = consumption["datetime_utc"].max()
    last_origin = end - pd.Timedelta(hours=horizon_hours)
    span = pd.Timedelta(days=fold_days)
    folds = []
    for k in range(n_folds, 0, -1):
        cutoff = last_origin - (k * span) + pd.Timedelta(days=1)
        folds.append(Fold(cutoff=cutoff, origins=daily_origins(cutoff, fold_days)))
    if folds and folds[0].cutoff <= consumption["datetime_utc"].min() + pd.Timedelta(days=8):
        raise ValueError(
            f"{n_folds} folds of {fold_days} day(s) leave under 8 days of training data before "
            f"{folds[0].cutoff}"
        )
    return folds


def summary_table(result: BacktestResult) -> str:
    """One screen: metrics per method, ratios to the baselines, timings."""
    m = result.metrics
    lines = [
        f"backtest cutoff {result.cutoff}  origins {len(result.origins)}  "
        f"points {m['model']['n_points']}",
        f"{'method':<22}{'MAPE':>9}{'WAPE':>9}{'med.series MAPE':>17}{'pinball':>9}"
        f"{'p10-p90 coverage':>18}",
    ]
    for name in ("model", "seasonal_naive_24", "seasonal_naive_168"):
        r = m[name]
        coverage = f"{r['coverage']:>18.1%}" if "coverage" in r else f"{'-':>18}"
        lines.append(
            f"{name:<22}{r['mape']:>9.2%}{r['wape']:>9.2%}{r['median_series_mape']:>17.2%}"
            f"{r.get('pinball', math.nan):>9.2%}{coverage}"
        )
    for base in ("seasonal_naive_24", "seasonal_naive_168"):
        ratio = m["model"]["mape"] / m[base]["mape"] if m[base]["mape"] else math.nan
        lines.append(f"model MAPE / {base} MAPE = {ratio:.3f}  ({1 - ratio:+.1%} better)")
    f = result.field_metrics
    if f:
        lines.append(
            f"rMAE {f['rmae']:.2%}  rCRPS {f['rcrps']:.2%}  (of each series' P99-P1 range)  "
            f"skill vs lag-168 basecase {f['skill']:+.3f}"
        )
    lines.append(f"fit {result.fit_seconds:.2f} s   predict {result.predict_seconds:.3f} s")
    return "\n".join(lines)
