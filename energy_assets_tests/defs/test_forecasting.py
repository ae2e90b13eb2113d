"""The forecasts asset only ever sees features up to its origin, and refuses incomplete origins."""

from __future__ import annotations

import pandas as pd

from energy_assets.contracts import FORECAST_HISTORY_HOURS as HISTORY_HOURS
from energy_assets.defs.partitions import Partitions, lookback_mapping
from energy_assets.forecasting.publish import origin_coverage_problems
from energy_assets.settings import Settings

hourly_partitions = Partitions.from_settings(Settings.for_home(".dagster_home")).hourly


def upstream_keys(downstream_keys: list[str]) -> list[str]:
    mapping = lookback_mapping(HISTORY_HOURS - 1)
    subset = hourly_partitions.empty_subset().with_partition_keys(downstream_keys)
    result = mapping.get_upstream_mapped_partitions_result_for_partitions(
        subset, hourly_partitions, hourly_partitions
    )
    return sorted(result.partitions_subset.get_partition_keys())


def test_forecast_window_ends_at_the_origin_and_reaches_back_the_history():
    keys = upstream_keys(["2023-01-10-05:00"])
    assert keys[-1] == "2023-01-10-05:00"  # nothing after the origin is ever loaded
    assert len(keys) == HISTORY_HOURS
    assert keys[0] == "2022-12-26-06:00"


def test_a_range_of_origins_loads_one_window_ending_at_the_last_origin():
    keys = upstream_keys([f"2023-01-10-{h:02d}:00" for h in range(24)])
    assert keys[-1] == "2023-01-10-23:00"
    assert len(keys) == HISTORY_HOURS + 23


def test_a_missing_series_is_not_a_failure_and_an_empty_origin_is():
    hours = pd.date_range("2023-01-10 00:00", periods=3, freq="h", tz="UTC")
    rows = [
        {"datetime_utc": h, "area": area, "segment": "111", "energy_consumption": 1.0}
        for h in hours
        for area in ("DK1", "DK2")
    ]
    history = pd.DataFrame(rows[:-1])  # DK2 missing at the last hour (retired, or a gap)
    origins = pd.DatetimeIndex(hours)
    # (It gets the labelled fallback: energy_assets_tests/defs/test_fallback_forecasts.py.)
    assert origin_coverage_problems(history, origins) == []
    # An origin with no features at all cannot be forecast: that still fails, by name.
    without_last_hour = pd.DataFrame(rows[:-2])
    assert origin_coverage_problems(without_last_hour, origins) == [
        "2023-01-10T02:00Z has no series"
    ]
