"""Implausible values: a meter error (a value 100x a series' level, a zero in a series that is
never zero) judged against the series' own recent history.

The rule (declared in `contracts.PLAUSIBILITY`, read here): for a row of series s at hour t, the
reference is s's valid, positive values in the trailing window [t - a week, t); with lo and hi
the window's 2nd and 98th percentiles, the value is implausible when

    value > hi * max_ratio   or   value < lo / max_ratio

and a zero is implausible when the window holds (almost) no zeros. Rows with less than two days
of history behind them are not judged: there is nothing to judge them by.

Why this rule, not a deviation from the median in units of a spread: real series have real days
far from their median. On the DE35 slice, consumer type 450 runs at 1/16 of its weekly median on
New Year's Day and business types (330, 370, 390) jump 5-9x above a holiday week's median on
2 January; a median +- k x IQR rule that catches a 10x error flags those. Measured against the
week's range instead (which already holds the daily cycle, the weekend and the last cold days),
no real hour in the DE35 slice or in five years of DK2 lies more than 4.6x outside it, while a
100x error lies ~50x outside. Logs are not needed for a ratio test; the percentiles ignore the
few outliers being looked for (a past error in the window does not widen the range). The window
moves with the series, so a cold snap or Christmas shifts it within days; DST only moves the
daily cycle by an hour inside a window that holds every hour anyway.

A flatliner (a meter or a data feed stuck: the same value for `rule.flat_hours` consecutive
hours or more) is implausible too, from its `flat_hours`-th hour on: real consumption never
repeats a value that long (the longest real run is 2 hours in the DE35 slice, 1 in five years
of DK2). A series that is legitimately flat (a closed site at zero) is exempted by name
(`flat_ok`, from the series catalogue: `energy-assets series accept --flat AREA/SEGMENT`).

Vectorised with polars' rolling-by-time quantiles; no Dagster here.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd
import polars as pl

from energy_assets.contracts import CLEAN, PLAUSIBILITY, Plausibility

# The columns `judge_values` returns.
VERDICT_COLUMNS = ("implausible", "recent_low", "recent_high", "flat_hours")


def judge_values(
    clean: pd.DataFrame,
    rule: Plausibility = PLAUSIBILITY,
    flat_ok: Collection[tuple[str, str]] = (),
) -> pd.DataFrame:
    """Per row of CLEAN `clean` (any order; the history before the hours to judge included):
    `implausible` (bool), the series' recent range `recent_low` / `recent_high` in the value's
    unit (NaN where the history is too short to judge), and `flat_hours` (how many consecutive
    hours up to this one held this same value), aligned with `clean.index`. A row is
    implausible when out of range, a zero in a never-zero series, or `flat_hours` >=
    rule.flat_hours (a flatliner) in a series not in `flat_ok` ((area, segment) pairs).

    Invalid rows (`CLEAN.invalid_rows`: null, negative, a duplicated key, ...) are neither judged
    nor used as reference: the contract catches them already.
    """
    value, time = str(CLEAN.value_column), CLEAN.time_column
    series = list(CLEAN.series_columns)
    out = pd.DataFrame(
        {"implausible": False, "recent_low": np.nan, "recent_high": np.nan, "flat_hours": 1},
        index=clean.index,
    )
    valid = ~CLEAN.invalid_rows(clean).to_numpy()
    if not valid.any():
        return out
    rows = clean.loc[valid, [time, *series, value]].copy()
    rows["_row"] = np.flatnonzero(valid)
    frame = pl.from_pandas(rows, nan_to_null=False).with_columns(
        pl.col(time).dt.cast_time_unit("us")
    )
    window = f"{rule.window_hours}h"
    x = pl.col(value)
    positive = pl.when(x > 0).then(x).otherwise(None)

    def trailing(quantile: float) -> pl.Expr:
        return positive.rolling_quantile_by(
            time, window, quantile=quantile, interpolation="linear", closed="left"
        ).over(series)

    def trailing_count(condition: pl.Expr) -> pl.Expr:
        return condition.cast(pl.Int32).rolling_sum_by(time, window, closed="left").over(series)

    exempt = pl.lit(False)
    if flat_ok:
        keys = pl.concat_str([pl.col(c).cast(pl.Utf8) for c in series], separator="\x1f")
        exempt = keys.is_in(["\x1f".join(map(str, key)) for key in flat_ok])
    # Consecutive hours holding the same value: a run restarts at a new value or a missing hour.
    same = (x == x.shift(1)) & ((pl.col(time) - pl.col(time).shift(1)) == pl.duration(hours=1))
    run = (~same.fill_null(False)).cast(pl.Int32).cum_sum()
    judged = (
        frame.sort([*series, time])
        .with_columns(_run=run.over(series))
        .with_columns(flat_hours=pl.int_range(1, pl.len() + 1).over([*series, "_run"]))
        .with_columns(
            recent_low=trailing(rule.low_quantile),
            recent_high=trailing(rule.high_quantile),
            _history=trailing_count(x.is_not_null()),
            _zeros=trailing_count(x == 0),
        )
        .with_columns(_judged=pl.col("_history") >= rule.min_history_hours)
        .with_columns(
            implausible=(
                (
                    pl.col("_judged")
                    & pl.when(x == 0)
                    .then(pl.col("_zeros") <= rule.max_zero_share * pl.col("_history"))
                    .otherwise(
                        (x > pl.col("recent_high") * rule.max_ratio)
                        | (x < pl.col("recent_low") / rule.max_ratio)
                    )
                ).fill_null(False)
                | ((pl.col("flat_hours") >= rule.flat_hours) & ~exempt)
            ),
            recent_low=pl.when(pl.col("_judged")).then(pl.col("recent_low")),
            recent_high=pl.when(pl.col("_judged")).then(pl.col("recent_high")),
        )
        .sort("_row")
    )
    positions = judged["_row"].to_numpy()
    out.iloc[positions, 0] = judged["implausible"].to_numpy()
    for column in ("recent_low", "recent_high"):
        out.iloc[positions, out.columns.get_loc(column)] = (
            judged[column].fill_null(np.nan).to_numpy()
        )
    out.iloc[positions, out.columns.get_loc("flat_hours")] = judged["flat_hours"].to_numpy()
    out["implausible"] = out["implausible"].astype(bool)
    return out


def without_implausible(clean: pd.DataFrame, rule: Plausibility = PLAUSIBILITY) -> pd.DataFrame:
    """`clean` (CLEAN columns, optionally more) with the values its `rule.flag_column` marks set
    to NaN: what training and forecasting read, so a flagged value is a gap to the forecaster.
    A frame without the column (features stored before the rule existed) is returned as is."""
    if rule.flag_column not in clean.columns:
        return clean
    flagged = clean[rule.flag_column].fillna(False).astype(bool).to_numpy()
    if not flagged.any():
        return clean
    out = clean.copy()
    out.loc[flagged, str(CLEAN.value_column)] = np.nan
    return out


# The column where a flagged row records the estimate its lags read (FEATURES).
ESTIMATE_COLUMN = "implausible_estimate"
# The level ratio of an estimate is bounded: a day twice or half last week's is the most it follows.
ESTIMATE_LEVEL_CLIP = (0.5, 2.0)


def estimate_flagged(history: pd.DataFrame, usable: np.ndarray, flagged: np.ndarray) -> pd.Series:
    """For each `flagged` row of CLEAN `history`: the hour before it, moved as the series moved
    from that hour to this one a week earlier (a single bad hour: its neighbour, shaped by last
    week); where the hour before is not usable either (a run of flagged hours), the same hour one
    week earlier scaled to the day's level (the mean of the 24 usable hours before it over the mean of the 24 hours from
    last week's hour on, both inside the week a features partition reads; the ratio clipped to
    ESTIMATE_LEVEL_CLIP, 1 where either day has under 12 usable hours). Where last week's hour is not in `history` (a features partition reads only
    the week before it), the same hour the day before, else the day after (still inside the
    history, so never after the hour being built), scaled the same way. NaN where none is usable,
    and on every other row.

    Only `usable` rows (valid, plausible) are read, so a run of flagged hours (a flatliner) is
    estimated from the hours around it, never from itself."""
    value, time = str(CLEAN.value_column), CLEAN.time_column
    out = pd.Series(np.nan, index=history.index, name=ESTIMATE_COLUMN)
    if not flagged.any() or not usable.any():
        return out
    series = list(CLEAN.series_columns)
    keys = history[series].astype(str).agg("\x1f".join, axis=1)
    rows = history.loc[usable, [time, value]].assign(_key=keys[usable].to_numpy())
    hours = pd.date_range(history[time].min(), history[time].max(), freq="h")
    wide = rows.pivot_table(index=time, columns="_key", values=value, aggfunc="first").reindex(
        hours
    )
    daily = wide.rolling(24, min_periods=12).mean()
    before = daily.shift(1)  # the 24 h before each hour
    after = daily.shift(-23)  # the 24 h from each hour on
    values = wide.stack(future_stack=True)
    levels_before, levels_after = before.stack(future_stack=True), after.stack(future_stack=True)
    targets = pd.DatetimeIndex(history.loc[flagged, time])
    target_keys = keys[flagged].to_numpy()

    def at(stacked: pd.Series, when: pd.DatetimeIndex) -> np.ndarray:
        index = pd.MultiIndex.from_arrays([when, target_keys])
        return stacked.reindex(index).to_numpy(dtype="float64")

    # First choice: the hour before, moved as last week moved from that hour to this one.
    before_value = at(values, targets - pd.Timedelta(hours=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        step = at(values, targets - pd.Timedelta(hours=168)) / at(
            values, targets - pd.Timedelta(hours=169)
        )
    step = np.where(np.isfinite(step) & (step > 0), step, 1.0)
    estimate = before_value * np.clip(step, *ESTIMATE_LEVEL_CLIP)
    for offset in (-168, -24, 24):
        source = targets + pd.Timedelta(hours=offset)
        base = at(values, source)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = at(levels_before, targets) / at(levels_after, source)
        ratio = np.where(np.isfinite(ratio) & (ratio > 0), ratio, 1.0)
        scaled = base * np.clip(ratio, *ESTIMATE_LEVEL_CLIP)
        estimate = np.where(np.isnan(estimate), scaled, estimate)
    out.loc[flagged] = estimate
    return out


def with_estimates(clean: pd.DataFrame, rule: Plausibility = PLAUSIBILITY) -> pd.DataFrame:
    """`clean` with each flagged value replaced by its estimate (`ESTIMATE_COLUMN`), or NaN
    where there is none: what a forecast reads as its inputs (an estimate, not a hole). Training
    and scoring read `without_implausible` instead: an estimate is no target to learn or score."""
    if ESTIMATE_COLUMN not in clean.columns:
        return without_implausible(clean, rule)
    out = without_implausible(clean, rule)
    if rule.flag_column not in clean.columns:
        return out
    flagged = clean[rule.flag_column].fillna(False).astype(bool).to_numpy()
    if flagged.any():
        out = out.copy() if out is clean else out
        out.loc[flagged, str(CLEAN.value_column)] = clean.loc[flagged, ESTIMATE_COLUMN].to_numpy()
    return out
