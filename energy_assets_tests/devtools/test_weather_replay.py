"""The weather replay as the demo and a local deployment run it: shifted by the consumption
replay's whole weeks, and as the `energy-assets weather-replay` console script."""

from __future__ import annotations

import signal
import subprocess

import numpy as np
import pandas as pd

from energy_assets.devtools import WEATHER_SAMPLE_PATH
from energy_assets.devtools.weather_replay import WeatherReplayServer
from energy_assets.ingestion.weather_api import NATIONAL_LOCATIONS, OpenMeteoApi
from energy_assets.ingestion.weather_files import read_weather_file
from energy_assets_tests.test_cli import CONSOLE_SCRIPT

WEEKS = 205  # about what `replay-api --as-current` shifts the shared slice by in 2026


def test_a_shifted_replay_serves_each_hour_weeks_later_with_its_real_values():
    dmi = read_weather_file(WEATHER_SAMPLE_PATH).set_index("datetime_utc")
    hour = pd.Timestamp("2023-01-05T00:00", tz="UTC")
    with WeatherReplayServer(WEATHER_SAMPLE_PATH, shift_weeks=WEEKS) as server:
        api = OpenMeteoApi(server.url, NATIONAL_LOCATIONS, backoff_seconds=0.01)
        served = hour + pd.Timedelta(weeks=WEEKS)
        got = api.fetch_hours(served, served + pd.Timedelta(hours=24))
    assert got["datetime_utc"].iloc[0] == served
    expected = dmi.loc[pd.date_range(hour, periods=24, freq="h"), "temperature_c"].to_numpy()
    np.testing.assert_allclose(got["temperature_c"], expected, atol=1e-3)


def test_the_console_script_prints_its_url_serves_and_stops_on_sigterm():
    process = subprocess.Popen(
        [CONSOLE_SCRIPT, "weather-replay", "--shift-weeks", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), process.stderr.read()
        got = OpenMeteoApi(url, NATIONAL_LOCATIONS).fetch_hours(
            "2023-01-19T00:00", "2023-01-19T03:00"
        )
        dmi = read_weather_file(WEATHER_SAMPLE_PATH).set_index("datetime_utc")
        two_weeks_before = pd.date_range("2023-01-05T00:00", periods=3, freq="h", tz="UTC")
        np.testing.assert_allclose(
            got["temperature_c"], dmi.loc[two_weeks_before, "temperature_c"], atol=1e-3
        )
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "shifted 2 weeks" in err and "stand in for forecasts" in err
