"""The weekly shape blend: each forecast path pooled with last week's shape at its own level.

The forecaster chooses the weight in fit() on a holdout (`shape_blend="auto"`); measured in
docs/decisions/0001-forecaster.md.
"""

from __future__ import annotations

import numpy as np

from energy_assets.contracts import OFF_DAY
from energy_assets.features.model_inputs import SeriesGrid


def blend_weekly_shape(
    prediction: np.ndarray,
    grid: SeriesGrid,
    s: np.ndarray,
    o: np.ndarray,
    h: np.ndarray,
    weight: float,
) -> np.ndarray:
    """Average each forecast path geometrically with last week's shape at the path's own level.

    For one (series, origin) path of H hours, `weekly` = y[t - 168] * mean(path) / mean(y[t - 168]
    over the path's hours): the same day last week, rescaled to the level the trees predict.
    Result = path^(1 - weight) * weekly^weight. The daily level stays the trees'; only the
    within-day shape is pooled. Paths whose week-ago hours are not all observed at the origin
    (H > 168, gaps, short history), fall on a day of another kind (holiday vs working day) or
    whose prediction is not finite keep the trees' values.
    """
    if weight <= 0:
        return prediction
    t = o + h
    off_day = grid.calendar[OFF_DAY]
    # Last week's hour must be observed at the origin and of the same kind (working vs off day):
    # a Wednesday after a holiday Wednesday keeps the trees' own shape.
    comparable = (t - 168 <= o) & (off_day[t] == off_day[np.clip(t - 168, 0, None)])
    week_ago = np.where(comparable, grid.value(s, t - 168), np.nan)
    path, inverse = np.unique(s.astype(np.int64) * (grid.n_hours + 1) + o, return_inverse=True)
    n_paths = len(path)
    usable = np.isfinite(prediction) & (prediction > 0) & np.isfinite(week_ago) & (week_ago > 0)
    complete = np.bincount(inverse, weights=~usable, minlength=n_paths) == 0
    pred_mean = np.bincount(inverse, weights=np.where(usable, prediction, 0), minlength=n_paths)
    week_mean = np.bincount(inverse, weights=np.where(usable, week_ago, 0), minlength=n_paths)
    ok = complete[inverse]
    with np.errstate(invalid="ignore", divide="ignore"):
        weekly = week_ago * pred_mean[inverse] / week_mean[inverse]
        blended = np.exp((1 - weight) * np.log(prediction) + weight * np.log(weekly))
    return np.where(ok, blended, prediction)
