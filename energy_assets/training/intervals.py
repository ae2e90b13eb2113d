"""The forecaster's p10 / p90: per-horizon quantiles of log residuals log(y / prediction).

Recalibrated at every fit: the mean of the in-sample residuals' quantiles (which understate the
error) and the shape-blend holdout's (a model trained on 7 fewer days: they overstate it).
p50 is the point forecast (a residual-median shift scored a worse pinball loss). Measured on
the shared slice in docs/decisions/0003-quantiles.md.
"""

from __future__ import annotations

import numpy as np

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
