"""The platform's data-quality suites: raw API records, clean features, forecasts.

Each `validate_*` function takes a pandas frame and returns a `ValidationOutcome` (see
`energy_assets.validation.gx`) whose failures name the expectation and show offending rows.

Completeness ("every expected series present for every expected hour") is checked by building
the full (hour x series) grid, left-joining the frame's keys onto it and expecting the joined
marker column to be non-null: a failure lists the missing (hour, area, consumer type).

`expected_hours` may be None (every hour between the frame's first and last), a `(start, end)`
tuple (half-open UTC window, e.g. a Dagster partition time window), or any other sequence /
DatetimeIndex of hours. `expected_series` is a collection of (area, consumer_type) pairs;
None means every series seen in the frame.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from energy_assets.features.calendar import CALENDAR_COLUMNS
from energy_assets.features.engineering import CLEAN_COLUMNS
from energy_assets.validation.gx import ExpectationOutcome, ValidationOutcome, validate_frame

PRICE_AREAS = ("DK1", "DK2")
DE35_CONSUMER_TYPES = (
    111, 112, 119, 121, 122, 123, 130, 211, 212, 215, 220, 310, 320, 330, 340, 350, 360, 370,
    381, 382, 390, 410, 421, 422, 431, 432, 433, 441, 442, 443, 444, 445, 446, 447, 450, 461,
    462, 999,
)  # fmt: skip

FORECAST_COLUMNS = (
    "area",
    "consumer_type",
    "forecast_origin",
    "datetime_utc",
    "horizon_hours",
    "prediction",
    "model_version",
)
# Calendar features are defined for every row; lags / rolling stats are NaN in the first week.
ALWAYS_DEFINED_FEATURES = CALENDAR_COLUMNS
FEATURE_RANGES = {"hour_of_day": (0, 23), "day_of_week": (0, 6), "day_of_year": (1, 366)}
# Finite check: GX skips NaN in column-map expectations, so this only catches +-inf.
FINITE = 1e300

NAIVE_DATETIME_TYPES = ["datetime64[ns]", "datetime64[us]", "datetime64[ms]", "datetime64[s]"]
UTC_DATETIME_TYPES = [f"{t[:-1]}, UTC]" for t in NAIVE_DATETIME_TYPES]
STRING_TYPES = ["object", "str", "string", "string[python]", "string[pyarrow]", "large_string"]
INT_TYPES = ["int64", "Int64", "int32"]
FLOAT_TYPES = ["float64", "float32"]
NUMERIC_TYPES = [*INT_TYPES, *FLOAT_TYPES, "bool", "boolean", "int8", "int16", "uint8"]
PRESENT = "series_present"


def _gxe() -> Any:
    import great_expectations.expectations as gxe

    return gxe


def _schema(df: pd.DataFrame, types: dict[str, list[str]]) -> tuple[list[Any], list[str]]:
    """GX existence expectations for `types`' columns; returns them and the columns present."""
    gxe = _gxe()
    expectations = [gxe.ExpectColumnToExist(column=column) for column in types]
    return expectations, [c for c in types if c in df.columns]


def _contract_expectations(
    df: pd.DataFrame, types: dict[str, list[str]], area_column: str, type_column: str
) -> tuple[list[Any], list[str]]:
    """Schema, non-null for every contract column present, and the allowed price areas and
    DE35 codes in the frame's own names for them; returns (expectations, present columns)."""
    gxe = _gxe()
    expectations, present = _schema(df, types)
    expectations += [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in present]
    allowed = {area_column: PRICE_AREAS, type_column: DE35_CONSUMER_TYPES}
    expectations += [
        gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(values))
        for column, values in allowed.items()
        if column in present
    ]
    return expectations, present


def dtype_outcome(df: pd.DataFrame, column: str, allowed: list[str]) -> ExpectationOutcome:
    """Column dtype is one of `allowed` (dtype names, e.g. "datetime64[ns, UTC]").

    Checked in pandas, not GX: GX 1.24's ExpectColumnValuesToBeInTypeList cannot match a
    tz-aware pandas dtype (it falls back to per-value types and reports "Timestamp").
    """
    dtype = str(df[column].dtype)
    return ExpectationOutcome(
        expectation="expect_column_dtype_to_be_in_list",
        columns=(column,),
        success=dtype in allowed,
        observed=dtype,
        kwargs={"type_list": allowed},
    )


def _dtype_outcomes(df: pd.DataFrame, types: dict[str, list[str]]) -> list[ExpectationOutcome]:
    return [dtype_outcome(df, c, allowed) for c, allowed in types.items() if c in df.columns]


def _utc_naive(values: pd.Series) -> pd.Series:
    times = pd.to_datetime(values)
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    return times.astype("datetime64[ns]")


def _as_utc_naive(ts: Any) -> pd.Timestamp:
    ts = pd.Timestamp(ts)
    return ts.tz_convert("UTC").tz_localize(None) if ts.tz is not None else ts


def expected_hour_index(expected_hours: Any, observed: pd.Series) -> pd.DatetimeIndex:
    """Naive-UTC hourly index of the hours a frame must cover (see module docstring)."""
    if expected_hours is None:
        if observed.empty:
            return pd.DatetimeIndex([], dtype="datetime64[ns]")
        return pd.date_range(observed.min().floor("h"), observed.max().floor("h"), freq="h")
    if isinstance(expected_hours, tuple) and len(expected_hours) == 2:
        start, end = (_as_utc_naive(t) for t in expected_hours)
        return pd.date_range(start, end, freq="h", inclusive="left")
    return pd.DatetimeIndex([_as_utc_naive(t) for t in expected_hours]).astype("datetime64[ns]")


def _series_frame(
    expected_series: Iterable[tuple[str, int]] | None, keys: pd.DataFrame
) -> pd.DataFrame:
    if expected_series is None:
        # Series seen in the frame; unknown areas / codes are reported by their own expectation
        # rather than as "missing" in every other hour.
        series = keys[["area", "consumer_type"]].drop_duplicates()
        series = series[
            series["area"].isin(PRICE_AREAS) & series["consumer_type"].isin(DE35_CONSUMER_TYPES)
        ]
    else:
        series = pd.DataFrame(list(expected_series), columns=["area", "consumer_type"])
    series = series.astype({"area": str})
    series["consumer_type"] = pd.to_numeric(series["consumer_type"], errors="coerce")
    return series.dropna().astype({"consumer_type": "int64"}).reset_index(drop=True)


def _completeness(
    keys: pd.DataFrame,
    grid_keys: pd.DataFrame,
    key_names: list[str],
    suite_name: str,
) -> ValidationOutcome:
    """GX non-null on a grid LEFT JOIN frame: each null marks one missing key combination."""
    marker = keys[key_names].drop_duplicates().assign(**{PRESENT: 1.0})
    joined = grid_keys.merge(marker, on=key_names, how="left")
    expectation = _gxe().ExpectColumnValuesToNotBeNull(column=PRESENT)
    return validate_frame(joined, [expectation], suite_name, index_columns=key_names)


def _merge(
    first: ValidationOutcome, *others: ValidationOutcome, extra: Iterable[ExpectationOutcome] = ()
) -> ValidationOutcome:
    results = list(extra) + list(first.results)
    for other in others:
        results += other.results
    return ValidationOutcome(suite_name=first.suite_name, results=results, rows=first.rows)


def _hour_series_completeness(
    hours: pd.Series,
    areas: pd.Series,
    consumer_types: pd.Series,
    expected_hours: Any,
    expected_series: Iterable[tuple[str, int]] | None,
    suite_name: str,
) -> tuple[ValidationOutcome, pd.DatetimeIndex]:
    keys = pd.DataFrame(
        {
            "hour_utc": _utc_naive(hours),
            "area": areas.astype(str),
            "consumer_type": pd.to_numeric(consumer_types, errors="coerce"),
        }
    ).dropna()
    keys["consumer_type"] = keys["consumer_type"].astype("int64")
    hour_index = expected_hour_index(expected_hours, keys["hour_utc"])
    series = _series_frame(expected_series, keys)
    grid = pd.DataFrame(
        {
            "hour_utc": np.repeat(hour_index.to_numpy(), len(series)),
            "area": np.tile(series["area"].to_numpy(), len(hour_index)),
            "consumer_type": np.tile(series["consumer_type"].to_numpy(), len(hour_index)),
        }
    )
    outcome = _completeness(keys, grid, ["hour_utc", "area", "consumer_type"], suite_name)
    return outcome, hour_index


def _hours_within(column: str, hour_index: pd.DatetimeIndex, tz_aware: bool) -> list[Any]:
    if len(hour_index) == 0:
        return []
    low, high = hour_index.min(), hour_index.max()
    if tz_aware:
        low, high = low.tz_localize("UTC"), high.tz_localize("UTC")
    return [_gxe().ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high)]


def validate_raw_consumption(
    df: pd.DataFrame, expected_hours: Any = None, expected_series: Any = None
) -> ValidationOutcome:
    """RAW contract: API columns and types, allowed areas / DE35 codes, non-null non-negative
    TotalCon, one row per (HourUTC, PriceArea, ConsumerType_DE35), every expected series for
    every expected hour, and no hour outside the expected ones."""
    gxe = _gxe()
    suite = "raw_consumption"
    types = {
        "HourUTC": NAIVE_DATETIME_TYPES,
        "HourDK": NAIVE_DATETIME_TYPES,
        "PriceArea": STRING_TYPES,
        "ConsumerType_DE35": INT_TYPES,
        "TotalCon": FLOAT_TYPES + INT_TYPES,
    }
    expectations, present = _contract_expectations(df, types, "PriceArea", "ConsumerType_DE35")
    dtypes = _dtype_outcomes(df, types)
    if "TotalCon" in present:
        expectations.append(
            gxe.ExpectColumnValuesToBeBetween(column="TotalCon", min_value=0, max_value=FINITE)
        )
    key = ["HourUTC", "PriceArea", "ConsumerType_DE35"]
    if all(c in present for c in key):
        expectations.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=key))
        completeness, hours = _hour_series_completeness(
            df["HourUTC"], df["PriceArea"], df["ConsumerType_DE35"], expected_hours,
            expected_series, suite,
        )  # fmt: skip
        expectations += _hours_within("HourUTC", hours, tz_aware=False)
        main = validate_frame(df, expectations, suite, index_columns=key)
        return _merge(main, completeness, extra=dtypes)
    return _merge(validate_frame(df, expectations, suite, index_columns=key), extra=dtypes)


CLEAN_TYPES = {
    "datetime_utc": UTC_DATETIME_TYPES,
    "area": STRING_TYPES,
    "consumer_type": INT_TYPES,
    "energy_consumption": FLOAT_TYPES,
}


def _clean_expectations(df: pd.DataFrame) -> tuple[list[Any], list[str]]:
    gxe = _gxe()
    expectations, present = _contract_expectations(df, CLEAN_TYPES, "area", "consumer_type")
    if "energy_consumption" in present:
        expectations.append(
            gxe.ExpectColumnValuesToBeBetween(
                column="energy_consumption", min_value=0, max_value=FINITE
            )
        )
    return expectations, present


def validate_consumption_features(
    df: pd.DataFrame, expected_hours: Any = None, expected_series: Any = None
) -> ValidationOutcome:
    """CLEAN columns strictly (types, allowed values, non-null, non-negative, unique per
    (datetime_utc, area, consumer_type), complete grid), plus every other column present as a
    feature: numeric, finite (NaN allowed: lags before the first week), calendar features
    non-null and in range."""
    gxe = _gxe()
    suite = "consumption_features"
    expectations, present = _clean_expectations(df)
    dtypes = _dtype_outcomes(df, CLEAN_TYPES)
    for column in df.columns:
        if column in CLEAN_COLUMNS:
            continue
        dtypes.append(dtype_outcome(df, column, NUMERIC_TYPES))
        if pd.api.types.is_numeric_dtype(df[column]) and not pd.api.types.is_bool_dtype(df[column]):
            low, high = FEATURE_RANGES.get(column, (-FINITE, FINITE))
            expectations.append(
                gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high)
            )
        if column in ALWAYS_DEFINED_FEATURES:
            expectations.append(gxe.ExpectColumnValuesToNotBeNull(column=column))
    key = ["datetime_utc", "area", "consumer_type"]
    if all(c in present for c in key):
        expectations.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=key))
        completeness, hours = _hour_series_completeness(
            df["datetime_utc"], df["area"], df["consumer_type"], expected_hours,
            expected_series, suite,
        )  # fmt: skip
        expectations += _hours_within("datetime_utc", hours, tz_aware=True)
        main = validate_frame(df, expectations, suite, index_columns=key)
        return _merge(main, completeness, extra=dtypes)
    return _merge(validate_frame(df, expectations, suite, index_columns=key), extra=dtypes)


def validate_forecasts(
    df: pd.DataFrame, expected_series: Any = None, horizon_hours: int = 24
) -> ValidationOutcome:
    """FORECASTS contract: columns and types, allowed areas / codes, unique per
    (forecast_origin, area, consumer_type, horizon_hours), exactly horizons 1..horizon_hours for
    every expected series and origin, datetime_utc = origin + horizon, predictions non-null,
    finite and non-negative, lower <= prediction <= upper where intervals exist, and a
    non-empty model_version."""
    gxe = _gxe()
    suite = "forecasts"
    types = {
        "area": STRING_TYPES,
        "consumer_type": INT_TYPES,
        "forecast_origin": UTC_DATETIME_TYPES,
        "datetime_utc": UTC_DATETIME_TYPES,
        "horizon_hours": INT_TYPES,
        "prediction": FLOAT_TYPES,
        "model_version": STRING_TYPES,
    }
    expectations, present = _contract_expectations(df, types, "area", "consumer_type")
    dtypes = _dtype_outcomes(df, types)
    if "horizon_hours" in present:
        expectations.append(
            gxe.ExpectColumnValuesToBeBetween(
                column="horizon_hours", min_value=1, max_value=horizon_hours
            )
        )
    for column in ("prediction", "prediction_lower", "prediction_upper"):
        if column in df.columns:
            expectations.append(
                gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0, max_value=FINITE)
            )
    if "model_version" in present:
        expectations.append(
            gxe.ExpectColumnValueLengthsToBeBetween(column="model_version", min_value=1)
        )
    checked = df
    for low, high in (("prediction", "prediction_lower"), ("prediction_upper", "prediction")):
        if low in df.columns and high in df.columns:
            expectations.append(
                gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A=low, column_B=high, or_equal=True
                )
            )
    key = ["forecast_origin", "area", "consumer_type", "horizon_hours"]
    if not all(c in present for c in key):
        return _merge(validate_frame(df, expectations, suite, index_columns=key), extra=dtypes)
    expectations.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=key))
    if "datetime_utc" in present:
        checked = df.assign(
            expected_datetime_utc=pd.to_datetime(df["forecast_origin"])
            + pd.to_timedelta(pd.to_numeric(df["horizon_hours"], errors="coerce"), unit="h")
        )
        expectations.append(
            gxe.ExpectColumnPairValuesToBeEqual(
                column_A="datetime_utc", column_B="expected_datetime_utc"
            )
        )
    main = validate_frame(checked, expectations, suite, index_columns=key)
    # Completeness: every (origin, series) has every horizon 1..horizon_hours.
    keys = pd.DataFrame(
        {
            "forecast_origin": _utc_naive(df["forecast_origin"]),
            "area": df["area"].astype(str),
            "consumer_type": pd.to_numeric(df["consumer_type"], errors="coerce"),
            "horizon_hours": pd.to_numeric(df["horizon_hours"], errors="coerce"),
        }
    ).dropna()
    keys = keys.astype({"consumer_type": "int64", "horizon_hours": "int64"})
    series = _series_frame(expected_series, keys)
    origins = keys["forecast_origin"].drop_duplicates().to_numpy()
    horizons = np.arange(1, horizon_hours + 1)
    n_series, n_origins = len(series), len(origins)
    grid = pd.DataFrame(
        {
            "forecast_origin": np.repeat(origins, n_series * horizon_hours),
            "area": np.tile(np.repeat(series["area"].to_numpy(), horizon_hours), n_origins),
            "consumer_type": np.tile(
                np.repeat(series["consumer_type"].to_numpy(), horizon_hours), n_origins
            ),
            "horizon_hours": np.tile(horizons, n_origins * n_series),
        }
    )
    return _merge(main, _completeness(keys, grid, key, suite), extra=dtypes)
