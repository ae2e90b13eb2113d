"""Forecast accuracy once the actuals are published: forecasts joined with CLEAN rows, scored.

The source publishes about 15 days late, so scoring a forecast partition early is normal: hours
without actuals are simply not scored, `scored_share` says how much of what was forecast could be
scored, and with nothing to score the result has n_points = 0 and NaN metrics (not an error).
Metrics are fractions (0.05 = 5 %) from `energy_assets.metrics`: pooled MAPE (mean |a - p| / |a|
over all points), WAPE (sum |a - p| / sum |a|), and for the quantiles `coverage` (share of actuals
inside [p10, p90]; 0.80 when calibrated) and `pinball` (weighted pinball loss over p10, p50, p90).
The field's metrics (OpenSTEF's units, `metrics.field_metrics`) are in `field_metrics`: rMAE and rCRPS
(each series' error over its P99 - P1 range in the scored hours) and the skill against the lag-168
basecase (the actuals' `lag_168h` feature, where given and the lead is at most 168 h), overall and
by lead time, beside the band's coverage and mean relative width (p90 - p10) / p50 per lead time.
Forecasts written before the quantile columns existed are scored from prediction_lower /
prediction_upper as p10 / p90 and the prediction as p50; without any band both are NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from energy_assets import metrics
from energy_assets.contracts import CLEAN, FORECAST_QUANTILES, QUANTILE_COLUMNS, SERIES_KEYS

JOIN_KEYS = list(CLEAN.key)
QUANTILES = dict(zip(FORECAST_QUANTILES, QUANTILE_COLUMNS, strict=True))
# The columns of every per-series / per-horizon row (after its keys) and of the overall row.
GROUP_COLUMNS = ["n_points", "mape", "wape", "coverage", "pinball"]
BASECASE = "lag_168h"  # the actuals' feature column: y(T - 168), the field's basecase


@dataclass(frozen=True)
class AccuracyResult:
    """Scores of one batch of forecasts.

    per_series: area, segment, n_points, mape, wape, coverage, pinball.
    per_horizon: horizon_hours, n_points, mape, wape, coverage, pinball.
    per_quality: quality, n_points, mape, wape, coverage, pinball.
    overall: mape, wape, coverage, pinball (NaN when nothing could be scored), n_points (scored
        forecast points), n_expected (forecast points given), scored_share (n_points /
        n_expected, 0.0 when none).
    scored: the joined rows: the forecast columns (p10 / p50 / p90 filled in from older
        columns where missing) plus actual, abs_error, ape.
    """

    per_series: pd.DataFrame
    per_horizon: pd.DataFrame
    overall: dict = field(default_factory=dict)
    scored: pd.DataFrame = field(default_factory=pd.DataFrame)
    # quality (`model` / `fallback`), n_points, mape, wape, coverage, pinball: the model's
    # accuracy and the fallback's, apart (partitions before the labels count as the model's).
    per_quality: pd.DataFrame = field(default_factory=lambda: _empty(["quality"]))
    # rMAE / rCRPS / skill overall and by lead time (field_scores); {} with nothing to score.
    field_metrics: dict = field(default_factory=dict)


def score_forecasts(forecasts: pd.DataFrame, actuals: pd.DataFrame) -> AccuracyResult:
    """Join FORECASTS rows with CLEAN actuals on (datetime_utc, area, segment) and score.

    Forecast points whose hour has no (or a NaN) actual yet are left out of every metric and
    lower `scored_share`. A point with a zero actual has no percentage error: the MAPE of any group
    containing one is NaN while its WAPE is still defined.
    """
    missing = [c for c in [*JOIN_KEYS, "prediction"] if c not in forecasts.columns]
    missing += [c for c in [*JOIN_KEYS, "energy_consumption"] if c not in actuals.columns]
    if missing:
        raise ValueError(f"cannot score forecasts: missing columns {sorted(set(missing))}")

    # The lag-168 basecase of each target hour comes with the actuals when they carry it.
    carried = [c for c in [BASECASE] if c in actuals.columns]
    actual_rows = actuals[[*JOIN_KEYS, "energy_consumption", *carried]].rename(
        columns={"energy_consumption": "actual"}
    )
    actual_rows = actual_rows[actual_rows["actual"].notna()]
    keyed_forecasts = _with_quantiles(_typed_keys(forecasts))
    if "quality" not in keyed_forecasts.columns:
        keyed_forecasts["quality"] = "model"
    actual_rows = _typed_keys(actual_rows)
    duplicated = actual_rows.duplicated(JOIN_KEYS)
    if duplicated.any():
        first = actual_rows.loc[duplicated, JOIN_KEYS].iloc[0].tolist()
        raise ValueError(
            f"{int(duplicated.sum())} duplicate actual rows per (hour, area, segment), "
            f"e.g. {first}; actuals must be CLEAN (one row per series and hour)"
        )
    scored = keyed_forecasts.merge(actual_rows, on=JOIN_KEYS, how="inner", validate="many_to_one")
    scored = scored[scored["prediction"].notna()].reset_index(drop=True)
    scored["abs_error"] = (scored["actual"] - scored["prediction"]).abs()
    with np.errstate(divide="ignore", invalid="ignore"):
        scored["ape"] = np.where(
            scored["actual"] != 0, scored["abs_error"] / scored["actual"].abs(), np.nan
        )

    n_expected = len(forecasts)
    overall = {
        **_scores(scored),
        "n_points": len(scored),
        "n_expected": n_expected,
        "scored_share": len(scored) / n_expected if n_expected else 0.0,
    }
    return AccuracyResult(
        per_series=_grouped(scored, SERIES_KEYS),
        per_horizon=_grouped(scored, ["horizon_hours"])
        if "horizon_hours" in scored
        else _empty(["horizon_hours"]),
        overall=overall,
        scored=scored,
        per_quality=_grouped(scored, ["quality"]),
        field_metrics=field_scores(scored),
    )


def field_scores(scored: pd.DataFrame) -> dict:
    """rMAE, rCRPS, skill against the lag-168 basecase (metrics.field_metrics) and, per lead
    time, the band's coverage and mean relative width; {} when nothing can be scored."""
    rows = scored.dropna(subset=["p10", "p50", "p90"])
    rows = rows[rows["actual"].notna()]
    if rows.empty or "horizon_hours" not in rows:
        return {}
    rows = rows.copy()
    if BASECASE in rows:
        # y(T - 168) is known at the origin only for leads up to 168 h.
        rows.loc[rows["horizon_hours"] > 168, BASECASE] = np.nan
    try:
        out = metrics.field_metrics(
            rows,
            QUANTILES,
            basecase=BASECASE if BASECASE in rows else None,
            predicted_col="prediction",
        )
    except ValueError:
        return {}
    inside = (rows["p10"] <= rows["actual"]) & (rows["actual"] <= rows["p90"])
    relative_width = (rows["p90"] - rows["p10"]) / rows["p50"].where(rows["p50"] > 0)
    coverage = inside.groupby(rows["horizon_hours"]).mean()
    width = relative_width.groupby(rows["horizon_hours"]).mean()
    for row in out["by_lead_time"]:
        row["coverage"] = float(coverage[row["horizon_hours"]])
        row["band_width"] = float(width[row["horizon_hours"]])
    return out


def field_table(result: AccuracyResult) -> pd.DataFrame:
    """The field's metrics by lead time as a table (for metadata): one row per horizon."""
    columns = ["horizon_hours", "rmae", "rcrps", "skill", "coverage", "band_width", "n_series"]
    return pd.DataFrame(result.field_metrics.get("by_lead_time", []), columns=columns)


def _typed_keys(frame: pd.DataFrame) -> pd.DataFrame:
    # Same key dtypes on both sides (parquet round trips can change the time unit).
    out = frame.copy()
    out["datetime_utc"] = pd.to_datetime(out["datetime_utc"], utc=True).astype(
        "datetime64[ns, UTC]"
    )
    out["area"] = out["area"].astype(str)
    out["segment"] = out["segment"].astype(str)
    return out


def _with_quantiles(frame: pd.DataFrame) -> pd.DataFrame:
    """p10 / p50 / p90 columns on every frame: older partitions carry the band as
    prediction_lower / prediction_upper and the median as the prediction."""
    fallbacks = {"p10": "prediction_lower", "p50": "prediction", "p90": "prediction_upper"}
    for column, older in fallbacks.items():
        if column not in frame.columns:
            frame[column] = frame[older] if older in frame.columns else np.nan
    return frame


def _scores(rows: pd.DataFrame) -> dict:
    return {
        "mape": _safe(metrics.pooled_mape, rows),
        "wape": _safe(metrics.wape, rows),
        "coverage": _quantile_metric("coverage", rows),
        "pinball": _quantile_metric("pinball", rows),
    }


def _quantile_metric(name: str, rows: pd.DataFrame) -> float:
    """coverage or pinball of the rows' p10 / p50 / p90, NaN when undefined (no rows, no band,
    every actual zero)."""
    if rows.empty:
        return math.nan
    try:
        return metrics.score_quantiles(rows, QUANTILES)[name]
    except ValueError:
        return math.nan


def _safe(metric: Callable, rows: pd.DataFrame) -> float:
    """The metric over `rows`, or NaN where it is undefined (no rows, zero actuals)."""
    if rows.empty:
        return math.nan
    try:
        return metric(rows["actual"].to_numpy(), rows["prediction"].to_numpy())
    except ValueError:
        return math.nan


def _grouped(scored: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    if scored.empty:
        return _empty(keys)
    rows = [
        {
            **dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True)),
            "n_points": len(group),
            **_scores(group),
        }
        for key, group in scored.groupby(keys, sort=True, observed=True)
    ]
    return pd.DataFrame(rows, columns=[*keys, *GROUP_COLUMNS])


def _empty(keys: list[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=[*keys, *GROUP_COLUMNS])


def accuracy_table(result: AccuracyResult) -> pd.DataFrame:
    """One tidy table: overall, per-series and per-horizon rows (`level` says which)."""
    overall = pd.DataFrame([{"level": "overall", **{k: result.overall[k] for k in GROUP_COLUMNS}}])
    per_series = result.per_series.assign(level="series")
    per_horizon = result.per_horizon.assign(level="horizon")
    per_quality = result.per_quality.assign(level="quality")
    return pd.concat([overall, per_series, per_horizon, per_quality], ignore_index=True, sort=False)


def score_product(vintages: pd.DataFrame, actuals: pd.DataFrame) -> AccuracyResult:
    """Score forecast-product vintages (day_ahead_forecasts / intraday_forecasts rows) by lead
    time: `per_horizon` is keyed by `horizon_hours` = the rows' lead_hours (hours after issue)."""
    if "lead_hours" not in vintages.columns:
        raise ValueError("cannot score a product: its rows lack lead_hours")
    return score_forecasts(vintages.assign(horizon_hours=vintages["lead_hours"]), actuals)
