"""From raw API records to typed, clean rows and the per-hour features derived from them.

Plain functions on dataframes (no Dagster): `clean_consumption` maps the API's columns to the
CLEAN contract, `build_features` adds calendar, holiday, lag and rolling features for a set of
hours from a window of history that reaches far enough back (contracts.LOOKBACK_HOURS).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

from energy_assets.contracts import (
    CLEAN,
    CLEAN_COLUMNS,
    FEATURE_COLUMNS,
    LAG_HOURS,
    RAW,
    ROLLING_WINDOWS_HOURS,
    SERIES_KEYS,
    utc,
    utc_series,
)
from energy_assets.features.calendar import calendar_features
from energy_assets.ingestion.files import ApiFileError, read_api_frame


def clean_consumption(raw: pd.DataFrame) -> pd.DataFrame:
    """Typed rows in the CLEAN contract from records in the API's columns.

    `datetime_utc` comes from HourUTC (never HourDK, which repeats an hour when DST ends);
    energy_consumption is kWh as float. Rows are sorted by hour then series.
    """
    clean = pd.DataFrame(
        {
            "datetime_utc": utc_series(raw["HourUTC"]),
            "area": raw["PriceArea"].astype(str),
            "consumer_type": pd.to_numeric(raw["ConsumerType_DE35"]).astype("int64"),
            "energy_consumption": pd.to_numeric(raw["TotalCon"]).astype("float64"),
        }
    )
    return clean.sort_values(["datetime_utc", *SERIES_KEYS], kind="stable").reset_index(drop=True)


def read_consumption_file(path: str | Path) -> pd.DataFrame:
    """CLEAN rows from a CSV / CSV.gz / parquet file in the API's columns (the backtest's input).

    Raises ApiFileError (one line naming the file, the row and the fix) for a file that cannot be
    read, a missing column, or a time, code or kWh that does not parse. An empty TotalCon is a
    missing value (NaN), not an error: the forecaster treats it like a missing hour.
    """
    # HourDK is not needed: datetime_utc comes from HourUTC.
    needed = [column for column in RAW.required_names if column != "HourDK"]
    raw = read_api_frame(path, required=needed)
    csv = Path(path).suffix != ".parquet"
    for column, nullable in (("HourUTC", False), ("ConsumerType_DE35", False), ("TotalCon", True)):
        values = raw[column]
        parsed = values if column == "HourUTC" else pd.to_numeric(values, errors="coerce")
        bad = (parsed.isna() & (values.notna() | (not nullable))).to_numpy()
        if column == "ConsumerType_DE35":
            bad |= parsed.notna().to_numpy() & (parsed % 1 != 0).to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            place = f"line {row + 2}" if csv else f"row {row}"
            raise ApiFileError(
                f"{path}: {column} on {place} is {values.iloc[row]!r} ({int(bad.sum())} such "
                "row(s)); fix or remove those rows"
            )
    return clean_consumption(raw)


def build_features(history: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Feature rows for hours in [start, end) computed from CLEAN `history`.

    Every history row in [start, end) becomes a feature row as it is, so the features' checks
    see a bad value or a duplicated key there. Lags and rolling statistics, though, are computed
    only from valid rows (`CLEAN.invalid_rows`: null, negative or non-finite kWh, an unknown area
    or code, a key held by two rows): an invalid value is treated like a missing hour, so an hour
    blocked by the checks never leaks into a later hour's lag_24h or rolling mean.

    `history` should reach contracts.LOOKBACK_HOURS before `start`; where it does not (the first
    week of data) the lag / rolling features are NaN rather than made up. Lags are taken by
    timestamp, not by row position, so a missing (or invalid) upstream hour gives NaN instead of
    a silently wrong lag. Rolling statistics cover the window ending at (and including) the
    row's hour, over the valid values in it.
    """
    history = history[CLEAN_COLUMNS]
    start_utc, end_utc = utc(start), utc(end)
    valid = _to_polars(history[~CLEAN.invalid_rows(history)])  # one row per key
    frame = _to_polars(history).filter(
        (pl.col("datetime_utc") >= start_utc) & (pl.col("datetime_utc") < end_utc)
    )
    key = [*SERIES_KEYS, "datetime_utc"]
    for lag in LAG_HOURS:
        lagged = valid.select(
            [
                *SERIES_KEYS,
                (pl.col("datetime_utc") + pl.duration(hours=lag)).alias("datetime_utc"),
                pl.col("energy_consumption").alias(f"lag_{lag}h"),
            ]
        )
        frame = frame.join(lagged, on=key, how="left")
    rolling = []
    for window in ROLLING_WINDOWS_HOURS:
        rolling += [
            pl.col("energy_consumption")
            .rolling_mean_by("datetime_utc", window_size=f"{window}h")
            .over(SERIES_KEYS)
            .alias(f"rolling_mean_{window}h"),
            pl.col("energy_consumption")
            .rolling_std_by("datetime_utc", window_size=f"{window}h")
            .over(SERIES_KEYS)
            .alias(f"rolling_std_{window}h"),
        ]
    statistics = (
        valid.sort(key)
        .with_columns(rolling)
        .filter((pl.col("datetime_utc") >= start_utc) & (pl.col("datetime_utc") < end_utc))
        .drop("energy_consumption")
    )
    frame = frame.join(statistics, on=key, how="left").sort(["datetime_utc", *SERIES_KEYS])
    features = frame.to_pandas()
    # A rolling window is only meaningful once the history covers it.
    first_hour = history["datetime_utc"].min()
    for window in ROLLING_WINDOWS_HOURS:
        incomplete = features["datetime_utc"] < first_hour + pd.Timedelta(hours=window - 1)
        features.loc[incomplete, [f"rolling_mean_{window}h", f"rolling_std_{window}h"]] = np.nan
    features["relative_to_weekly_mean"] = features["energy_consumption"] / features[
        "rolling_mean_168h"
    ].replace(0.0, np.nan)
    calendar = calendar_features(features["datetime_utc"])
    features = pd.concat([features, calendar], axis=1)
    features["datetime_utc"] = features["datetime_utc"].astype("datetime64[ns, UTC]")
    return features[CLEAN_COLUMNS + FEATURE_COLUMNS]


def _to_polars(clean: pd.DataFrame) -> pl.DataFrame:
    # NaN stays NaN (not null) so a NaN kWh in [start, end) reaches the checks unchanged.
    return pl.from_pandas(clean, nan_to_null=False).with_columns(
        pl.col("datetime_utc").dt.cast_time_unit("us")
    )
