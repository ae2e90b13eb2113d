"""The platform's data-quality suites, generated from the contracts (`energy_assets.contracts`).

Each `validate_*` function takes a pandas frame and returns a `ValidationOutcome` (see
`energy_assets.validation.gx`) whose failures name the expectation and show offending rows.

From a `contracts.Table` every suite gets: each required column exists; each column present has
one of its dtypes, is non-null unless nullable, takes only its allowed values, stays in its range,
and (strings) is not shorter than its minimum; columns the table does not declare are checked
against its `other_columns` template when it has one; the key is unique. On top of that:

Completeness ("every expected series present for every expected hour") is checked by building
the full (hour x series) grid, left-joining the frame's keys onto it and expecting the joined
marker column to be non-null: a failure lists the missing (hour, area, consumer type).

`expected_hours` may be None (every hour between the frame's first and last), a `(start, end)`
tuple (half-open UTC window, e.g. a Dagster partition time window), or any other sequence /
DatetimeIndex of hours. `expected_series` is a collection of (area, segment) pairs;
None means every series seen in the frame.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from energy_assets.contracts import (
    FEATURES,
    FORECAST_HORIZON_HOURS,
    FORECASTS,
    PLAUSIBILITY,
    PRICE_AREAS,
    REALTIME_FLAG_COLUMN,
    REALTIME_LOAD,
    WEATHER,
    WEATHER_LEAD_HOURS,
    Column,
    Table,
    naive_utc,
    naive_utc_series,
)
from energy_assets.sources import SourceSpec
from energy_assets.validation.gx import ExpectationOutcome, FrameValidator, ValidationOutcome

PRESENT = "series_present"


def _gxe() -> Any:
    import great_expectations.expectations as gxe

    return gxe


def dtype_outcome(df: pd.DataFrame, column: str, allowed: Iterable[str]) -> ExpectationOutcome:
    """Column dtype is one of `allowed` (dtype names, e.g. "datetime64[ns, UTC]").

    Checked in pandas, not GX: GX 1.24's ExpectColumnValuesToBeInTypeList cannot match a
    tz-aware pandas dtype (it falls back to per-value types and reports "Timestamp").
    """
    dtype = str(df[column].dtype)
    allowed = list(allowed)
    return ExpectationOutcome(
        expectation="expect_column_dtype_to_be_in_list",
        columns=(column,),
        success=dtype in allowed,
        observed=dtype,
        kwargs={"type_list": allowed},
    )


def _column_expectations(
    df: pd.DataFrame, column: Column, name: str, overrides: dict[str, Any]
) -> list[Any]:
    gxe = _gxe()
    expectations: list[Any] = []
    if not column.nullable:
        expectations.append(gxe.ExpectColumnValuesToNotBeNull(column=name))
    if column.allowed is not None:
        expectations.append(
            gxe.ExpectColumnValuesToBeInSet(column=name, value_set=list(column.allowed))
        )
    low = overrides.get("min_value", column.min_value)
    high = overrides.get("max_value", column.max_value)
    numeric = pd.api.types.is_numeric_dtype(df[name]) and not pd.api.types.is_bool_dtype(df[name])
    if (low is not None or high is not None) and numeric:
        expectations.append(
            gxe.ExpectColumnValuesToBeBetween(column=name, min_value=low, max_value=high)
        )
    if column.min_length is not None:
        expectations.append(
            gxe.ExpectColumnValueLengthsToBeBetween(column=name, min_value=column.min_length)
        )
    return expectations


def contract_expectations(
    df: pd.DataFrame, table: Table, overrides: dict[str, dict[str, Any]] | None = None
) -> tuple[list[Any], list[ExpectationOutcome]]:
    """GX expectations and dtype outcomes that `table` asks of `df` (see the module docstring).

    `overrides` replaces a column's min_value / max_value, e.g. the horizon of a forecast run.
    """
    gxe = _gxe()
    overrides = overrides or {}
    expectations = [gxe.ExpectColumnToExist(column=name) for name in table.required_names]
    dtypes: list[ExpectationOutcome] = []
    for name in df.columns:
        column = table.column(name) if name in table else table.other_columns
        if column is None:
            continue
        dtypes.append(dtype_outcome(df, name, column.dtypes))
        expectations += _column_expectations(df, column, name, overrides.get(name, {}))
    if all(name in df.columns for name in table.key):
        expectations.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=list(table.key)))
    return expectations, dtypes


def expected_hour_index(expected_hours: Any, observed: pd.Series) -> pd.DatetimeIndex:
    """Naive-UTC hourly index of the hours a frame must cover (see module docstring)."""
    if expected_hours is None:
        if observed.empty:
            return pd.DatetimeIndex([], dtype="datetime64[ns]")
        return pd.date_range(observed.min().floor("h"), observed.max().floor("h"), freq="h")
    if isinstance(expected_hours, tuple) and len(expected_hours) == 2:
        start, end = (naive_utc(t) for t in expected_hours)
        return pd.date_range(start, end, freq="h", inclusive="left")
    return pd.DatetimeIndex([naive_utc(t) for t in expected_hours]).astype("datetime64[ns]")


def _series_frame(expected_series: Any, keys: pd.DataFrame, table: Table) -> pd.DataFrame:
    columns = list(table.series_columns)
    if expected_series is None:
        # Series seen in the frame; values a column does not allow (an unknown area) are
        # reported by their own expectation rather than as "missing" in every other hour.
        series = keys[columns].drop_duplicates()
        for name in columns:
            allowed = table.column(name).allowed
            if allowed is not None:
                series = series[series[name].isin([str(value) for value in allowed])]
    else:
        series = pd.DataFrame([tuple(s) for s in expected_series], columns=columns)
    return series.astype(str).reset_index(drop=True)


def _completeness(
    validator: FrameValidator,
    keys: pd.DataFrame,
    grid_keys: pd.DataFrame,
    key_names: list[str],
    suite_name: str,
) -> ValidationOutcome:
    """GX non-null on a grid LEFT JOIN frame: each null marks one missing key combination."""
    marker = keys[key_names].drop_duplicates().assign(**{PRESENT: 1.0})
    joined = grid_keys.merge(marker, on=key_names, how="left")
    expectation = _gxe().ExpectColumnValuesToNotBeNull(column=PRESENT)
    return validator.validate(joined, [expectation], suite_name, index_columns=key_names)


def _merge(
    first: ValidationOutcome, *others: ValidationOutcome, extra: Iterable[ExpectationOutcome] = ()
) -> ValidationOutcome:
    results = list(extra) + list(first.results)
    for other in others:
        results += other.results
    return ValidationOutcome(suite_name=first.suite_name, results=results, rows=first.rows)


def _series_keys(table: Table, df: pd.DataFrame, time_column: str) -> pd.DataFrame:
    """(time as naive UTC, the series columns as strings) of every row whose key is present."""
    keys = pd.DataFrame({time_column: naive_utc_series(df[table.time_column])})
    for name in table.series_columns:
        keys[name] = df[name].to_numpy()
    keys = keys.dropna()
    return keys.astype({name: str for name in table.series_columns})


def _hourly_table(
    df: pd.DataFrame,
    table: Table,
    expected_hours: Any,
    expected_series: Any,
    validator: FrameValidator | None,
    complete: bool = True,
) -> ValidationOutcome:
    """A table with one row per (hour, series): the contract, no hour outside the expected ones,
    every expected hour present, and (`complete`) every expected series in every expected
    hour."""
    validator = validator or FrameValidator()
    expectations, dtypes = contract_expectations(df, table)
    key = list(table.key)
    # Offending rows show their value too: a duplicated key then names both values.
    index_columns = [*key, table.value_column] if table.value_column else key
    if not all(c in df.columns for c in key):
        main = validator.validate(df, expectations, table.name, index_columns=index_columns)
        return _merge(main, extra=dtypes)
    keys = _series_keys(table, df, "hour_utc")
    hour_index = expected_hour_index(expected_hours, keys["hour_utc"])
    series_columns = list(table.series_columns)
    if complete:
        series = _series_frame(expected_series, keys, table)
    else:  # every hour must still be there, with at least one series
        series_columns = series_columns[:0]
        series = pd.DataFrame(index=range(1))
    grid = pd.DataFrame({"hour_utc": np.repeat(hour_index.to_numpy(), len(series))})
    for name in series_columns:
        grid[name] = np.tile(series[name].to_numpy(), len(hour_index))
    completeness = _completeness(validator, keys, grid, ["hour_utc", *series_columns], table.name)
    if len(hour_index):
        low, high = hour_index.min(), hour_index.max()
        if isinstance(df[table.time_column].dtype, pd.DatetimeTZDtype):
            low, high = low.tz_localize("UTC"), high.tz_localize("UTC")
        expectations.append(
            _gxe().ExpectColumnValuesToBeBetween(
                column=table.time_column, min_value=low, max_value=high
            )
        )
    main = validator.validate(df, expectations, table.name, index_columns=index_columns)
    return _merge(main, completeness, extra=dtypes)


def validate_raw_consumption(
    df: pd.DataFrame,
    spec: SourceSpec,
    expected_hours: Any = None,
    expected_series: Any = None,
    validator: FrameValidator | None = None,
) -> ValidationOutcome:
    """The spec's RAW contract: the dataset's columns and types, known areas (or the regions /
    municipalities that map to one), a non-null non-negative value, one row per (hour, series
    columns), every expected series for every expected hour, and no hour outside the expected
    ones."""
    return _hourly_table(df, spec.raw, expected_hours, expected_series, validator)


def validate_consumption_features(
    df: pd.DataFrame,
    expected_hours: Any = None,
    expected_series: Any = None,
    validator: FrameValidator | None = None,
) -> ValidationOutcome:
    """FEATURES contract: the CLEAN columns strictly (types, allowed values, non-null,
    non-negative, unique per (datetime_utc, area, segment), every expected hour present), plus
    every other column present as a feature: numeric, finite (NaN allowed where the history is
    too short for a lag), calendar features non-null and in range. Which series are present is
    `series_changes`' concern: a series that comes or goes never blocks the others."""
    return _hourly_table(df, FEATURES, expected_hours, expected_series, validator, complete=False)


def validate_plausible_values(
    df: pd.DataFrame, validator: FrameValidator | None = None
) -> ValidationOutcome:
    """No FEATURES row holds a kWh implausible for its series (`contracts.PLAUSIBILITY`, judged
    by `features.plausibility` when the features were built): offending rows name the hour, the
    series and the value. Flagged values are kept out of model inputs whatever this check's
    severity (ENERGY_IMPLAUSIBLE_VALUES)."""
    validator = validator or FrameValidator()
    flag = PLAUSIBILITY.flag_column
    expectations = [_gxe().ExpectColumnValuesToBeInSet(column=flag, value_set=[False])]
    index_columns = [*FEATURES.key, str(FEATURES.value_column)]
    return validator.validate(
        df, expectations, f"{FEATURES.name}_plausibility", index_columns=index_columns
    )


def validate_realtime_load(
    df: pd.DataFrame,
    expected_hours: Any = None,
    expected_areas: Any = PRICE_AREAS,
    validator: FrameValidator | None = None,
) -> ValidationOutcome:
    """REALTIME_LOAD contract: columns and types, known areas, a non-null, finite, non-negative
    total load, one row per (datetime_utc, area), and every expected area (default DK1 and DK2)
    in every expected hour: an hour whose DK2 row is missing fails, naming it."""
    series = None if expected_areas is None else [(str(area),) for area in expected_areas]
    return _hourly_table(df, REALTIME_LOAD, expected_hours, series, validator)


def validate_realtime_plausible(
    df: pd.DataFrame, validator: FrameValidator | None = None
) -> ValidationOutcome:
    """No REALTIME_LOAD row is flagged implausible for its area (`contracts.REALTIME_PLAUSIBILITY`):
    offending rows name the hour, the area and the load. Flagged hours are kept (as served) and
    read as gaps by the area-total forecaster."""
    validator = validator or FrameValidator()
    flag = REALTIME_FLAG_COLUMN
    expectations = [_gxe().ExpectColumnValuesToBeInSet(column=flag, value_set=[False])]
    index_columns = [*REALTIME_LOAD.key, str(REALTIME_LOAD.value_column)]
    return validator.validate(
        df, expectations, f"{REALTIME_LOAD.name}_plausibility", index_columns=index_columns
    )


def validate_forecasts(
    df: pd.DataFrame,
    expected_series: Any = None,
    horizon_hours: int = FORECAST_HORIZON_HOURS,
    validator: FrameValidator | None = None,
) -> ValidationOutcome:
    """FORECASTS contract: columns and types, allowed areas / codes, unique per
    (forecast_origin, area, segment, horizon_hours), exactly horizons 1..horizon_hours for
    every expected series and origin, datetime_utc = origin + horizon, predictions non-null,
    finite and non-negative, lower <= prediction <= upper and p10 <= p50 <= p90 where those
    columns exist, and a non-empty model_version."""
    validator = validator or FrameValidator()
    gxe = _gxe()
    table = FORECASTS
    expectations, dtypes = contract_expectations(
        df, table, overrides={"horizon_hours": {"max_value": horizon_hours}}
    )
    ordered = (
        ("prediction", "prediction_lower"),
        ("prediction_upper", "prediction"),
        ("p50", "p10"),
        ("p90", "p50"),
    )
    for low, high in ordered:
        if low in df.columns and high in df.columns:
            expectations.append(
                gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A=low, column_B=high, or_equal=True
                )
            )
    key = list(table.key)
    if not all(c in df.columns for c in key):
        return _merge(
            validator.validate(df, expectations, table.name, index_columns=key), extra=dtypes
        )
    checked = df
    if "datetime_utc" in df.columns:
        checked = df.assign(
            expected_datetime_utc=pd.to_datetime(df["forecast_origin"])
            + pd.to_timedelta(pd.to_numeric(df["horizon_hours"], errors="coerce"), unit="h")
        )
        expectations.append(
            gxe.ExpectColumnPairValuesToBeEqual(
                column_A="datetime_utc", column_B="expected_datetime_utc"
            )
        )
    main = validator.validate(checked, expectations, table.name, index_columns=key)
    # Completeness: every (origin, series) has every horizon 1..horizon_hours.
    keys = _series_keys(table, df, "forecast_origin")
    keys["horizon_hours"] = pd.to_numeric(df["horizon_hours"], errors="coerce")
    keys = keys.dropna().astype({"horizon_hours": "int64"})
    series = _series_frame(expected_series, keys, table)
    origins = keys["forecast_origin"].drop_duplicates().to_numpy()
    horizons = np.arange(1, horizon_hours + 1)
    n_series, n_origins = len(series), len(origins)
    grid = pd.DataFrame(
        {
            "forecast_origin": np.repeat(origins, n_series * horizon_hours),
            "area": np.tile(np.repeat(series["area"].to_numpy(), horizon_hours), n_origins),
            "segment": np.tile(np.repeat(series["segment"].to_numpy(), horizon_hours), n_origins),
            "horizon_hours": np.tile(horizons, n_origins * n_series),
        }
    )
    return _merge(main, _completeness(validator, keys, grid, key, table.name), extra=dtypes)


def validate_product(
    df: pd.DataFrame,
    table: Table,
    targets: Any = None,
    expected_series: Any = None,
    validator: FrameValidator | None = None,
) -> ValidationOutcome:
    """A forecast product's vintage (contracts.DAY_AHEAD_FORECASTS / INTRADAY_FORECASTS): the
    contract's columns, types and ranges (prediction and p10 / p50 / p90 non-null, finite and
    non-negative, lead_hours >= 0, quality model / fallback), one row per (issued_at, area,
    segment, datetime_utc), p10 <= p50 <= p90, data_origin <= issued_at, lead_hours = target
    hour - issue hour, every target hour inside the product's window (`targets`: the hours the
    vintage forecasts, forecasting.products.targets_for) and, with `targets`, every expected
    series (None: those in the frame) at every target hour of every issue time."""
    validator = validator or FrameValidator()
    gxe = _gxe()
    expectations, dtypes = contract_expectations(df, table)
    for low, high in (("p50", "p10"), ("p90", "p50"), ("issued_at", "data_origin")):
        if low in df.columns and high in df.columns:
            expectations.append(
                gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A=low, column_B=high, or_equal=True
                )
            )
    key = list(table.key)
    index_columns = [*key, table.value_column] if table.value_column else key
    if not all(c in df.columns for c in [*key, "lead_hours"]):
        main = validator.validate(df, expectations, table.name, index_columns=index_columns)
        return _merge(main, extra=dtypes)
    issued = pd.to_datetime(df["issued_at"], utc=True)
    checked = df.assign(
        expected_lead_hours=(
            (pd.to_datetime(df["datetime_utc"], utc=True) - issued.dt.floor("h"))
            / pd.Timedelta(hours=1)
        ).astype("float64"),
        lead_hours_checked=pd.to_numeric(df["lead_hours"], errors="coerce").astype("float64"),
    )
    expectations.append(
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="lead_hours_checked", column_B="expected_lead_hours"
        )
    )
    if targets is None or not len(targets):
        main = validator.validate(checked, expectations, table.name, index_columns=index_columns)
        return _merge(main, extra=dtypes)
    window = pd.DatetimeIndex(targets)
    window = window.tz_localize("UTC") if window.tz is None else window.tz_convert("UTC")
    expectations.append(
        gxe.ExpectColumnValuesToBeBetween(
            column="datetime_utc", min_value=window.min(), max_value=window.max()
        )
    )
    main = validator.validate(checked, expectations, table.name, index_columns=index_columns)
    # Completeness: every expected series at every target hour of every issue time.
    keys = pd.DataFrame(
        {
            "issued_at": naive_utc_series(df["issued_at"]),
            "area": df["area"].astype(str).to_numpy(),
            "segment": df["segment"].astype(str).to_numpy(),
            "datetime_utc": naive_utc_series(df["datetime_utc"]),
        }
    ).dropna()
    series = _series_frame(expected_series, keys, table)
    issues = keys["issued_at"].drop_duplicates().to_numpy()
    hours = window.tz_localize(None).to_numpy()
    n_s, n_h = len(series), len(hours)
    grid = pd.DataFrame(
        {
            "issued_at": np.repeat(issues, n_s * n_h),
            "area": np.tile(np.repeat(series["area"].to_numpy(), n_h), len(issues)),
            "segment": np.tile(np.repeat(series["segment"].to_numpy(), n_h), len(issues)),
            "datetime_utc": np.tile(hours, n_s * len(issues)),
        }
    )
    completeness = _completeness(validator, keys, grid, key, table.name)
    return _merge(main, completeness, extra=dtypes)


def validate_weather(
    df: pd.DataFrame,
    expected_hours: Any = None,
    expected_areas: Any = None,
    validator: FrameValidator | None = None,
) -> ValidationOutcome:
    """WEATHER contract: columns, types and units' ranges (temperature −50…50 °C, wind 0…75 m/s,
    radiation 0…1500 W/m²), known areas, temperature and wind non-null, one row per (issue hour,
    area, lead), datetime_utc = issued + lead, and completeness: every expected issue hour has
    leads 0..WEATHER_LEAD_HOURS for every expected area (None: the areas in the frame). A missing hour at the
    source shows as null values, or as missing rows, and fails here."""
    validator = validator or FrameValidator()
    gxe = _gxe()
    expectations, dtypes = contract_expectations(df, WEATHER)
    key = list(WEATHER.key)
    if not all(c in df.columns for c in [*key, "datetime_utc"]):
        return _merge(validator.validate(df, expectations, WEATHER.name, key), extra=dtypes)
    checked = df.assign(
        expected_datetime_utc=pd.to_datetime(df["issued_utc"])
        + pd.to_timedelta(pd.to_numeric(df["lead_hours"], errors="coerce"), unit="h")
    )
    expectations.append(
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="datetime_utc", column_B="expected_datetime_utc"
        )
    )
    main = validator.validate(
        checked, expectations, WEATHER.name, index_columns=[*key, "temperature_c"]
    )
    keys = _series_keys(WEATHER, df, "issued_utc")
    keys["lead_hours"] = pd.to_numeric(df["lead_hours"], errors="coerce")
    keys = keys.dropna().astype({"lead_hours": "int64"})
    hours = expected_hour_index(expected_hours, keys["issued_utc"]).to_numpy()
    if expected_areas is None:
        areas = sorted(keys["area"].unique())
    else:
        areas = sorted(str(a) for a in expected_areas)
    leads = np.arange(WEATHER_LEAD_HOURS + 1)
    n_a, n_l = len(areas), len(leads)
    grid = pd.DataFrame(
        {
            "issued_utc": np.repeat(hours, n_a * n_l),
            "area": np.tile(np.repeat(np.array(areas, dtype=object), n_l), len(hours)),
            "lead_hours": np.tile(leads, len(hours) * n_a),
        }
    )
    completeness = _completeness(
        validator, keys, grid, ["issued_utc", "area", "lead_hours"], WEATHER.name
    )
    return _merge(main, completeness, extra=dtypes)
