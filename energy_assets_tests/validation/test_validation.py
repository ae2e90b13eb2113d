"""GX suites (generated from the contracts) on the shared real slice and on corrupted copies."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energy_assets.contracts import CLEAN, DAY_AHEAD_FORECASTS
from energy_assets.devtools import SAMPLE_DATA_PATH
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35
from energy_assets.validation.suites import (
    validate_consumption_features,
    validate_forecasts,
    validate_product,
    validate_raw_consumption,
)

SLICE = str(SAMPLE_DATA_PATH)


@pytest.fixture(scope="module")
def raw_slice() -> pd.DataFrame:
    raw = pd.read_csv(SLICE, parse_dates=["HourUTC", "HourDK"])
    raw["TotalCon"] = raw["TotalCon"].astype("float64")
    return raw


@pytest.fixture(scope="module")
def raw_day(raw_slice) -> pd.DataFrame:
    """The first 24 hours (76 series each) of the slice."""
    first = raw_slice["HourUTC"].min()
    return raw_slice[raw_slice["HourUTC"] < first + pd.Timedelta(hours=24)].reset_index(drop=True)


def to_clean(raw: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "datetime_utc": raw["HourUTC"].dt.tz_localize("UTC"),
            "area": raw["PriceArea"].astype(str),
            "segment": raw["ConsumerType_DE35"].astype(str),
            "energy_consumption": raw["TotalCon"].astype("float64"),
        }
    )


def failed(outcome) -> dict:
    return {(r.expectation, r.columns): r for r in outcome.failed}


def test_raw_and_clean_slice_pass(raw_slice):
    raw = validate_raw_consumption(raw_slice, DE35)
    assert raw.success, raw.summary()
    clean = validate_consumption_features(to_clean(raw_slice))
    assert clean.success, clean.summary()
    assert clean.rows == 49780 and len(clean.results) >= 15


def test_features_with_engineered_columns_pass_and_inf_fails(raw_day):
    features = to_clean(raw_day)
    features["hour_of_day"] = features["datetime_utc"].dt.hour.astype("int64")
    features["is_holiday"] = False
    features["lag_24h"] = np.nan  # first day: no history yet, allowed
    assert validate_consumption_features(features).success
    features.loc[3, "lag_24h"] = np.inf
    features.loc[4, "hour_of_day"] = 24
    outcome = validate_consumption_features(features)
    assert ("expect_column_values_to_be_between", ("lag_24h",)) in failed(outcome)
    assert ("expect_column_values_to_be_between", ("hour_of_day",)) in failed(outcome)


def test_narrow_calendar_columns_are_checked_like_wide_ones(raw_day):
    """The engineering step writes hour_of_day as int8: GX gets it widened (vectorised between),
    with the same verdicts, the offending value shown, and the dtype still checked as written."""
    from energy_assets.validation.gx import widen_narrow_numbers

    features = to_clean(raw_day)
    features["hour_of_day"] = features["datetime_utc"].dt.hour.astype("int8")
    features["day_of_year"] = features["datetime_utc"].dt.dayofyear.astype("int16")
    features["lag_24h"] = features["energy_consumption"].astype("float32")
    assert validate_consumption_features(features).success
    widened = widen_narrow_numbers(features)
    assert widened["hour_of_day"].dtype == "int64" and widened["lag_24h"].dtype == "float64"
    assert widened["hour_of_day"].tolist() == features["hour_of_day"].tolist()
    assert features["hour_of_day"].dtype == "int8"  # the caller's frame is not touched
    features.loc[4, "hour_of_day"] = 24
    features.loc[5, "day_of_year"] = 400
    outcome = failed(validate_consumption_features(features))
    hour = outcome[("expect_column_values_to_be_between", ("hour_of_day",))]
    assert hour.unexpected_count == 1 and hour.unexpected_rows["hour_of_day"].tolist() == [24]
    assert ("expect_column_values_to_be_between", ("day_of_year",)) in outcome


@pytest.mark.parametrize(
    "corrupt, expectation, column, shown",
    [
        (lambda d: d.assign(TotalCon=d["TotalCon"].where(d.index != 5, -10.0)),
         "expect_column_values_to_be_between", ("TotalCon",), {"TotalCon": -10.0}),
        (lambda d: d.assign(TotalCon=d["TotalCon"].where(d.index != 7, np.nan)),
         "expect_column_values_to_not_be_null", ("TotalCon",), {}),
        (lambda d: d.assign(PriceArea=d["PriceArea"].where(d.index != 9, "DK3")),
         "expect_column_values_to_be_in_set", ("PriceArea",), {"PriceArea": "DK3"}),
        (lambda d: pd.concat([d, d.iloc[[11]]], ignore_index=True),
         "expect_compound_columns_to_be_unique", ("HourUTC", "PriceArea", "ConsumerType_DE35"), {}),
        (lambda d: d.drop(index=[13]),
         "expect_column_values_to_not_be_null", ("series_present",), {}),
    ],
    ids=["negative", "nan", "unknown_area", "duplicate_row", "missing_series"],
)  # fmt: skip
def test_raw_suite_names_expectation_and_offending_rows(
    raw_day, corrupt, expectation, column, shown
):
    bad = corrupt(raw_day.copy())
    outcome = validate_raw_consumption(bad, DE35)
    assert not outcome.success
    result = failed(outcome)[(expectation, column)]
    assert result.unexpected_count >= 1
    rows = result.unexpected_rows
    assert len(rows) >= 1
    for key, value in shown.items():
        assert rows.iloc[0][key] == value
    metadata = outcome.to_metadata()
    assert expectation in metadata["summary"] and expectation in metadata["failures_md"]
    assert metadata["expectations_failed"] >= 1


def test_missing_series_names_hour_and_series(raw_day):
    row = raw_day.iloc[13]
    outcome = validate_raw_consumption(raw_day.drop(index=[13]), DE35)
    missing = failed(outcome)[("expect_column_values_to_not_be_null", ("series_present",))]
    columns = ["hour_utc", "PriceArea", "ConsumerType_DE35"]
    assert missing.unexpected_rows[columns].iloc[0].tolist() == [
        row["HourUTC"],
        row["PriceArea"],
        str(row["ConsumerType_DE35"]),
    ]


def test_expected_window_catches_missing_and_extra_hours(raw_day):
    start = raw_day["HourUTC"].min().tz_localize("UTC")
    outcome = validate_raw_consumption(
        raw_day, DE35, expected_hours=(start, start + pd.Timedelta(hours=25))
    )
    missing = failed(outcome)[("expect_column_values_to_not_be_null", ("series_present",))]
    assert missing.unexpected_count == 76  # hour 25 absent for every series
    outcome = validate_raw_consumption(
        raw_day, DE35, expected_hours=(start, start + pd.Timedelta(hours=23))
    )
    assert ("expect_column_values_to_be_between", ("HourUTC",)) in failed(outcome)


def test_wrong_types_and_missing_columns_fail(raw_day):
    clean = to_clean(raw_day)
    naive = clean.assign(datetime_utc=clean["datetime_utc"].dt.tz_localize(None))
    assert ("expect_column_dtype_to_be_in_list", ("datetime_utc",)) in failed(
        validate_consumption_features(naive)
    )
    outcome = validate_consumption_features(clean.drop(columns=["area"]))
    assert ("expect_column_to_exist", ("area",)) in failed(outcome)


def make_forecasts(origins: int = 2, series=(("DK1", "111"), ("DK2", "999"))) -> pd.DataFrame:
    rows = []
    for o in range(origins):
        origin = pd.Timestamp("2023-01-01T00:00", tz="UTC") + pd.Timedelta(hours=o)
        for area, code in series:
            for h in range(1, 25):
                rows.append((area, code, origin, origin + pd.Timedelta(hours=h), h, 10.0 + h))
    df = pd.DataFrame(
        rows,
        columns=[
            "area",
            "segment",
            "forecast_origin",
            "datetime_utc",
            "horizon_hours",
            "prediction",
        ],
    )
    df["prediction_lower"] = df["prediction"] - 1
    df["prediction_upper"] = df["prediction"] + 1
    df["model_version"] = "3"
    return df


def test_forecast_suite():
    good = make_forecasts()
    assert validate_forecasts(good).success, validate_forecasts(good).summary()
    bad = good.copy()
    bad.loc[0, "prediction"] = -1.0
    bad.loc[1, "model_version"] = ""
    bad = bad.drop(index=[30])
    outcome = validate_forecasts(bad)
    names = failed(outcome)
    assert ("expect_column_values_to_be_between", ("prediction",)) in names
    assert ("expect_column_value_lengths_to_be_between", ("model_version",)) in names
    missing = names[("expect_column_values_to_not_be_null", ("series_present",))]
    assert missing.unexpected_rows["horizon_hours"].tolist() == [7]
    shifted = good.assign(datetime_utc=good["datetime_utc"] + pd.Timedelta(hours=1))
    assert (
        "expect_column_pair_values_to_be_equal",
        ("datetime_utc", "expected_datetime_utc"),
    ) in failed(validate_forecasts(shifted))


def test_forecast_suite_requires_ordered_quantiles():
    good = make_forecasts().assign(
        p10=lambda f: f["prediction_lower"],
        p50=lambda f: f["prediction"],
        p90=lambda f: f["prediction_upper"],
    )
    assert validate_forecasts(good).success, validate_forecasts(good).summary()
    crossed = good.copy()
    crossed.loc[3, "p10"] = crossed.loc[3, "p50"] + 5  # p10 above the median
    names = failed(validate_forecasts(crossed))
    assert ("expect_column_pair_values_a_to_be_greater_than_b", ("p50", "p10")) in names
    assert names[
        ("expect_column_pair_values_a_to_be_greater_than_b", ("p50", "p10"))
    ].unexpected_rows["horizon_hours"].tolist() == [4]


def test_a_conflicting_duplicate_is_named_with_its_key_and_both_values(raw_day):
    row = raw_day[(raw_day["PriceArea"] == "DK1") & (raw_day["ConsumerType_DE35"] == 111)].iloc[0]
    extra = row.to_frame().T.astype(raw_day.dtypes.to_dict()).assign(TotalCon=999_999_999.0)
    outcome = validate_raw_consumption(pd.concat([raw_day, extra], ignore_index=True), DE35)
    key = ("HourUTC", "PriceArea", "ConsumerType_DE35")
    duplicate = failed(outcome)[("expect_compound_columns_to_be_unique", key)]
    line = duplicate.describe()
    assert f"HourUTC={row['HourUTC']}, PriceArea=DK1, ConsumerType_DE35=111" in line
    assert f"TotalCon={row['TotalCon']}" in line and "TotalCon=999999999.0" in line
    assert sorted(duplicate.unexpected_rows["TotalCon"]) == [row["TotalCon"], 999_999_999.0]
    # The features suite names it the same way, in its own columns.
    clean = to_clean(pd.concat([raw_day, extra], ignore_index=True))
    line = failed(validate_consumption_features(clean))[
        ("expect_compound_columns_to_be_unique", ("datetime_utc", "area", "segment"))
    ].describe()
    assert "area=DK1, segment=111" in line and "energy_consumption=999999999.0" in line


CORRUPTIONS = {"negative": -5000.0, "nan": np.nan, "inf": np.inf}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.integers(0, 24 * 76 - 1),
            st.sampled_from(["negative", "nan", "inf", "area", "code", "duplicate"]),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_the_row_rule_flags_exactly_the_rows_the_suite_reports(raw_day_clean, corruptions):
    """CLEAN.invalid_rows (what lags and rolling stats may use) and the GX suite (what blocks
    features) are read from the same declarations; they must agree row for row."""
    frame = raw_day_clean.copy()
    extra = []
    for index, kind in corruptions:
        if kind in CORRUPTIONS:
            frame.loc[index, "energy_consumption"] = CORRUPTIONS[kind]
        elif kind == "area":
            frame.loc[index, "area"] = "DK3"
        elif kind == "code":
            frame.loc[index, "segment"] = ""
        else:
            extra.append(frame.loc[[index]].assign(energy_consumption=123.0))
    frame = pd.concat([frame, *extra], ignore_index=True)
    invalid = CLEAN.invalid_rows(frame)
    key = list(CLEAN.key)
    flagged = set(map(tuple, frame.loc[invalid, key].astype(str).to_numpy()))
    reported = set()
    for result in validate_consumption_features(frame).failed:
        rows = result.unexpected_rows
        if all(c in rows.columns for c in key):  # per-row expectations (not completeness)
            reported |= set(map(tuple, rows[key].astype(str).to_numpy()))
    assert flagged == reported


@pytest.fixture(scope="module")
def raw_day_clean(raw_day) -> pd.DataFrame:
    return to_clean(raw_day)


def make_vintage(series=(("DK1", "111"), ("DK2", "999"))) -> tuple[pd.DataFrame, pd.DatetimeIndex]:
    """A valid day-ahead vintage issued 2026-03-27 10:00 local for the 24 hours of the 28th."""
    from energy_assets.forecasting import products

    issued_at = products.day_ahead_issued_at("2026-03-27")
    targets = products.day_ahead_targets(issued_at)
    rows = [(area, code, t) for area, code in series for t in targets]
    df = pd.DataFrame(rows, columns=["area", "segment", "datetime_utc"])
    prediction = 100.0 + np.arange(len(df))
    df = df.assign(
        issued_at=issued_at,
        lead_hours=((df["datetime_utc"] - issued_at.floor("h")) / pd.Timedelta(hours=1)).astype(
            "int64"
        ),
        data_origin=issued_at.floor("h") - pd.Timedelta(hours=216),
        prediction=prediction,
        p10=prediction * 0.9,
        p50=prediction,
        p90=prediction * 1.1,
        model_version="product-lag216h",
        quality="model",
        quality_reason=None,
        level_source="settled",
        weather_used=False,
    )
    df["quality_reason"] = df["quality_reason"].astype(object)
    return df[DAY_AHEAD_FORECASTS.names], targets


def test_product_suite_fails_each_kind_of_invalid_row():
    good, targets = make_vintage()
    outcome = validate_product(good, DAY_AHEAD_FORECASTS, targets)
    assert outcome.success, outcome.summary()
    bad = good.copy()
    bad.loc[0, "prediction"] = np.nan  # no number
    bad.loc[1, "p10"] = bad.loc[1, "p50"] + 5  # p10 above the median
    bad.loc[2, "lead_hours"] = -1  # before the issue
    bad = pd.concat([bad, bad.iloc[[3]]], ignore_index=True)  # a duplicate key
    late = bad.iloc[[4]].assign(  # a target hour after the product's window
        datetime_utc=targets[-1] + pd.Timedelta(hours=1), lead_hours=bad.loc[4, "lead_hours"] + 24
    )
    late["lead_hours"] = (late["datetime_utc"] - late["issued_at"].dt.floor("h")) // pd.Timedelta(
        hours=1
    )
    bad = pd.concat([bad, late], ignore_index=True)
    outcome = validate_product(bad, DAY_AHEAD_FORECASTS, targets)
    names = failed(outcome)
    assert names[("expect_column_values_to_not_be_null", ("prediction",))].unexpected_count == 1
    crossed = names[("expect_column_pair_values_a_to_be_greater_than_b", ("p50", "p10"))]
    assert crossed.unexpected_rows["datetime_utc"].tolist() == [targets[1]]
    assert names[("expect_column_values_to_be_between", ("lead_hours",))].unexpected_count == 1
    unique = names[
        (
            "expect_compound_columns_to_be_unique",
            ("issued_at", "area", "segment", "datetime_utc"),
        )
    ]
    assert unique.unexpected_count == 2
    window = names[("expect_column_values_to_be_between", ("datetime_utc",))]
    assert window.unexpected_rows["datetime_utc"].tolist() == [targets[-1] + pd.Timedelta(hours=1)]
    # The negative lead also disagrees with its target hour; the other rows are consistent.
    lead = names[
        ("expect_column_pair_values_to_be_equal", ("lead_hours_checked", "expected_lead_hours"))
    ]
    assert lead.unexpected_count == 1
    # The table's row rule (contracts.Table.invalid_rows) sees 4 of these rows; the crossed
    # quantiles and the hour outside the window are the suite's own.
    assert DAY_AHEAD_FORECASTS.invalid_rows(bad).sum() == 4
    # A series missing a target hour fails the completeness grid, naming the series and hour.
    missing = validate_product(good.drop(index=[7]), DAY_AHEAD_FORECASTS, targets)
    hole = failed(missing)[("expect_column_values_to_not_be_null", ("series_present",))]
    assert hole.unexpected_rows[["area", "segment"]].values.tolist() == [["DK1", "111"]]
