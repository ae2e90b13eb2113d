"""The forecaster's inputs, built vectorised from the spec in `contracts.MODEL_INPUTS`.

One builder for fit, predict, the backtest (through the forecaster) and the drift report, so
they can never disagree: a new input is a line in the contract plus, for a new kind, a branch in
`build_model_inputs`. Rows are (series s, origin index o, horizon h) of a `SeriesGrid`, target
hour t = o + h; nothing after the origin is read. Why these inputs are computed here and not
stored in `consumption_features`: docs/decisions/0006-model-inputs.md.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from energy_assets.contracts import (
    CLEAN_COLUMNS,
    MODEL_INPUTS,
    OFF_DAY,
    Anchor,
    Horizon,
    LogLevel,
    ModelInput,
    OriginCalendar,
    OriginChange,
    OriginValue,
    Profile,
    ReferenceDayCalendar,
    ReferenceShape,
    SameHourLag,
    TargetCalendar,
    WindowMean,
    WindowStd,
)
from energy_assets.features.calendar import calendar_features, day_kinds

MAX_FILL_HOURS = 6  # gaps up to this long are forward-filled on the grid
LEVEL_HOURS = 24  # the level every ratio_* input (and the model's target) is relative to
RATIO_CLIP = (1e-3, 1e3)
_HOUR = pd.Timedelta(hours=1)


class SeriesGrid:
    """Clean long frame -> dense (series x hour) array with cumulative sums for rolling stats.

    `values[s, t]`: kWh of series s at hour start + t, short gaps (<= MAX_FILL_HOURS)
    forward-filled, longer ones NaN; `calendar`: the calendar columns and day kinds of every grid
    hour plus `extra_hours` after the end (the forecast hours).
    """

    def __init__(self, consumption: pd.DataFrame, extra_hours: int = 0):
        missing = [c for c in CLEAN_COLUMNS if c not in consumption.columns]
        if missing:
            raise ValueError(f"consumption frame lacks columns {missing}; expected {CLEAN_COLUMNS}")
        if len(consumption) == 0:
            raise ValueError("consumption frame is empty")
        times = pd.DatetimeIndex(consumption["datetime_utc"])
        if times.tz is None:
            raise ValueError("datetime_utc must be tz-aware UTC (the CLEAN contract)")
        times = times.tz_convert("UTC")
        # Factorise the two key columns separately: a MultiIndex of tuples costs ~1 s per million.
        area_codes, areas = pd.factorize(consumption["area"].astype(str), sort=True)
        type_codes, types = pd.factorize(consumption["segment"].astype(str), sort=True)
        pair, codes = np.unique(
            area_codes.astype(np.int64) * len(types) + type_codes, return_inverse=True
        )
        self.series = [(str(areas[k // len(types)]), str(types[k % len(types)])) for k in pair]
        self.start = times.min()
        self.end = times.max()
        t_idx = np.asarray((times - self.start) // _HOUR, dtype=np.int64)
        n_series, n_hours = len(self.series), int(t_idx.max()) + 1
        flat = codes.astype(np.int64) * n_hours + t_idx
        counts = np.bincount(flat, minlength=n_series * n_hours)
        if (counts > 1).any():
            s, t = divmod(int(np.argmax(counts > 1)), n_hours)
            raise ValueError(
                f"duplicate rows for series {self.series[s]} at {self.start + t * _HOUR}; "
                "the CLEAN contract is one row per (datetime_utc, area, segment)"
            )
        values = np.full((n_series, n_hours), np.nan)
        values[codes, t_idx] = consumption["energy_consumption"].to_numpy(dtype="float64")
        # Forward-fill short gaps only; longer gaps stay NaN (the forecaster's bad-input policy).
        self.raw_missing = np.isnan(values)
        values = pd.DataFrame(values.T).ffill(limit=MAX_FILL_HOURS).to_numpy().T.copy()
        self.values = values
        self.n_hours = n_hours
        valid = ~np.isnan(values)
        self.first_valid = np.where(valid.any(axis=1), valid.argmax(axis=1), n_hours)
        zero = np.zeros((n_series, 1))
        self.csum = np.concatenate([zero, np.nancumsum(values, axis=1)], axis=1)
        self.csum2 = np.concatenate([zero, np.nancumsum(values**2, axis=1)], axis=1)
        self.ccount = np.concatenate([zero, np.cumsum(valid, axis=1)], axis=1)
        self.ccount_nan = np.concatenate([zero, np.cumsum(~valid, axis=1)], axis=1)
        # Calendar of every grid hour plus the forecast hours after the end.
        hours = pd.date_range(self.start, periods=n_hours + extra_hours + 1, freq="h")
        cal = calendar_features(hours)
        self.calendar: dict[str, np.ndarray] = {c: cal[c].to_numpy() for c in cal.columns}
        self.calendar.update(day_kinds(hours, cal))
        self.n_calendar = len(hours)

    def index_of(self, ts: pd.Timestamp) -> int:
        return int((ts - self.start) // _HOUR)

    def value(self, s: np.ndarray, t: np.ndarray) -> np.ndarray:
        ok = (t >= 0) & (t < self.n_hours)
        out = np.full(s.shape, np.nan)
        out[ok] = self.values[s[ok], t[ok]]
        return out

    def window_mean(self, s, o, width) -> np.ndarray:
        lo = np.clip(o + 1 - width, 0, None)
        n = self.ccount[s, o + 1] - self.ccount[s, lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, (self.csum[s, o + 1] - self.csum[s, lo]) / n, np.nan)

    def window_std(self, s, o, width) -> np.ndarray:
        lo = np.clip(o + 1 - width, 0, None)
        n = self.ccount[s, o + 1] - self.ccount[s, lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (self.csum[s, o + 1] - self.csum[s, lo]) / n
            var = (self.csum2[s, o + 1] - self.csum2[s, lo]) / n - mean**2
            return np.where(n > 1, np.sqrt(np.clip(var, 0, None)), np.nan)

    def missing_in(self, s, lo, hi) -> np.ndarray:
        """Number of NaN hours in [lo, hi] per row (indices clipped to the grid)."""
        lo = np.clip(lo, 0, None)
        return self.ccount_nan[s, hi + 1] - self.ccount_nan[s, lo]


def log_ratio(x: np.ndarray, level: np.ndarray) -> np.ndarray:
    """log(x / level), the ratio clipped to RATIO_CLIP; NaN where either is missing."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log(np.clip(x / level, *RATIO_CLIP))


class _Rows:
    """Rows (s, o, h) of a grid and the reference hours the input kinds share."""

    def __init__(self, grid: SeriesGrid, s: np.ndarray, o: np.ndarray, h: np.ndarray):
        self.grid, self.s, self.o, self.h = grid, s, o, h
        self.t = o + h
        # The latest day whose same hour is observed at the origin: k1 days before the target.
        self.k1 = np.ceil(h / 24).astype(np.int64)
        self.level = grid.window_mean(s, o, LEVEL_HOURS)
        self.last = grid.value(s, o)
        self._same_hour: dict[int, np.ndarray] = {}

    def back(self, days: int, latest: bool) -> np.ndarray:
        """How many hours before the target the reference day's same hour is."""
        return 24 * (self.k1 + days - 1) if latest else np.full(self.h.shape, 24 * days)

    def same_hour(self, days: int, latest: bool) -> np.ndarray:
        if not latest:  # a fixed day back: missing when it is after the origin
            return np.where(
                self.h <= 24 * days, self.grid.value(self.s, self.t - 24 * days), np.nan
            )
        if days not in self._same_hour:
            self._same_hour[days] = self.grid.value(self.s, self.t - self.back(days, True))
        return self._same_hour[days]

    def calendar_at(self, column: str, hours: np.ndarray) -> np.ndarray:
        return self.grid.calendar[column][hours]


def _build_one(kind, rows: _Rows) -> np.ndarray:
    grid, s, o, h, t, level = rows.grid, rows.s, rows.o, rows.h, rows.t, rows.level
    match kind:
        case Horizon():
            return h.astype(np.int16)
        case TargetCalendar(column):
            return rows.calendar_at(column, t)
        case OriginCalendar(column):
            return rows.calendar_at(column, o)
        case ReferenceDayCalendar(column, days, latest):
            return rows.calendar_at(column, np.clip(t - rows.back(days, latest), 0, None))
        case LogLevel(hours):
            mean = level if hours == LEVEL_HOURS else grid.window_mean(s, o, hours)
            return np.log(np.clip(mean, 1e-9, None))
        case OriginValue():
            return log_ratio(rows.last, level)
        case SameHourLag(days, latest):
            return log_ratio(rows.same_hour(days, latest), level)
        case Profile(days, same_kind):
            lags = [rows.same_hour(d, True) for d in range(1, days + 1)]
            if same_kind:
                # Only days of the target's kind (working day vs weekend / holiday / break).
                off = grid.calendar[OFF_DAY]
                lags = [
                    np.where(off[np.clip(t - rows.back(d, True), 0, None)] == off[t], v, np.nan)
                    for d, v in enumerate(lags, start=1)
                ]
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows -> NaN, on purpose
                profile = np.nanmean(np.vstack(lags), axis=0)
            return log_ratio(profile, level)
        case ReferenceShape(days, latest):
            ref_origin = np.clip(o - rows.back(days, latest), 0, None)
            return log_ratio(rows.same_hour(days, latest), grid.window_mean(s, ref_origin, 24))
        case WindowMean(hours):
            return log_ratio(grid.window_mean(s, o, hours), level)
        case WindowStd(hours):
            return grid.window_std(s, o, hours) / level
        case OriginChange(days):
            return log_ratio(rows.last, grid.value(s, o - 24 * days))
        case Anchor(days, latest, origin_hours):
            ref_origin = o - rows.back(days, latest)
            if origin_hours == 1:
                now, then = rows.last, grid.value(s, ref_origin)
            else:
                now = grid.window_mean(s, o, origin_hours)
                then = grid.window_mean(s, np.clip(ref_origin, 0, None), origin_hours)
            return log_ratio(now * rows.same_hour(days, latest) / then, level)
    raise TypeError(
        f"model input kind {kind!r} has no builder in features/model_inputs.py "
        "(weather inputs are built by training/weather_features.py)"
    )


def build_model_inputs(
    grid: SeriesGrid,
    s: np.ndarray,
    o: np.ndarray,
    h: np.ndarray,
    inputs: Sequence[ModelInput] = MODEL_INPUTS,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The declared input columns for rows (series s, origin index o, horizon h), and the level.

    Returns ({name: array} in the order of `inputs`, level), level = the series' mean of the
    LEVEL_HOURS up to the origin (the model predicts log(y / level)). Only hours <= o are read.
    """
    rows = _Rows(grid, s, o, h)
    columns = {spec.name: _build_one(spec.kind, rows) for spec in inputs}
    declared = [spec.name for spec in inputs]
    if list(columns) != declared:  # e.g. a name declared twice
        raise ValueError(f"model inputs built {list(columns)}, declared {declared}")
    return columns, rows.level


def model_input_frame(
    consumption: pd.DataFrame, origins: pd.DatetimeIndex, horizon_hours: int = 24
) -> pd.DataFrame:
    """MODEL_INPUTS as a frame for every series and origin in `origins` (UTC hours of the
    history) and horizons 1..horizon_hours, with the series keys, forecast_origin and
    datetime_utc (the target hour). Rows whose level is missing (a series inactive there) are
    dropped. For looking at what the model consumes (the drift report), not for training."""
    grid = SeriesGrid(consumption, extra_hours=horizon_hours)
    o_idx = np.asarray((pd.DatetimeIndex(origins) - grid.start) // _HOUR, dtype=np.int64)
    o_idx = o_idx[(o_idx >= 0) & (o_idx < grid.n_hours)]
    s, o, h = (
        a.ravel()
        for a in np.meshgrid(
            np.arange(len(grid.series)), o_idx, np.arange(1, horizon_hours + 1), indexing="ij"
        )
    )
    columns, level = build_model_inputs(grid, s, o, h)
    keep = np.isfinite(level) & (level > 0)
    areas = np.array([a for a, _ in grid.series], dtype=object)
    segments = np.array([c for _, c in grid.series], dtype=object)
    origin_times = grid.start + pd.to_timedelta(o[keep], unit="h")
    frame = pd.DataFrame(
        {
            "area": areas[s[keep]],
            "segment": segments[s[keep]],
            "forecast_origin": origin_times,
            "datetime_utc": origin_times + pd.to_timedelta(h[keep], unit="h"),
            **{name: values[keep] for name, values in columns.items()},
        }
    )
    return frame
