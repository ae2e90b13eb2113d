"""Forecast accuracy metrics, shared by the backtest, tuning and monitoring.

All metrics are returned as FRACTIONS (0.05 means 5 %), never percentages.

Zero actuals: a point with actual == 0 has no defined percentage error. Rather than silently
dropping it (which flatters a model) or returning inf, `pooled_mape` and `median_series_mape`
raise a ValueError that names how many points are zero; WAPE is defined as long as the SUM of
|actual| is positive, so it is the metric to use for series that can legitimately be zero.
Empty input and NaNs (in either actuals or predictions) also raise ValueError: a metric over a
silently shrunken set of points is not comparable across models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd


def _as_arrays(actual, predicted) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(actual, dtype="float64").ravel()
    p = np.asarray(predicted, dtype="float64").ravel()
    if a.shape != p.shape:
        raise ValueError(f"actual has {a.size} points but predicted has {p.size}")
    if a.size == 0:
        raise ValueError("cannot score an empty set of points")
    if np.isnan(a).any() or np.isnan(p).any():
        raise ValueError(
            f"NaN in actual ({int(np.isnan(a).sum())}) or predicted ({int(np.isnan(p).sum())}); "
            "join forecasts to actuals and drop unpublished hours before scoring"
        )
    return a, p


def pooled_mape(actual, predicted) -> float:
    """Mean absolute percentage error over ALL points pooled, as a fraction.

    mean(|actual - predicted| / |actual|) over every (series, hour) point: the course's metric
    (sktime's MeanAbsolutePercentageError on the pooled frame). Raises ValueError on empty
    input, NaNs or any zero actual (see module docstring).
    """
    a, p = _as_arrays(actual, predicted)
    zeros = int((a == 0).sum())
    if zeros:
        raise ValueError(f"MAPE undefined: {zeros} of {a.size} actuals are zero; use wape()")
    return float(np.mean(np.abs(a - p) / np.abs(a)))


def wape(actual, predicted) -> float:
    """Weighted absolute percentage error, sum|actual - predicted| / sum|actual|, as a fraction.

    Dominated by the large series (kWh-weighted); defined when some actuals are zero.
    """
    a, p = _as_arrays(actual, predicted)
    total = float(np.abs(a).sum())
    if total == 0:
        raise ValueError("WAPE undefined: every actual is zero")
    return float(np.abs(a - p).sum() / total)


def median_series_mape(
    frame: pd.DataFrame,
    actual_col: str,
    predicted_col: str,
    series_cols: Sequence[str] = ("area", "segment"),
) -> float:
    """Median over series of each series' MAPE (fraction): the typical series' error.

    Robust to a few tiny, noisy series that dominate the pooled MAPE.
    """
    if len(frame) == 0:
        raise ValueError("cannot score an empty frame")
    a, p = _as_arrays(frame[actual_col], frame[predicted_col])
    if (a == 0).any():
        raise ValueError(f"MAPE undefined: {int((a == 0).sum())} actuals are zero; use wape()")
    ape = pd.Series(np.abs(a - p) / np.abs(a), index=frame.index)
    per_series = ape.groupby([frame[c] for c in series_cols], observed=True).mean()
    return float(per_series.median())


def score(frame: pd.DataFrame, predicted_col: str, actual_col: str = "actual") -> dict:
    """The reported metrics of one prediction column: mape, wape, median_series_mape, n_points."""
    series_cols = [c for c in ("area", "segment") if c in frame.columns]
    return {
        "mape": pooled_mape(frame[actual_col], frame[predicted_col]),
        "wape": wape(frame[actual_col], frame[predicted_col]),
        "median_series_mape": median_series_mape(frame, actual_col, predicted_col, series_cols)
        if series_cols
        else pooled_mape(frame[actual_col], frame[predicted_col]),
        "n_points": int(len(frame)),
    }


def interval_coverage(actual, lower, upper) -> float:
    """Share of points whose actual lies inside [lower, upper] (edges included), as a fraction.

    For the p10..p90 band of a calibrated forecast this should be about 0.80.
    """
    a, lo = _as_arrays(actual, lower)
    _, hi = _as_arrays(actual, upper)
    return float(np.mean((lo <= a) & (a <= hi)))


def pinball_loss(actual, quantiles: Mapping[float, Sequence[float] | np.ndarray]) -> float:
    """Weighted pinball (quantile) loss, as a fraction: the mean over the given quantile levels
    q of sum(max(q * (a - y_q), (q - 1) * (a - y_q))) / sum|a|.

    Scaled by the actuals' total like WAPE, so the 76 series of 89 kWh ... 1.6 M kWh pool into one
    number that compares across data sets; for the 0.5 quantile alone it is WAPE / 2. A point
    forecast passed as every quantile scores too (its distribution is a single value).
    """
    if not quantiles:
        raise ValueError("pinball loss needs at least one quantile")
    a = np.asarray(actual, dtype="float64").ravel()
    total = float(np.abs(a).sum()) if a.size else 0.0
    losses = []
    for level, values in quantiles.items():
        a, y = _as_arrays(actual, values)
        if not 0 < level < 1:
            raise ValueError(f"quantile level {level} is not between 0 and 1")
        diff = a - y
        losses.append(float(np.maximum(level * diff, (level - 1) * diff).sum()))
    if total == 0:
        raise ValueError("pinball loss undefined: every actual is zero")
    return float(np.mean(losses) / total)


def score_quantiles(
    frame: pd.DataFrame,
    columns: Mapping[float, str],
    actual_col: str = "actual",
) -> dict:
    """coverage of the outer band (lowest..highest quantile column) and pinball over all of them."""
    levels = sorted(columns)
    return {
        "coverage": interval_coverage(
            frame[actual_col], frame[columns[levels[0]]], frame[columns[levels[-1]]]
        ),
        "pinball": pinball_loss(frame[actual_col], {q: frame[columns[q]] for q in levels}),
    }


# ------------------------------------------------------------------ the field's metrics
# OpenSTEF's benchmark (Liander 2024) reports errors divided by each target's load range, so
# targets of any size average into one number, by lead time, and a skill score against its
# "basecase" (the same hour a week earlier). Ours, in numpy, from the published p10 / p50 / p90.
RANGE_PERCENTILES = (1.0, 99.0)  # the range that normalises: P99 - P1 of the actuals scored


def load_range(actual) -> float:
    """P99 - P1 of a series' actuals over the scored window (np.percentile, linear): the
    denominator of rMAE and rCRPS. Robust to one spike, unlike max - min."""
    a = np.asarray(actual, dtype="float64").ravel()
    if a.size == 0 or np.isnan(a).any():
        raise ValueError("the load range needs actuals without NaN")
    low, high = np.percentile(a, RANGE_PERCENTILES)
    return float(high - low)


def crps_from_quantiles(
    actual, quantiles: Mapping[float, Sequence[float] | np.ndarray]
) -> np.ndarray:
    """Per-point CRPS approximated by the quantile score: (2 / K) * sum over the K published
    levels q of the pinball loss max(q d, (q - 1) d), d = actual - quantile q.

    With p10 / p50 / p90 this is the standard quantile-score approximation of the CRPS
    integral (2 times the mean pinball loss); a point forecast given as every quantile scores
    exactly its absolute error, as the exact CRPS of a single value does. Units of the actuals.
    """
    if not quantiles:
        raise ValueError("CRPS needs at least one quantile")
    total = None
    for level, values in quantiles.items():
        if not 0 < level < 1:
            raise ValueError(f"quantile level {level} is not between 0 and 1")
        a, y = _as_arrays(actual, values)
        diff = a - y
        loss = np.maximum(level * diff, (level - 1) * diff)
        total = loss if total is None else total + loss
    assert total is not None
    return 2.0 * total / len(quantiles)


def _relative_mean(errors: np.ndarray, series: np.ndarray, ranges: np.ndarray) -> float:
    """Mean over series of (mean error of the series / its range): each target weighs the same."""
    per_series = pd.Series(errors).groupby(series).mean()
    return float((per_series / pd.Series(ranges).groupby(series).first()).mean())


def field_metrics(
    frame: pd.DataFrame,
    quantiles: Mapping[float, str],
    basecase: str | None,
    actual_col: str = "actual",
    predicted_col: str = "predicted",
    lead_col: str = "horizon_hours",
    series_cols: Sequence[str] = ("area", "segment"),
) -> dict:
    """rMAE, rCRPS and skill, overall and by lead time, as fractions.

    * rMAE = mean over series s of MAE_s / R_s, R_s = P99 - P1 of s's actuals over `frame`
      (load_range); by lead time, MAE_s over that lead's points, R_s still over the window.
    * rCRPS = the same with the per-point CRPS of the quantile columns (crps_from_quantiles).
    * skill = 1 - rCRPS(model) / rCRPS(basecase), the basecase a point forecast (`basecase`
      column, e.g. the lag-168 seasonal naive: its CRPS is its absolute error), both over the
      points where the basecase has a value. 0 = no better than the basecase, 1 = perfect.
      Without a basecase column (None), or with no value of it, skill is NaN.
    A series whose range is 0 (a constant series) is left out: nothing to normalise by.
    Returns {"rmae", "rcrps", "basecase_rmae" (= its rCRPS), "skill", "n_series",
    "by_lead_time": [{lead_col, the same keys}, ...]}.
    """
    if len(frame) == 0:
        raise ValueError("cannot score an empty frame")
    keys = [c for c in series_cols if c in frame.columns]
    series = (
        pd.MultiIndex.from_frame(frame[keys].astype(str)).to_flat_index()
        if keys
        else pd.Index(["all"] * len(frame))
    )
    series_id = pd.factorize(series)[0]
    a = frame[actual_col].to_numpy(dtype="float64")
    ranges_by_series = pd.Series(a).groupby(series_id).agg(load_range)
    ranges = ranges_by_series.to_numpy()[series_id]
    keep = ranges > 0
    if not keep.any():
        raise ValueError("every series is constant over the window: no load range to normalise by")
    mae = np.abs(a - frame[predicted_col].to_numpy(dtype="float64"))
    crps = crps_from_quantiles(a, {q: frame[c] for q, c in quantiles.items()})
    base = (
        np.abs(a - frame[basecase].to_numpy(dtype="float64"))
        if basecase is not None
        else np.full(len(a), np.nan)
    )
    has_base = np.isfinite(base)
    leads = frame[lead_col].to_numpy()

    def block(rows: np.ndarray) -> dict:
        s, r = series_id[rows], ranges[rows]
        based = rows & has_base
        base_rcrps = (
            _relative_mean(base[based], series_id[based], ranges[based])
            if based.any()
            else float("nan")
        )
        model_rcrps = (
            _relative_mean(crps[based], series_id[based], ranges[based])
            if based.any()
            else float("nan")
        )
        return {
            "rmae": _relative_mean(mae[rows], s, r),
            "rcrps": _relative_mean(crps[rows], s, r),
            # A point forecast: the basecase's rCRPS equals its rMAE.
            "basecase_rmae": base_rcrps,
            "skill": 1.0 - model_rcrps / base_rcrps if base_rcrps > 0 else float("nan"),
            "n_series": int(len(np.unique(s))),
        }

    out = block(keep)
    out["by_lead_time"] = [
        {lead_col: int(lead), **block(keep & (leads == lead))} for lead in np.unique(leads[keep])
    ]
    return out
