"""The forecaster's p10 / p90: per-horizon quantiles of log residuals log(y / prediction).

Recalibrated at every fit. First the mean of the in-sample residuals' quantiles (which understate
the error) and the shape-blend holdout's (a model trained on 7 fewer days: they overstate it;
docs/decisions/0003-quantiles.md). Then, where the training window is long enough, split-conformal
(`calibrated`): the quantiles of out-of-sample errors of the last daily origins, per band of
HORIZON_BAND_HOURS lead times, which replace the first where a band has enough of them
(docs/decisions/0011-calibration-metrics-daily-level.md: DK2 winter coverage 52-78 % -> 75-85 %).
p50 is the point forecast (a residual-median shift scored a worse pinball loss).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_assets.features.model_inputs import log_ratio

# The p10..p90 band: log-residual quantiles per horizon (p50 is the point forecast).
INTERVAL_LEVELS = (0.1, 0.9)
# Weight of the holdout's residual quantiles against the in-sample ones. On the shared slice
# 0.5 covers 83.3 % with the lowest pinball loss of 0.3 / 0.4 / 0.5 (0.3: 80.7 % but a worse
# pinball): docs/decisions/0003-quantiles.md.
HOLDOUT_WEIGHT = 0.5
MIN_HOLDOUT_POINTS = 50  # per horizon; fewer keep the in-sample quantiles

Quantiles = dict[str, list[float]]  # horizon (as text, JSON-ready) -> [q10, q90] log offsets


def log_residuals(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    return log_ratio(actual, np.clip(predicted, 1e-9, None))


def in_sample_quantiles(
    actual: np.ndarray, predicted: np.ndarray, h: np.ndarray, horizon_hours: int
) -> Quantiles:
    """The INTERVAL_LEVELS quantiles of the log residuals per horizon present in `h`."""
    rel = log_residuals(actual, predicted)
    return {
        str(k): [float(np.quantile(rel[h == k], q)) for q in INTERVAL_LEVELS]
        for k in range(1, horizon_hours + 1)
        if (h == k).any()
    }


def with_holdout(
    quantiles: Quantiles,
    actual: np.ndarray,
    predicted: np.ndarray,
    h: np.ndarray,
    horizon_hours: int,
) -> Quantiles:
    """`quantiles` averaged (HOLDOUT_WEIGHT) with the holdout's per horizon; horizons with fewer
    than MIN_HOLDOUT_POINTS holdout points keep their in-sample quantiles."""
    out = dict(quantiles)
    rel = log_residuals(actual, predicted)
    for k in range(1, horizon_hours + 1):
        at_k = rel[(h == k) & np.isfinite(rel)]
        in_sample = out.get(str(k))
        if len(at_k) >= MIN_HOLDOUT_POINTS and in_sample:
            out[str(k)] = [
                HOLDOUT_WEIGHT * float(np.quantile(at_k, q)) + (1 - HOLDOUT_WEIGHT) * b
                for q, b in zip(INTERVAL_LEVELS, in_sample, strict=True)
            ]
    return out


def quantile_forecasts(
    prediction: np.ndarray, quantiles: Quantiles, h: np.ndarray, horizon_hours: int
) -> dict[str, np.ndarray]:
    """p10 / p50 / p90 per row: the point forecast times exp(its horizon's log offset)."""
    q = np.array([quantiles.get(str(int(k)), [0.0, 0.0]) for k in range(1, horizon_hours + 1)])
    return {
        "p10": np.clip(prediction * np.exp(q[h - 1, 0]), 0, None),
        "p50": prediction,
        "p90": np.clip(prediction * np.exp(q[h - 1, 1]), 0, None),
    }


# ------------------------------------------------------------------ split-conformal calibration
# The band is recalibrated on forecasts of the last CALIBRATION_DAYS daily origins of the training
# window by a model trained before them (out of sample, as the band is used), pooled per band of
# HORIZON_BAND_HOURS consecutive horizons so a single series still has enough residuals per band.
# Measured against the in-sample / holdout mix above in docs/decisions/0011.
HORIZON_BAND_HOURS = 6
MIN_BAND_POINTS = 20  # residuals a band needs; a band with fewer keeps the quantiles it had


def horizon_band(h: np.ndarray, band_hours: int) -> np.ndarray:
    """The band of each horizon: horizons 1..band_hours are band 0, and so on. Generic in the
    horizon range (1..24 hourly, or lag + 1 .. lag + 48 for a product issued before its data)."""
    return (np.asarray(h, dtype=np.int64) - 1) // int(band_hours)


def conformal_quantiles(
    quantiles: Quantiles,
    actual: np.ndarray,
    predicted: np.ndarray,
    h: np.ndarray,
    band_hours: int = HORIZON_BAND_HOURS,
) -> Quantiles:
    """`quantiles` with every horizon that has calibration residuals replaced by its band's
    split-conformal offsets: the INTERVAL_LEVELS quantiles of the out-of-sample log residuals
    log(actual / predicted) of the band, at the finite-sample conformal levels
    floor(0.1 (n + 1)) / n and ceil(0.9 (n + 1)) / n (a touch wider than the plain 10 / 90 %, so
    the band covers at least 80 % of exchangeable residuals). Bands with fewer than
    MIN_BAND_POINTS residuals keep their horizons' earlier quantiles."""
    out = dict(quantiles)
    rel = log_residuals(np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float))
    h = np.asarray(h, dtype=np.int64)
    ok = np.isfinite(rel)
    rel, h = rel[ok], h[ok]
    bands = horizon_band(h, band_hours)
    for band in np.unique(bands):
        at = np.sort(rel[bands == band])
        n = len(at)
        if n < MIN_BAND_POINTS:
            continue
        low = at[max(int(np.floor(INTERVAL_LEVELS[0] * (n + 1))) - 1, 0)]
        high = at[min(int(np.ceil(INTERVAL_LEVELS[1] * (n + 1))) - 1, n - 1)]
        for k in np.unique(h[bands == band]):
            out[str(int(k))] = [float(low), float(high)]
    return out


def with_band(forecast: pd.DataFrame, quantiles: Quantiles, horizon_hours: int) -> pd.DataFrame:
    """`forecast` with p10 / p50 / p90 (and prediction_lower / _upper) recomputed from its
    `prediction` and `quantiles`: the band of a mixed forecast, calibrated on the mix."""
    out = forecast.copy()
    h = out["horizon_hours"].to_numpy(dtype=np.int64)
    band = quantile_forecasts(out["prediction"].to_numpy(dtype=float), quantiles, h, horizon_hours)
    for column, values in band.items():
        out[column] = values
    if "prediction_lower" in out.columns:
        out["prediction_lower"], out["prediction_upper"] = band["p10"], band["p90"]
    return out


def calibrated(quantiles: Quantiles, points: pd.DataFrame, days: int) -> Quantiles:
    """`quantiles` recalibrated (conformal_quantiles) on the forecasts of the last `days`
    origins in `points` (forecast_origin, horizon_hours, prediction, actual)."""
    recent = sorted(points["forecast_origin"].unique())[-int(days) :]
    rows = points[points["forecast_origin"].isin(recent)]
    return conformal_quantiles(
        quantiles,
        rows["actual"].to_numpy(),
        rows["prediction"].to_numpy(),
        rows["horizon_hours"].to_numpy(),
    )
