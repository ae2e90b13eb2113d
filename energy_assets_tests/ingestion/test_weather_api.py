"""The Open-Meteo client against the weather replay on 127.0.0.1: format, units, retries, errors."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from energy_assets.contracts import WEATHER_LEAD_HOURS
from energy_assets.devtools import WEATHER_SAMPLE_PATH
from energy_assets.ingestion.weather_api import (
    NATIONAL_LOCATIONS,
    OpenMeteoApi,
    WeatherApiError,
    parse_hourly,
    parse_locations,
)
from energy_assets.ingestion.weather_files import issue_table, read_weather_file


def _api(server, **kwargs) -> OpenMeteoApi:
    kwargs.setdefault("backoff_seconds", 0.01)
    return OpenMeteoApi(server.url, NATIONAL_LOCATIONS, **kwargs)


def test_fetch_hours_returns_the_files_values_in_our_units(weather_replay):
    server = weather_replay()
    got = _api(server).fetch_hours("2023-01-05T00:00", "2023-01-06T00:00")
    dmi = read_weather_file(WEATHER_SAMPLE_PATH).set_index("datetime_utc")
    assert len(got) == 24 and set(got["area"]) == {"DK"}
    expected = dmi.loc[got["datetime_utc"], "temperature_c"].to_numpy()
    np.testing.assert_allclose(got["temperature_c"], expected, atol=1e-3)
    # Wind direction travels as degrees in Open-Meteo's format and comes back as sin / cos.
    np.testing.assert_allclose(
        got["wind_dir_sin"], dmi.loc[got["datetime_utc"], "wind_dir_sin"], atol=1e-3
    )


def test_429_and_5xx_are_retried_honouring_retry_after(weather_replay):
    server = weather_replay()
    server.faults.fail_next(1, 429, retry_after=0.3)
    server.faults.fail_next(1, 503)
    api = _api(server)
    started = time.perf_counter()
    got = api.fetch_hours("2023-01-05T00:00", "2023-01-05T03:00")
    assert len(got) == 3 and api.request_count == 3
    assert time.perf_counter() - started >= 0.3


def test_persistent_failure_is_one_error_naming_the_hours_and_cause(weather_replay):
    server = weather_replay()
    server.faults.fail_next(10, 502)
    with pytest.raises(WeatherApiError, match=r"DK 2023-01-05T00:00Z.*failed 3 times.*HTTP 502"):
        _api(server, max_retries=2).fetch_hours("2023-01-05T00:00", "2023-01-05T03:00")


def test_other_4xx_fail_at_once(weather_replay):
    server = weather_replay()
    server.faults.fail_next(1, 400)
    api = _api(server)
    with pytest.raises(WeatherApiError, match="HTTP 400"):
        api.fetch_hours("2023-01-05T00:00", "2023-01-05T03:00")
    assert api.request_count == 1


def test_wrong_units_are_an_error_not_a_silent_conversion():
    document = {
        "utc_offset_seconds": 0,
        "hourly_units": {"temperature_2m": "°F"},
        "hourly": {
            "time": ["2023-01-01T00:00"],
            "temperature_2m": [40.0],
            "wind_speed_10m": [1.0],
            "shortwave_radiation": [0.0],
            "wind_direction_10m": [90.0],
        },
    }
    with pytest.raises(WeatherApiError, match="°F"):
        parse_hourly(document, "DK", "test")


def test_locations_parse_and_bad_ones_are_named():
    assert parse_locations("DK1:56.1,10.2;DK2:55.6,12.5") == {
        "DK1": (56.1, 10.2),
        "DK2": (55.6, 12.5),
    }
    with pytest.raises(ValueError, match="NAME:LATITUDE,LONGITUDE"):
        parse_locations("DK1=56,10")


def test_issue_table_has_lead_0_to_48_and_no_look_ahead_past_the_data():
    hourly = read_weather_file(WEATHER_SAMPLE_PATH)
    table = issue_table(hourly, pd.Timestamp("2023-01-05", tz="UTC"), "2023-01-05T02:00Z")
    assert WEATHER_LEAD_HOURS == 48 and len(table) == 2 * 49
    row = table[(table["issued_utc"] == "2023-01-05T01:00Z") & (table["lead_hours"] == 48)]
    assert row["datetime_utc"].iloc[0] == pd.Timestamp("2023-01-07T01:00Z")
