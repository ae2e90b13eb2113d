"""From raw API records to typed, clean rows and the per-hour features derived from them.

Plain functions on dataframes (no Dagster): `clean_consumption` maps the API's columns to the
CLEAN contract, `build_features` adds calendar, holiday, lag and rolling features for a set of
hours from a window of history that reaches far enough back (contracts.LOOKBACK_HOURS).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

from energy_assets.contracts import (
    CLEAN,
    CLEAN_COLUMNS,
    FEATURE_COLUMNS,
    LAG_HOURS,
    PLAUSIBILITY,
    ROLLING_WINDOWS_HOURS,
    SERIES_KEYS,
    utc,
    utc_series,
)
from energy_assets.features.calendar import calendar_features
from energy_assets.features.plausibility import ESTIMATE_COLUMN, estimate_flagged, judge_values
from energy_assets.ingestion.files import ApiFileError, read_api_frame
from energy_assets.sources import SEGMENT_SEPARATOR, WHOLE_AREA_SEGMENT, SourceSpec


def clean_consumption(raw: pd.DataFrame, spec: SourceSpec) -> pd.DataFrame:
    """Typed rows in the CLEAN contract from records in `spec`'s dataset columns.

    `datetime_utc` comes from the UTC time column (never the Danish one, which repeats an hour
    when DST ends); `area` is the price area (mapped from a region or municipality where the spec
    says so; a value with no mapping is kept as it is, so the checks name it); `segment` joins the
    spec's segment columns ("111", "Region Hovedstaden / Privat", "total");
    `energy_consumption` is kWh as float. Rows are sorted by hour then series.
    """
    area = raw[spec.area_column].astype(str)
    if spec.area_of is not None:
        area = area.map(spec.area_of).fillna(area)
    if spec.segment_columns:
        parts = [raw[column].astype(str) for column in spec.segment_columns]
        segment = parts[0]
        for part in parts[1:]:
            segment = segment + SEGMENT_SEPARATOR + part
    else:
        segment = pd.Series(WHOLE_AREA_SEGMENT, index=raw.index)
    clean = pd.DataFrame(
        {
            "datetime_utc": utc_series(raw[spec.time_utc]),
            "area": area.astype(object),
            "segment": segment.astype(object),
            "energy_consumption": pd.to_numeric(raw[spec.value_column]).astype("float64")
            * spec.kwh_per_unit,
        }
    )
    return clean.sort_values(["datetime_utc", *SERIES_KEYS], kind="stable").reset_index(drop=True)


def read_consumption_file(path: str | Path, spec: SourceSpec) -> pd.DataFrame:
    """CLEAN rows from a CSV / CSV.gz / parquet file in `spec`'s dataset columns (the backtest's
    input).

    Raises ApiFileError (one line naming the file, the row and the fix) for a file that cannot be
    read, a missing column, or a time, code or value that does not parse. An empty value is a
    missing value (NaN), not an error: the forecaster treats it like a missing hour.
    """
    # The Danish time column is not needed: datetime_utc comes from the UTC one.
    needed = [column for column in spec.raw.required_names if column != spec.time_local]
    raw = read_api_frame(path, spec, required=needed)
    csv = Path(path).suffix != ".parquet"
    checked = [(spec.time_utc, False, False)]
    checked += [(column, False, True) for column in spec.integer_columns]
    checked += [(spec.value_column, True, False)]
    for column, nullable, whole in checked:
        values = raw[column]
        parsed = values if column == spec.time_utc else pd.to_numeric(values, errors="coerce")
        bad = (parsed.isna() & (values.notna() | (not nullable))).to_numpy()
        if whole:
            bad |= parsed.notna().to_numpy() & (parsed % 1 != 0).to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            place = f"line {row + 2}" if csv else f"row {row}"
            raise ApiFileError(
                f"{path}: {column} on {place} is {values.iloc[row]!r} ({int(bad.sum())} such "
                "row(s)); fix or remove those rows"
            )
    for column in spec.integer_columns:
        raw[column] = pd.to_numeric(raw[column]).astype("int64")
    return clean_consumption(raw, spec)


def build_features(
    history: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    flat_ok: Collection[tuple[str, str]] = (),
) -> pd.DataFrame:
    """Feature rows for hours in [start, end) computed from CLEAN `history`.

    Every history row in [start, end) becomes a feature row as it is, so the features' checks
    see a bad value or a duplicated key there. Lags and rolling statistics, though, are computed
    only from valid rows (`CLEAN.invalid_rows`: null, negative or non-finite kWh, an unknown area
    or code, a key held by two rows) whose kWh is plausible for the series
    (`features.plausibility`, recorded per row in `implausible_value`): an invalid value is
    treated like a missing hour, and an implausible one is replaced, for the lags and rolling
    statistics it feeds, by its estimate (`plausibility.estimate_flagged`: the same hour last
    week at the day's level, recorded on the row in `implausible_estimate`), so a meter error
    never leaks into a later hour's lag_24h or rolling mean and leaves no hole there either.

    `history` should reach contracts.LOOKBACK_HOURS before `start`; where it does not (the first
    week of data) the lag / rolling features are NaN rather than made up. Lags are taken by
    timestamp, not by row position, so a missing (or invalid) upstream hour gives NaN instead of
    a silently wrong lag. Rolling statistics cover the window ending at (and including) the
    row's hour, over the valid values in it. `flat_ok`: series accepted as legitimately flat
    (the series catalogue), not flagged as flatliners.
    """
    history = history[CLEAN_COLUMNS]
    start_utc, end_utc = utc(start), utc(end)
    implausible = judge_values(history, flat_ok=flat_ok)["implausible"]
    usable = ~CLEAN.invalid_rows(history) & ~implausible
    # A flagged value feeds the later hours' lags as an estimate, not as a hole.
    estimate = estimate_flagged(history, usable.to_numpy(), implausible.to_numpy())
    estimated = implausible & estimate.notna()
    lag_source = pd.concat(
        [history[usable], history[estimated].assign(energy_consumption=estimate[estimated])]
    )
    valid = _to_polars(lag_source)  # one row per key
    history = history.assign(**{PLAUSIBILITY.flag_column: implausible, ESTIMATE_COLUMN: estimate})
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
