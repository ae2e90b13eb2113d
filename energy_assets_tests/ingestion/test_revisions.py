"""Revisions, the pure half: which stored hours the source changed, and what was computed from them."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_assets.contracts import FORECAST_HISTORY_HOURS, LOOKBACK_HOURS, hour_key, hour_keys
from energy_assets.ingestion.revisions import affected_partitions, compare_hours, contiguous_spans
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35

START = pd.Timestamp("2023-01-05 00:00")


def raw_frame(hours: int = 6, codes=(111, 112)) -> pd.DataFrame:
    rows = [
        {
            "HourUTC": START + pd.Timedelta(hours=h),
            "HourDK": START + pd.Timedelta(hours=h + 1),
            "PriceArea": area,
            "ConsumerType_DE35": code,
            "TotalCon": 1000.0 + 10 * h + code,
        }
        for h in range(hours)
        for area in ("DK1", "DK2")
        for code in codes
    ]
    return pd.DataFrame(rows)


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_unchanged_data_has_no_revisions():
    raw = raw_frame()
    report = compare_hours(raw, raw.sample(frac=1, random_state=1), DE35)
    assert report.revised_hours == () and report.largest is None
    assert report.hours_compared == 6 and report.changed_values == 0
    assert report.summary() == "No revised hours among 6 stored hours."


def test_a_changed_value_names_its_hour_series_and_size():
    stored = raw_frame()
    served = stored.copy()
    hit = (served["HourUTC"] == START + pd.Timedelta(hours=3)) & (served["PriceArea"] == "DK2")
    served.loc[hit & (served["ConsumerType_DE35"] == 112), "TotalCon"] *= 1.5
    served.loc[hit & (served["ConsumerType_DE35"] == 111), "TotalCon"] += 1.0  # smaller
    report = compare_hours(stored, served, DE35)
    assert report.revised_hours == (utc("2023-01-05 03:00"),)
    assert report.changed_values == 2 and report.added_rows == report.removed_rows == 0
    largest = report.largest
    assert largest.series == "PriceArea=DK2, ConsumerType_DE35=112"
    assert largest.hour == utc("2023-01-05 03:00")
    assert largest.stored == 1142.0 and largest.served == 1713.0
    assert largest.absolute == 571.0 and largest.relative == pytest.approx(0.5)
    assert "2023-01-05T03:00Z" in report.summary()


def test_added_and_removed_series_rows_revise_their_hours():
    stored = raw_frame()
    new_series = raw_frame(codes=(113,))
    served = pd.concat(
        [
            stored[~((stored["HourUTC"] == START) & (stored["ConsumerType_DE35"] == 111))],
            new_series[new_series["HourUTC"] == START + pd.Timedelta(hours=5)],
        ]
    )
    report = compare_hours(stored, served, DE35)
    assert report.revised_hours == (utc("2023-01-05 00:00"), utc("2023-01-05 05:00"))
    assert (report.removed_rows, report.added_rows, report.changed_values) == (2, 2, 0)
    assert report.largest is None  # no value changed in place


def test_hours_served_but_not_stored_are_not_revisions_and_withdrawn_ones_are_named():
    stored = raw_frame(hours=6)
    served = raw_frame(hours=8)
    served = served[served["HourUTC"] != START + pd.Timedelta(hours=2)]
    report = compare_hours(stored, served, DE35)
    assert report.revised_hours == ()
    assert report.unstored_hours == 2
    assert report.withdrawn_hours == (utc("2023-01-05 02:00"),)


def test_null_equals_null_but_a_value_becoming_null_is_a_revision():
    stored = raw_frame()
    stored.loc[0, "TotalCon"] = math.nan
    served = stored.copy()
    assert compare_hours(stored, served, DE35).revised_hours == ()
    served.loc[1, "TotalCon"] = math.nan
    report = compare_hours(stored, served, DE35)
    assert report.revised_hours == (utc("2023-01-05 00:00"),)
    assert report.largest is None  # a null has no size


@settings(max_examples=40, deadline=None)
@given(
    st.sets(st.integers(0, 5), max_size=4),
    st.floats(-500, 500).filter(lambda d: abs(d) > 1e-6),
)
def test_exactly_the_changed_hours_are_revised(hours, delta):
    stored = raw_frame()
    served = stored.copy()
    for h in hours:
        served.loc[served["HourUTC"] == START + pd.Timedelta(hours=h), "TotalCon"] += delta
    report = compare_hours(stored, served, DE35)
    expected = tuple(utc("2023-01-05") + pd.Timedelta(hours=h) for h in sorted(hours))
    assert report.revised_hours == expected
    if hours:
        assert report.largest.absolute == pytest.approx(abs(delta))


def test_affected_partitions_follow_the_lags_the_forecast_window_and_the_scored_days():
    revised = [utc("2023-01-07 12:00")]
    every_hour = hour_keys("2022-12-01", "2023-03-01")
    days = [d.strftime("%Y-%m-%d") for d in pd.date_range("2022-12-01", "2023-02-28")]
    affected = affected_partitions(revised, every_hour, every_hour, days)
    assert affected.raw_consumption == ("2023-01-07-12:00",)
    assert affected.consumption_features[0] == "2023-01-07-12:00"
    assert len(affected.consumption_features) == LOOKBACK_HOURS + 1
    assert affected.consumption_features[-1] == "2023-01-14-12:00"
    assert len(affected.forecasts) == FORECAST_HISTORY_HOURS
    assert affected.forecasts[-1] == hour_key(utc("2023-01-07 12:00") + pd.Timedelta(hours=359))
    # Days 01-06 and 01-07 score the revised actual; 01-07 … 01-22 re-forecast origins.
    assert affected.forecast_accuracy[0] == "2023-01-06"
    assert affected.forecast_accuracy[-1] == "2023-01-22"


def test_a_revised_hour_at_midnight_is_scored_by_the_two_days_before():
    # Day D scores targets from D 01:00 to D+2 00:00 exclusive.
    affected = affected_partitions([utc("2023-01-07 00:00")], [], [], ["2023-01-05", "2023-01-06"])
    assert affected.forecast_accuracy == ("2023-01-06",)
    affected = affected_partitions([utc("2023-01-07 01:00")], [], [], ["2023-01-05", "2023-01-06"])
    assert affected.forecast_accuracy == ("2023-01-06",)
    affected = affected_partitions([utc("2023-01-06 23:00")], [], [], ["2023-01-05", "2023-01-06"])
    assert affected.forecast_accuracy == ("2023-01-05", "2023-01-06")


def test_only_existing_partitions_are_returned():
    affected = affected_partitions(
        [utc("2023-01-07 12:00")], ["2023-01-07-13:00"], ["2023-01-09-00:00"], ["2023-01-30"]
    )
    assert affected.consumption_features == ("2023-01-07-13:00",)
    assert affected.forecasts == ("2023-01-09-00:00",)
    assert affected.forecast_accuracy == ()
    assert affected_partitions([], ["2023-01-07-13:00"], [], []).is_empty


def test_contiguous_spans():
    keys = ["2023-01-01-03:00", "2023-01-01-01:00", "2023-01-01-02:00", "2023-01-02-00:00"]
    assert contiguous_spans(keys) == [
        ("2023-01-01-01:00", "2023-01-01-03:00"),
        ("2023-01-02-00:00", "2023-01-02-00:00"),
    ]
