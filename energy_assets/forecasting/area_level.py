"""The next Danish day's mean load per area, from daily means known at issue time (no Dagster).

Most of the area-total forecaster's error is the day's level, not its hourly shape (decision
0008). This is a second, independent estimate of that level: per area, a ridge regression of
the log-change from the latest complete Danish day's mean to the target day's mean, on the
target's calendar (weekday, holiday, its eve, bridge day, the year-end break, off day) and the
reference day's, last week's same weekday against the latest day, the week's trend, this
morning's hours (the issue day's hours known at the origin) against yesterday's and last
week's same hours, and, where weather is given, the change in heating degrees (base
HEATING_BASE_C), temperature and wind from the latest day to the target day. A linear model on
a few hundred days: it extrapolates to a cold snap the boosters never saw, and fits in a
millisecond, so it is refitted on all history at every call.

`forecast_area_totals` blends it with the boosters' own daily mean (log space, weight
ModelParams.level_weight on the boosters) and rescales the target day's hours to the blend.
Everything is read from the history masked at the origin: a training day's features use the
same local hours of its own issue day, known at its own issue time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from energy_assets.contracts import DANISH_TZ, OFF_DAY, YEAR_END_BREAK, utc

HEATING_BASE_C = 17.0
# Ridge penalty on standardised inputs (tuned on issue days of 2023-03 → 2023-10: 1, 10, 30
# within 0.1 point; 10 chosen).
RIDGE_LAMBDA = 10.0
# Fewer complete training days than this: no level model (the boosters' level serves).
MIN_TRAINING_DAYS = 28
CALENDAR = ("is_holiday", "is_holiday_eve", "is_bridge_day", YEAR_END_BREAK, OFF_DAY)


@dataclass(frozen=True)
class DailyLevel:
    """The target day's predicted mean load (MWh per hour) per area, and the inputs read."""

    mean: dict[str, float]
    inputs: tuple[str, ...]
    training_days: int


def _daily(values: np.ndarray, days: np.ndarray, hours: np.ndarray, upto: int | None) -> pd.Series:
    """Mean per local day (NaN unless every hour of the day, or of its first `upto`+1 hours,
    is present)."""
    keep = np.ones(len(values), bool) if upto is None else hours <= upto
    frame = pd.DataFrame({"d": days[keep], "v": values[keep]})
    grouped = frame.groupby("d")["v"]
    mean = grouped.mean()
    complete = grouped.count() == grouped.size()
    return mean.where(complete)


def _day_calendar(days: pd.DatetimeIndex) -> pd.DataFrame:
    from energy_assets.features.calendar import calendar_features, day_kinds

    noon = pd.DatetimeIndex(days + pd.Timedelta(hours=12)).tz_localize(DANISH_TZ).tz_convert("UTC")
    calendar = calendar_features(noon)
    kinds = day_kinds(noon, calendar)
    out = pd.DataFrame(index=days)
    out["day_of_week"] = calendar["day_of_week"].to_numpy()
    for name in CALENDAR[:3]:
        out[name] = calendar[name].to_numpy().astype(float)
    out[YEAR_END_BREAK] = np.asarray(kinds[YEAR_END_BREAK], float)
    out[OFF_DAY] = np.asarray(kinds[OFF_DAY], float)
    return out


def _weather_daily(weather: pd.DataFrame | None, column: str) -> pd.Series | None:
    if weather is None or column not in weather.columns:
        return None
    times = pd.to_datetime(weather["datetime_utc"], utc=True)
    hourly = weather.assign(t=times).groupby("t")[column].mean()
    local = hourly.index.tz_convert(DANISH_TZ).tz_localize(None).normalize()
    return hourly.groupby(local).mean()


def daily_inputs(
    history: Any, origin: pd.Timestamp, ahead_days: int, weather: pd.DataFrame | None = None
) -> tuple[dict[str, pd.DataFrame], pd.DatetimeIndex]:
    """Per area a frame indexed by target day: the inputs and `y` (the log-change of the day's
    mean from the latest complete day's, where known). `history` is a LoadHistory already masked
    at `origin`; each row's issue day is its target day minus `ahead_days`."""
    times = history.time_of(np.arange(history.hours)).tz_convert(DANISH_TZ)
    days = np.asarray(times.tz_localize(None).normalize())
    hours = np.asarray(times.hour)
    origin_hour = utc(origin).tz_convert(DANISH_TZ).hour
    index = pd.DatetimeIndex(np.unique(days))
    index = index.union(pd.date_range(index[-1], periods=ahead_days + 2, freq="D"))
    calendar = _day_calendar(index)
    temperature = _weather_daily(weather, "temperature_c")
    wind = _weather_daily(weather, "wind_speed_ms")
    frames = {}
    for area, values in history.values.items():
        level = np.log(_daily(values, days, hours, None).reindex(index))
        morning = np.log(_daily(values, days, hours, origin_hour).reindex(index))

        def back(series: pd.Series, k: int) -> pd.Series:
            return series.shift(k)

        latest = ahead_days + 1  # the issue day's day before: the latest complete day
        x = pd.DataFrame(index=index)
        for d in range(7):
            x[f"weekday_{d}"] = (calendar["day_of_week"] == d).astype(float)
        for name in CALENDAR:
            x[name] = calendar[name]
        for name in ("is_holiday", YEAR_END_BREAK, OFF_DAY):
            x[f"{name}_ref"] = back(calendar[name], latest)
        x["week_shape"] = back(level, 7) - back(level, latest)
        same_kind = calendar[OFF_DAY] == back(calendar[OFF_DAY], 7)
        x["week_shape_same_kind"] = x["week_shape"] * same_kind
        x["trend_7d"] = back(level, latest) - back(level, latest + 7)
        x["morning_vs_yesterday"] = back(morning, ahead_days) - back(morning, ahead_days + 1)
        x["morning_vs_week"] = back(morning, ahead_days) - back(morning, ahead_days + 7)
        if temperature is not None and wind is not None:
            temp = temperature.reindex(index)
            wind_day = wind.reindex(index)
            heating = (HEATING_BASE_C - temp).clip(lower=0)
            x["heating_change"] = heating - back(heating, latest)
            x["heating"] = heating
            x["temperature_change"] = temp - back(temp, latest)
            x["wind_change"] = wind_day - back(wind_day, latest)
            x["wind"] = wind_day
            x["heating_wind_change"] = heating * wind_day - back(heating * wind_day, latest)
        x["y"] = level - back(level, latest)
        x["latest_log_mean"] = back(level, latest)
        frames[area] = x
    return frames, index


def predict_daily_level(
    history: Any,
    issued_at: Any,
    origin: pd.Timestamp,
    weather: pd.DataFrame | None = None,
    ridge_lambda: float = RIDGE_LAMBDA,
) -> DailyLevel | None:
    """The mean of each area's load over the Danish day after `issued_at`'s, from `history`
    masked at `origin` (the newest hour known at issue): a ridge fitted on every earlier day
    whose target day is complete. None when there are fewer than MIN_TRAINING_DAYS such days
    or the latest complete day is missing (the boosters' level then serves alone)."""
    issue_day = pd.Timestamp(utc(issued_at).tz_convert(DANISH_TZ).date())
    target = issue_day + pd.Timedelta(days=1)
    ahead = int((issue_day - pd.Timestamp(utc(origin).tz_convert(DANISH_TZ).date())).days) + 1
    frames, _ = daily_inputs(history, origin, ahead, weather)
    means: dict[str, float] = {}
    inputs: tuple[str, ...] = ()
    rows = 0
    for area, x in frames.items():
        inputs = tuple(c for c in x.columns if c not in ("y", "latest_log_mean"))
        features = x[list(inputs)]
        usable = features.notna().all(axis=1)
        train = usable & x["y"].notna() & (x.index < target)
        if train.sum() < MIN_TRAINING_DAYS or not usable.get(target, False):
            return None
        matrix = features[train].to_numpy(dtype=float)
        mu, sd = matrix.mean(axis=0), matrix.std(axis=0)
        sd[sd == 0] = 1.0
        z = (matrix - mu) / sd
        y = x.loc[train, "y"].to_numpy()
        coefficients = np.linalg.solve(
            z.T @ z + ridge_lambda * np.eye(z.shape[1]), z.T @ (y - y.mean())
        )
        row = (features.loc[target].to_numpy(dtype=float) - mu) / sd
        change = y.mean() + row @ coefficients
        means[area] = float(np.exp(x.loc[target, "latest_log_mean"] + change))
        rows = int(train.sum())
    return DailyLevel(mean=means, inputs=inputs, training_days=rows)
