"""Drift report on the real DE35 slice: a normal day stays quiet, a level shift is flagged."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from energy_assets.devtools import SAMPLE_DATA_PATH
from energy_assets.features.engineering import clean_consumption
from energy_assets.monitoring.drift import (
    MODEL_INPUT_DRIFT_COLUMNS,
    MODEL_INPUT_HISTORY,
    build_drift_report,
    default_drift_columns,
    model_input_drift,
)
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35

SLICE = str(SAMPLE_DATA_PATH)


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    return clean_consumption(pd.read_csv(SLICE), DE35)


def _window(clean: pd.DataFrame, start: str, days: float) -> pd.DataFrame:
    begin = pd.Timestamp(start, tz="UTC")
    mask = (clean["datetime_utc"] >= begin) & (
        clean["datetime_utc"] < begin + pd.Timedelta(days=days)
    )
    return clean[mask].reset_index(drop=True)


@pytest.fixture(scope="module")
def reference(clean) -> pd.DataFrame:
    # The slice's first two weeks (21 Dec - 4 Jan, Christmas included).
    return _window(clean, "2022-12-21T16:00", 14)


def test_normal_day_shows_no_dataset_drift(clean, reference):
    # Friday 6 Jan 16:00 -> 7 Jan 16:00 UTC: an ordinary day, all 24 hours of the daily cycle.
    current = _window(clean, "2023-01-06T16:00", 1)
    assert len(current) == 76 * 24

    result = build_drift_report(reference, current)

    assert result.column_scores["column"].tolist() == ["energy_relative", "energy_consumption"]
    assert result.drift_share < 0.5
    assert not result.dataset_drift
    assert result.drifted_columns == []
    assert set(result.column_scores.columns) >= {"column", "stattest", "score", "drifted"}
    assert len(result.html) > 10_000 and "Drift" in result.html


@pytest.mark.parametrize("factor", [1.5, 0.6])
def test_level_shift_is_dataset_drift_and_names_the_columns(clean, reference, factor):
    current = _window(clean, "2023-01-06T16:00", 1)
    current["energy_consumption"] *= factor

    result = build_drift_report(reference, current)

    assert result.dataset_drift
    assert result.drift_share == 1.0
    assert set(result.drifted_columns) == {"energy_relative", "energy_consumption"}
    scores = result.column_scores.set_index("column")
    assert bool(scores.loc["energy_relative", "drifted"])
    assert scores.loc["energy_relative", "score"] > scores.loc["energy_relative", "threshold"]


def test_shift_of_the_small_series_is_seen_on_the_relative_scale_only(clean, reference):
    """Why energy_relative exists: pooled kWh is dominated by the few big series."""
    current = _window(clean, "2023-01-06T16:00", 1)
    medians = reference.groupby(["area", "segment"])["energy_consumption"].median()
    smallest = medians.sort_values().index[:60]
    shifted = current.set_index(["area", "segment"]).index.isin(smallest)
    current.loc[shifted, "energy_consumption"] *= 1.3

    result = build_drift_report(reference, current)

    assert result.drifted_columns == ["energy_relative"]
    assert result.drift_share == 0.5
    levels = result.series_levels.set_index(["area", "segment"])["level_ratio"]
    assert len(levels) == 76
    assert levels.loc[list(smallest)].median() > levels.drop(index=list(smallest)).median() + 0.2


def test_calendar_and_key_columns_are_not_compared_by_default():
    frame = pd.DataFrame(
        {
            "datetime_utc": pd.date_range("2023-01-01", periods=3, freq="h", tz="UTC"),
            "area": ["DK1"] * 3,
            "segment": [111] * 3,
            "energy_consumption": [1.0, 2.0, 3.0],
            "hour_of_day": [0, 1, 2],
            "day_of_week": [6, 6, 6],
            "is_weekend": [True] * 3,
            "lag_24h": [1.0, 2.0, 3.0],
            "rolling_mean_24h": [1.0, 2.0, 3.0],
        }
    )
    assert default_drift_columns(frame) == [
        "energy_relative",
        "energy_consumption",
        "lag_24h",
        "rolling_mean_24h",
    ]


def test_explicit_columns_and_missing_column_error(clean, reference):
    current = _window(clean, "2023-01-06T16:00", 1)
    result = build_drift_report(reference, current, columns=["energy_consumption", "area"])
    assert result.column_scores["column"].tolist() == ["energy_consumption", "area"]
    with pytest.raises(ValueError, match="lag_24h"):
        build_drift_report(reference, current, columns=["lag_24h"])
    with pytest.raises(ValueError, match="rows on both sides"):
        build_drift_report(reference, current.iloc[:0])


def test_one_day_against_four_weeks_takes_seconds(clean):
    reference = _window(clean, "2022-12-21T16:00", 27)
    current = _window(clean, "2023-01-16T16:00", 1)
    current["lag_24h"] = current["energy_consumption"] * 0.98
    reference = reference.assign(lag_24h=reference["energy_consumption"] * 1.01)

    started = time.perf_counter()
    build_drift_report(reference, current)
    assert time.perf_counter() - started < 10


def test_a_column_without_values_on_one_side_is_reported_not_compared(clean, reference):
    # Lags are NaN in the data's first week: a reference there has no lag_168h at all.
    current = _window(clean, "2023-01-06T16:00", 1).assign(lag_168h=1.0)
    result = build_drift_report(reference.assign(lag_168h=float("nan")), current)
    scores = result.column_scores.set_index("column")
    assert scores.loc["lag_168h", "stattest"].startswith("not compared")
    assert not bool(scores.loc["lag_168h", "drifted"])
    assert result.drift_share == 0.0


# What the model consumes: the inputs of forecasts from the day's hours against the reference's.
REFERENCE_HOURS = (
    pd.Timestamp("2023-01-05T16:00", tz="UTC"),
    pd.Timestamp("2023-01-11T16:00", tz="UTC"),
)
DAY = (pd.Timestamp("2023-01-11T16:00", tz="UTC"), pd.Timestamp("2023-01-12T16:00", tz="UTC"))


def _history(clean, hours):
    start, end = hours
    rows = (clean.datetime_utc >= start - MODEL_INPUT_HISTORY) & (clean.datetime_utc < end)
    return clean[rows].reset_index(drop=True)


@pytest.fixture(scope="module")
def normal_day_inputs(clean):
    started = time.perf_counter()
    result = model_input_drift(_history(clean, REFERENCE_HOURS), REFERENCE_HOURS,
                               _history(clean, DAY), DAY)  # fmt: skip
    return result, time.perf_counter() - started


def test_model_inputs_of_a_normal_day_compare_the_numeric_inputs(normal_day_inputs):
    result, seconds = normal_day_inputs
    assert seconds < 15  # Evidently's import included
    assert result.column_scores["column"].tolist() == MODEL_INPUT_DRIFT_COLUMNS
    assert (
        "log_level" in MODEL_INPUT_DRIFT_COLUMNS
        and "ratio_same_hour_7d" in MODEL_INPUT_DRIFT_COLUMNS
    )
    assert not set(MODEL_INPUT_DRIFT_COLUMNS) & {"horizon_hours", "hour_of_day", "is_holiday"}
    # The level the model scales by is the reference's; the origin-relative ratios of one day
    # differ from a week's on ordinary days too (why this is not part of drift_share).
    assert "log_level" not in result.drifted_columns
    assert len(result.html) > 10_000


def test_a_level_shift_on_the_day_drifts_the_model_inputs(clean, normal_day_inputs):
    current = _history(clean, DAY)
    current.loc[current.datetime_utc >= DAY[0], "energy_consumption"] *= 1.6
    result = model_input_drift(_history(clean, REFERENCE_HOURS), REFERENCE_HOURS, current, DAY)
    # The level and the week-ago hour over it move by log(1.6) for the day's origins.
    assert {"log_level", "ratio_same_hour_7d", "ratio_mean_168h"} <= set(result.drifted_columns)
    normal = normal_day_inputs[0]
    assert result.drift_share > normal.drift_share
    scores = result.column_scores.set_index("column")["score"]
    assert scores["log_level"] > 3 * normal.column_scores.set_index("column")["score"]["log_level"]
