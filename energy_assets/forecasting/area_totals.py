"""Each price area's total load, forecast from the near-real-time level (no Dagster).

The settled datasets arrive 8-9 days late; Energinet's real-time feed (`realtime_load`, from
`ElectricityBalanceNonv`) gives DK1's and DK2's total load up to the last hour. A forecast issued
at T reads only the hours the feed had published at T: hour H is known once it has ended and the
feed's lag has passed (`newest_known_hour`), and every value after that is masked before
anything is built (`known_at`), for training and forecasting alike; a flagged (implausible)
hour is a gap.

The model: one LightGBM per quantile (p10 / p50 / p90) over both areas, on the log-ratio of the
target hour to the level (the mean of the 24 known hours up to the origin), from the same hour
on the latest observed days (lag 24 / 48, as known), a week and two weeks before (lag 168 /
336), the same hour over the last two weeks' days of the target's kind (working vs off day), the
last hours' change against a week before, the target's calendar (local hour, weekday, Danish
holidays, the year-end break) and, where given, the temperature and wind forecast for the target
day (offline: DMI's observed national means, a perfect forecast). It is fitted per call: a year
of two series is seconds, so a forecast never waits for a stored model to exist and always uses
every hour known at T. `fit_area_model` and `forecast_area_totals` are the two steps.

The next Danish day's level is then blended (log space, LEVEL_WEIGHT on the boosters) with a
daily ridge regression (`area_level`: calendar, this morning's hours, heating degrees and wind)
and the day's hours rescaled to it, the boosters keeping the hourly shape; the band's half-widths
are widened BAND_SCALE times so that p10-p90 covers 80 %. Both were chosen on issue days of
2023-07 → 2023-10 (docs/decisions/0008-realtime-level.md).

A real-time outage (the newest hours missing at T) uses the same model family fitted with the
longer lag the feed now has (the "longer-lag variant"), and says so (`AreaTotals.reason`); past
`MAX_FEED_GAP_HOURS` the feed is too stale to be a level and the result is empty with the reason:
the caller then serves the settled-data model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from energy_assets.contracts import (
    DANISH_TZ,
    OFF_DAY,
    PRICE_AREAS,
    QUANTILE_COLUMNS,
    REALTIME_FLAG_COLUMN,
    YEAR_END_BREAK,
    hour_text,
    utc,
)
from energy_assets.forecasting.area_level import DailyLevel

VALUE = "total_load_mwh"
# The feed's lag (sources.ELECTRICITY_BALANCE_NONV.publication_lag_hours): an hour is published
# minutes after it ends.
FEED_LAG_HOURS = 1
# Beyond this gap the feed no longer says where the level is: the settled-data model serves.
MAX_FEED_GAP_HOURS = 72
# History the inputs read behind the origin: two weeks and a day.
HISTORY_HOURS = 24 * 15
# Issue times the model trains on, a day apart, as far back as the history goes.
DEFAULT_TRAINING_DAYS = 365
LEVEL_HOURS = 24
QUALITY_MODEL, QUALITY_FALLBACK = "model", "fallback"

INPUT_COLUMNS = (
    "area_code",
    "lead_hours",
    "horizon_hours",
    "hour_of_day",
    "day_of_week",
    "is_holiday",
    "is_holiday_eve",
    "is_bridge_day",
    YEAR_END_BREAK,
    OFF_DAY,
    "off_day_ref",
    "off_day_ref_7d",
    "area_log_level",
    "area_ratio_origin",
    "ratio_ref",
    "ratio_ref_2",
    "ratio_7d",
    "ratio_14d",
    "area_ratio_mean_168h",
    "area_ratio_anchor_7d",
    "change_3h_7d",
    "ratio_profile_same_kind",
)
# Days back the same-kind profile looks (working days vs off days: weekends, holidays, the
# year-end break), so every weekend teaches the model what a holiday does.
PROFILE_DAYS = 14
WEATHER_COLUMNS = (
    "area_temp_target",
    "temp_change_ref",
    "temp_day_change",
    "wind_target",
    "wind_day_mean",
    "wind_day_change",
)


# Tuned on issue days of 2023-07 → 2023-10 (decision 0008): the boosters' weight in the next
# day's level, and the band's widening.
LEVEL_WEIGHT = 0.5
BAND_SCALE = 1.4


@dataclass(frozen=True)
class ModelParams:
    """LightGBM's settings (tuned on issue days of 2023-03 → 2023-10, reported on other months:
    docs/decisions/0008-realtime-level.md)."""

    num_boost_round: int = 400
    learning_rate: float = 0.03
    num_leaves: int = 15
    min_data_in_leaf: int = 20
    feature_fraction: float = 0.9
    lambda_l2: float = 1.0
    seed: int = 0
    # Past issue days the model trains on (as far as the history reaches).
    training_days: int = DEFAULT_TRAINING_DAYS
    # The boosters' weight in the next day's level, blended in log space with the daily ridge
    # (`area_level`); 1.0 turns the ridge off.
    level_weight: float = LEVEL_WEIGHT
    # Each band's half-widths (log space around p50) times this: p10-p90 calibrated to 80 %.
    band_scale: float = BAND_SCALE


DEFAULT_PARAMS = ModelParams()


def newest_known_hour(issued_at: Any, lag_hours: int = FEED_LAG_HOURS) -> pd.Timestamp:
    """The newest hour (its start, UTC) the feed has published at `issued_at`: the hour must
    have ended and `lag_hours` passed (at 10:00 with a one-hour lag: 08:00)."""
    return utc(issued_at).floor("h") - pd.Timedelta(hours=lag_hours + 1)


@dataclass(frozen=True)
class LoadHistory:
    """The areas' hourly loads on a dense clock: `values[area]` is MWh per hour from `start`
    (NaN: missing, or flagged implausible)."""

    start: pd.Timestamp
    values: dict[str, np.ndarray]

    @classmethod
    def from_table(cls, table: pd.DataFrame, areas: Sequence[str] = PRICE_AREAS) -> LoadHistory:
        """From REALTIME_LOAD rows (any order; the `implausible` flag, where present, is a gap)."""
        times = pd.DatetimeIndex(pd.to_datetime(table["datetime_utc"], utc=True))
        start, end = times.min(), times.max()
        hours = pd.date_range(start, end, freq="h")
        value = table[VALUE].to_numpy(dtype=float).copy()
        if REALTIME_FLAG_COLUMN in table.columns:
            value[table[REALTIME_FLAG_COLUMN].fillna(False).to_numpy(dtype=bool)] = np.nan
        frame = pd.DataFrame({"t": times, "area": table["area"].to_numpy(), "v": value})
        wide = frame.pivot_table(index="t", columns="area", values="v", aggfunc="mean")
        wide = wide.reindex(hours)
        return cls(
            start=start,
            values={a: wide[a].to_numpy(dtype=float) if a in wide else np.full(len(hours), np.nan)
                    for a in areas},
        )  # fmt: skip

    @property
    def hours(self) -> int:
        return len(next(iter(self.values.values())))

    def index_of(self, when: Any) -> int:
        return int((utc(when) - self.start) / pd.Timedelta(hours=1))

    def time_of(self, index: np.ndarray) -> pd.DatetimeIndex:
        return self.start + pd.to_timedelta(np.asarray(index), unit="h")

    def known_at(self, newest: pd.Timestamp) -> LoadHistory:
        """A copy with every hour after `newest` masked: what was known then."""
        last = self.index_of(newest)
        values = {}
        for area, series in self.values.items():
            masked = series.copy()
            masked[max(last + 1, 0) :] = np.nan
            values[area] = masked
        return LoadHistory(self.start, values)

    def newest_observed(self, area: str, until: pd.Timestamp) -> pd.Timestamp | None:
        """The newest hour ≤ `until` with a value for `area`, or None."""
        last = min(self.index_of(until), self.hours - 1)
        if last < 0:
            return None
        present = np.flatnonzero(~np.isnan(self.values[area][: last + 1]))
        return None if not len(present) else self.start + pd.Timedelta(hours=int(present[-1]))


def _weather(
    weather: pd.DataFrame | None, history: LoadHistory, hours: int, column: str = "temperature_c"
) -> np.ndarray | None:
    """A weather column hourly on the history's clock (national, or the mean over areas)."""
    if weather is None or column not in weather.columns:
        return None
    times = pd.to_datetime(weather["datetime_utc"], utc=True)
    series = weather.assign(t=times).groupby("t")[column].mean()
    grid = history.start + pd.to_timedelta(np.arange(hours), unit="h")
    return series.reindex(grid).to_numpy(dtype=float)


def _day_kinds(times: pd.DatetimeIndex) -> pd.DataFrame:
    from energy_assets.features.calendar import calendar_features, day_kinds

    calendar = calendar_features(times)
    kinds = day_kinds(times, calendar)
    calendar[YEAR_END_BREAK] = kinds[YEAR_END_BREAK]
    calendar[OFF_DAY] = kinds[OFF_DAY]
    return calendar


def _take(series: np.ndarray, index: np.ndarray) -> np.ndarray:
    inside = (index >= 0) & (index < len(series))
    out = np.full(len(index), np.nan)
    out[inside] = series[index[inside]]
    return out


def _window_mean(series: np.ndarray, end: np.ndarray, hours: int) -> np.ndarray:
    """Mean of series[end - hours + 1 .. end] ignoring NaN (NaN when fewer than half exist)."""
    filled = np.nan_to_num(series)
    counts = np.concatenate([[0], np.cumsum(~np.isnan(series))])
    sums = np.concatenate([[0.0], np.cumsum(filled)])
    hi = np.clip(end + 1, 0, len(series))
    lo = np.clip(end + 1 - hours, 0, len(series))
    n = counts[hi] - counts[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (sums[hi] - sums[lo]) / n
    return np.where(n >= hours / 2, mean, np.nan)


def build_rows(
    history: LoadHistory,
    issues: Sequence[pd.Timestamp],
    targets: Sequence[pd.DatetimeIndex],
    origins: Sequence[pd.Timestamp],
    weather: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per (issue, area, target hour) with the model's inputs and, where known in
    `history`, the target (`log_ratio`). `origins[i]` is the newest hour issue i reads; nothing
    after it is read (the caller masks `history` at it for a forecast)."""
    parts = []
    for issue, target_hours, origin in zip(issues, targets, origins, strict=True):
        o = history.index_of(origin)
        t = np.array([history.index_of(x) for x in target_hours], dtype=np.int64)
        for code, area in enumerate(history.values):
            parts.append(
                pd.DataFrame(
                    {
                        "issued_at": utc(issue),
                        "area": area,
                        "area_code": code,
                        "o": o,
                        "t": t,
                        "lead_hours": (t - history.index_of(utc(issue).floor("h"))).astype(int),
                    }
                )
            )
    if not parts:
        return pd.DataFrame(columns=["issued_at", "area", "datetime_utc", *INPUT_COLUMNS])
    rows = pd.concat(parts, ignore_index=True)
    o, t = rows["o"].to_numpy(), rows["t"].to_numpy()
    horizon = t - o
    rows["horizon_hours"] = horizon
    # The same hour on the latest observed day, and the day before it.
    ref = t - 24 * np.ceil(horizon / 24).astype(np.int64)
    times = history.time_of(t)
    calendar = _day_kinds(times)
    ref_kinds = _day_kinds(history.time_of(ref))[OFF_DAY].to_numpy()
    week_kinds = _day_kinds(history.time_of(t - 168))[OFF_DAY].to_numpy()
    columns: dict[str, np.ndarray] = {
        name: calendar[name].to_numpy()
        for name in ("hour_of_day", "day_of_week", "is_holiday", "is_holiday_eve",
                     "is_bridge_day", YEAR_END_BREAK, OFF_DAY)
    }  # fmt: skip
    columns["off_day_ref"] = ref_kinds
    columns["off_day_ref_7d"] = week_kinds
    n = len(rows)
    # The level and ratio inputs (INPUT_COLUMNS after the calendar's) and the target, per area.
    filled_per_area = INPUT_COLUMNS[INPUT_COLUMNS.index("area_log_level") :]
    for name in (*filled_per_area, "log_ratio"):
        columns[name] = np.full(n, np.nan)
    temperature = _weather(weather, history, history.hours + 24 * 3)
    wind = _weather(weather, history, history.hours + 24 * 3, "wind_speed_ms")
    if temperature is not None:
        for name in WEATHER_COLUMNS:
            columns[name] = np.full(n, np.nan)
    # Off-day flags on the history's clock, for the same-kind profile's reference days.
    clock_off = _day_kinds(history.time_of(np.arange(history.hours)))[OFF_DAY].to_numpy()
    target_off = columns[OFF_DAY].astype(bool)
    for area, series in history.values.items():
        mask = (rows["area"] == area).to_numpy()
        oo, tt, rr = o[mask], t[mask], ref[mask]
        level = _window_mean(series, oo, LEVEL_HOURS)
        total, count = np.zeros(len(tt)), np.zeros(len(tt))
        for back in range(PROFILE_DAYS):
            day = rr - 24 * back
            values = _take(series, day)
            same = (_take(clock_off.astype(float), day) == target_off[mask]) & np.isfinite(values)
            total += np.where(same, values, 0.0)
            count += same
        with np.errstate(invalid="ignore", divide="ignore"):
            columns["ratio_profile_same_kind"][mask] = np.log(
                np.where(count > 0, total / np.maximum(count, 1), np.nan) / level
            )
        with np.errstate(invalid="ignore", divide="ignore"):
            area_log_level = np.log(level)

            def ratio(values: np.ndarray, level: np.ndarray = level) -> np.ndarray:
                return np.log(values / level)

            columns["area_log_level"][mask] = area_log_level
            columns["area_ratio_origin"][mask] = ratio(_take(series, oo))
            columns["ratio_ref"][mask] = ratio(_take(series, rr))
            columns["ratio_ref_2"][mask] = ratio(_take(series, rr - 24))
            columns["ratio_7d"][mask] = ratio(_take(series, tt - 168))
            columns["ratio_14d"][mask] = ratio(_take(series, tt - 336))
            columns["area_ratio_mean_168h"][mask] = ratio(_window_mean(series, oo, 168))
            change = np.log(_window_mean(series, oo, 3) / _window_mean(series, oo - 168, 3))
            columns["change_3h_7d"][mask] = change
            columns["area_ratio_anchor_7d"][mask] = columns["ratio_7d"][mask] + change
            columns["log_ratio"][mask] = ratio(_take(series, tt))
        if temperature is not None:
            target_temp = _take(temperature, tt)
            columns["area_temp_target"][mask] = target_temp
            columns["temp_change_ref"][mask] = target_temp - _take(temperature, rr)
            columns["temp_day_change"][mask] = _window_mean(temperature, tt, 24) - _window_mean(
                temperature, oo, 24
            )
        if temperature is not None and wind is not None:
            # Wind drives heat loss and the electric boilers that run on cheap wind power.
            columns["wind_target"][mask] = _take(wind, tt)
            columns["wind_day_mean"][mask] = _window_mean(wind, tt, 24)
            columns["wind_day_change"][mask] = _window_mean(wind, tt, 24) - _window_mean(
                wind, oo, 24
            )
    for name, values in columns.items():
        rows[name] = values
    rows["datetime_utc"] = times
    rows["data_origin"] = history.time_of(o)
    rows["level"] = np.exp(rows["area_log_level"])
    return rows.drop(columns=["o", "t"])


@dataclass(frozen=True)
class AreaModel:
    """Fitted boosters per quantile, the inputs they read and the feed lag they were fitted at."""

    boosters: dict[str, Any]
    inputs: tuple[str, ...]
    lag_hours: int
    trained_until: pd.Timestamp
    training_rows: int


def day_ahead_targets(issued_at: Any) -> pd.DatetimeIndex:
    """The UTC hours of the Danish day after `issued_at`'s (23 or 25 on DST days)."""
    from datetime import timedelta

    today = utc(issued_at).tz_convert(DANISH_TZ).date()
    # Calendar days, not 24-hour steps: a DST day is 23 or 25 hours long.
    start = pd.Timestamp(today + timedelta(days=1), tz=DANISH_TZ)
    end = pd.Timestamp(today + timedelta(days=2), tz=DANISH_TZ)
    return pd.date_range(start.tz_convert("UTC"), end.tz_convert("UTC"), freq="h", inclusive="left")


def intraday_targets(issued_at: Any) -> pd.DatetimeIndex:
    """The UTC hours from `issued_at`'s hour to the end of the next Danish day."""
    now = utc(issued_at).floor("h")
    end = day_ahead_targets(issued_at)[-1] + pd.Timedelta(hours=1)
    return pd.date_range(now, end, freq="h", inclusive="left")


def training_issues(
    history: LoadHistory,
    issued_at: Any,
    hour_local: int = 10,
    days: int = DEFAULT_TRAINING_DAYS,
) -> list[pd.Timestamp]:
    """Past issue times at `hour_local` (Danish time), one a day, whose day-ahead targets were
    known before `issued_at`, as far back as the history has two weeks behind them."""
    now = utc(issued_at)
    first = history.start + pd.Timedelta(hours=HISTORY_HOURS)
    from datetime import timedelta

    today = now.tz_convert(DANISH_TZ).date()
    out = []
    for back in range(2, days + 2):
        day = today - timedelta(days=back)
        issue = pd.Timestamp(day, tz=DANISH_TZ) + pd.Timedelta(hours=hour_local)
        issue = issue.tz_convert("UTC")
        if issue < first:
            break
        out.append(issue)
    return sorted(out)


def fit_area_model(
    history: LoadHistory,
    issued_at: Any,
    weather: pd.DataFrame | None = None,
    lag_hours: int = FEED_LAG_HOURS,
    params: ModelParams = DEFAULT_PARAMS,
    issue_hours_local: Sequence[int] = (10,),
    target_days: Sequence[int] = (1,),
) -> AreaModel:
    """Fit the quantile boosters on past issue times, from what was known at `issued_at` only:
    the history is masked at newest_known_hour(issued_at, lag_hours) first, so a training row
    whose target came later is dropped. `issue_hours_local` are the Danish hours of the past
    issues (the product's own by default); each past issue forecasts the Danish day after it
    (`target_days` = (0, 1) adds the rest of its own day: the intraday shape)."""
    import lightgbm as lgb

    known = history.known_at(newest_known_hour(issued_at, lag_hours))
    issues, targets, origins = [], [], []
    for hour in issue_hours_local:
        for issue in training_issues(known, issued_at, hour, params.training_days):
            hours = [day_ahead_targets(issue)] if 1 in target_days else []
            if 0 in target_days:
                hours.insert(0, intraday_targets(issue).difference(day_ahead_targets(issue)))
            issues.append(issue)
            targets.append(pd.DatetimeIndex(np.concatenate([h.to_numpy() for h in hours])))
            origins.append(newest_known_hour(issue, lag_hours))
    rows = build_rows(known, issues, targets, origins, weather)
    inputs = tuple(c for c in (*INPUT_COLUMNS, *WEATHER_COLUMNS) if c in rows.columns)
    train = rows[np.isfinite(rows["log_ratio"]) & np.isfinite(rows["area_log_level"])]
    if len(train) < 24 * 14:
        raise ValueError(
            f"only {len(train)} training rows known at {hour_text(issued_at)}: the area-total "
            "model needs two weeks of the real-time feed behind at least two weeks of issues"
        )
    matrix = train[list(inputs)].to_numpy(dtype=float)
    boosters = {}
    for column, alpha in zip(QUANTILE_COLUMNS, (0.1, 0.5, 0.9), strict=True):
        settings = {
            "objective": "quantile",
            "alpha": alpha,
            "learning_rate": params.learning_rate,
            "num_leaves": params.num_leaves,
            "min_data_in_leaf": params.min_data_in_leaf,
            "feature_fraction": params.feature_fraction,
            "lambda_l2": params.lambda_l2,
            "seed": params.seed,
            "deterministic": True,
            "num_threads": 1,
            "verbose": -1,
        }
        data = lgb.Dataset(matrix, label=train["log_ratio"].to_numpy(), free_raw_data=True)
        boosters[column] = lgb.train(settings, data, num_boost_round=params.num_boost_round)
    return AreaModel(
        boosters=boosters,
        inputs=inputs,
        lag_hours=lag_hours,
        trained_until=newest_known_hour(issued_at, lag_hours),
        training_rows=len(train),
    )


@dataclass(frozen=True)
class AreaTotals:
    """A forecast of each area's total: `table` has one row per (area, datetime_utc) with
    issued_at, lead_hours, data_origin (the newest real-time hour read), prediction, p10, p50,
    p90 (MWh), quality, quality_reason, level_source and weather_used; empty when the feed is
    too stale (`available` False: serve the settled-data model). `reason` says why a fallback."""

    table: pd.DataFrame
    quality: str
    reason: str | None
    lag_hours: int
    available: bool = True
    model: AreaModel | None = field(default=None, repr=False)
    # The daily ridge's level of the next Danish day (None: not used or too little history).
    daily_level: DailyLevel | None = field(default=None, repr=False)


def feed_gap_hours(history: LoadHistory, issued_at: Any, lag_hours: int = FEED_LAG_HOURS) -> int:
    """How many hours the feed's newest value (the older of the areas') lies behind the hour it
    should have at `issued_at`: 0 when it is on time."""
    expected = newest_known_hour(issued_at, lag_hours)
    gaps = []
    for area in history.values:
        newest = history.newest_observed(area, expected)
        gaps.append(10**6 if newest is None else int((expected - newest) / pd.Timedelta(hours=1)))
    return max(gaps)


def forecast_area_totals(
    history: LoadHistory,
    issued_at: Any,
    targets: pd.DatetimeIndex,
    weather: pd.DataFrame | None = None,
    lag_hours: int = FEED_LAG_HOURS,
    params: ModelParams = DEFAULT_PARAMS,
    model: AreaModel | None = None,
    issue_hours_local: Sequence[int] = (10,),
    target_days: Sequence[int] = (1,),
) -> AreaTotals:
    """Each area's total for the `targets` hours, issued at `issued_at` from the hours the feed
    had published then (a model fitted per call unless `model` is given and fits the feed's
    lag). With the newest hours missing (an outage) the longer-lag variant serves and `reason`
    says so; past MAX_FEED_GAP_HOURS the result is empty (`available` False) with the reason."""
    gap = feed_gap_hours(history, issued_at, lag_hours)
    reason = None
    quality = QUALITY_MODEL
    effective_lag = lag_hours
    if gap > MAX_FEED_GAP_HOURS:
        expected = newest_known_hour(issued_at, lag_hours)
        reason = (
            f"real-time feed outage: no total load for {min(gap, 10**6) if gap < 10**6 else 'any'}"
            f" hour(s) up to {hour_text(expected)}, more than {MAX_FEED_GAP_HOURS} h; serve the "
            "settled-data model"
        )
        return AreaTotals(pd.DataFrame(), QUALITY_FALLBACK, reason, lag_hours, available=False)
    if gap > 0:
        effective_lag = lag_hours + gap
        newest = newest_known_hour(issued_at, effective_lag)
        reason = (
            f"real-time feed outage: its newest hour is {hour_text(newest)}, {gap} h later than "
            f"due; forecast by the longer-lag variant (feed lag {effective_lag} h)"
        )
        quality = QUALITY_FALLBACK
    if model is None or model.lag_hours != effective_lag:
        model = fit_area_model(
            history, issued_at, weather, effective_lag, params, issue_hours_local, target_days
        )
    origin = newest_known_hour(issued_at, effective_lag)
    known = history.known_at(origin)
    rows = build_rows(known, [utc(issued_at)], [targets], [origin], weather)
    matrix = rows[list(model.inputs)].to_numpy(dtype=float)
    level = rows["level"].to_numpy()
    quantiles = np.sort(
        np.column_stack([model.boosters[c].predict(matrix) for c in QUANTILE_COLUMNS]), axis=1
    )
    table = pd.DataFrame(
        {
            "issued_at": rows["issued_at"],
            "area": rows["area"],
            "datetime_utc": rows["datetime_utc"],
            "lead_hours": rows["lead_hours"].astype(int),
            "data_origin": rows["data_origin"],
        }
    )
    daily = None
    if params.level_weight < 1:
        from energy_assets.forecasting.area_level import predict_daily_level

        daily = predict_daily_level(known, issued_at, origin, weather)
    if daily is not None:
        quantiles = (
            quantiles
            + _level_shift(
                rows, quantiles[:, 1] + np.log(level), daily, issued_at, params.level_weight
            )[:, None]
        )
    # The band widened (or narrowed) around p50 in log space: its calibration.
    quantiles[:, 0] = quantiles[:, 1] + params.band_scale * (quantiles[:, 0] - quantiles[:, 1])
    quantiles[:, 2] = quantiles[:, 1] + params.band_scale * (quantiles[:, 2] - quantiles[:, 1])
    for i, column in enumerate(QUANTILE_COLUMNS):
        table[column] = level * np.exp(quantiles[:, i])
    table["prediction"] = table["p50"]
    table["quality"] = quality
    table["quality_reason"] = reason
    table["level_source"] = "realtime"
    table["weather_used"] = any(c in model.inputs for c in WEATHER_COLUMNS)
    return AreaTotals(table, quality, reason, effective_lag, model=model, daily_level=daily)


def _level_shift(
    rows: pd.DataFrame,
    log_p50: np.ndarray,
    daily: DailyLevel,
    issued_at: Any,
    weight: float,
) -> np.ndarray:
    """Per row, the log shift that moves the next Danish day's mean p50 (per area, where the
    forecast has every hour of that day) to the blend exp(weight · log boosters' mean + (1 -
    weight) · log ridge's mean); 0 for other hours."""
    shift = np.zeros(len(rows))
    day = day_ahead_targets(issued_at)
    in_day = rows["datetime_utc"].isin(day).to_numpy()
    for area, mean in daily.mean.items():
        hours = in_day & (rows["area"] == area).to_numpy()
        if hours.sum() != len(day):
            continue
        boosters = np.log(np.mean(np.exp(log_p50[hours])))
        shift[hours] = (1 - weight) * (np.log(mean) - boosters)
    return shift


PRODUCTS = ("day-ahead", "intraday")


def area_totals_for_product(
    realtime_load: pd.DataFrame,
    issued_at: Any,
    product: str,
    weather: pd.DataFrame | None = None,
    lag_hours: int = FEED_LAG_HOURS,
    params: ModelParams = DEFAULT_PARAMS,
) -> AreaTotals:
    """Each area's total for a product issued at `issued_at`, from `realtime_load` rows (the
    REALTIME_LOAD table, at least the training window plus two weeks before the issue): the
    day-ahead product forecasts the next Danish day, trained on past issues at the same local
    hour; the intraday one the hours from now to the end of tomorrow. What the products'
    reconciliation (`forecasting/reconcile.py`) takes as the areas' totals."""
    if product not in PRODUCTS:
        raise ValueError(f"product {product!r} is not one of {', '.join(PRODUCTS)}")
    hour_local = utc(issued_at).tz_convert(DANISH_TZ).hour
    day_ahead = product == "day-ahead"
    return forecast_area_totals(
        LoadHistory.from_table(realtime_load),
        issued_at,
        day_ahead_targets(issued_at) if day_ahead else intraday_targets(issued_at),
        weather,
        lag_hours=lag_hours,
        params=params,
        issue_hours_local=(hour_local,),
        target_days=(1,) if day_ahead else (0, 1),
    )


# Settled hours the segments' share of the feed's total is measured over (a week: every hour of
# the day and every day kind once).
COVERAGE_WINDOW_HOURS = 168


def totals_for_segments(
    totals: pd.DataFrame,
    settled: pd.DataFrame,
    realtime_load: pd.DataFrame,
    window_hours: int = COVERAGE_WINDOW_HOURS,
) -> pd.DataFrame:
    """The area totals the segments reconcile to, in the segments' unit (kWh).

    A dataset's segments rarely sum to the feed's TotalLoad: grid losses, own consumption and
    segments outside the dataset make the gap (a few per cent, stable week to week). So each
    area's total forecast (MWh, `AreaTotals.table`) is scaled by that area's measured share:
    the segments' settled sum over the feed's total on the same hours, the newest
    `window_hours` hours both have (all known at issue time: the settled data are the older of
    the two). The real-time feed then brings its level change, not its definition of load.

    settled: CLEAN rows (datetime_utc, area, segment, energy_consumption in kWh) known at issue
    time; realtime_load: REALTIME_LOAD rows. Returns `area, datetime_utc, p10, p50, p90` (kWh)
    for the areas with a share; raises ValueError naming an area without overlapping hours.
    """
    segments_sum = settled.groupby(["area", "datetime_utc"], observed=True)[
        "energy_consumption"
    ].sum()
    feed = realtime_load
    if REALTIME_FLAG_COLUMN in feed.columns:
        feed = feed[~feed[REALTIME_FLAG_COLUMN].fillna(False).astype(bool)]
    feed_total = feed.set_index(["area", "datetime_utc"])[VALUE]
    both = pd.concat({"segments": segments_sum, "feed": feed_total}, axis=1, join="inner").dropna()
    out = []
    for area, rows in totals.groupby("area", observed=True):
        overlap = both.xs(area, level="area") if area in both.index.get_level_values(0) else None
        if overlap is None or overlap.empty:
            raise ValueError(
                f"no hour where both the settled segments and the real-time total of {area} "
                "exist: the segments' share of the total cannot be measured"
            )
        recent = overlap.sort_index().tail(window_hours)
        # kWh of segments per MWh of the feed's total: the unit change is in the share.
        share_kwh = float(recent["segments"].sum() / recent["feed"].sum())
        scaled = rows[["area", "datetime_utc"]].copy()
        for column in QUANTILE_COLUMNS:
            scaled[column] = rows[column].to_numpy() * share_kwh
        out.append(scaled)
    return pd.concat(out, ignore_index=True)
