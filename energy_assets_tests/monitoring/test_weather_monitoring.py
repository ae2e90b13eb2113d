"""Weather in monitoring: drift compares the observed weather too, accuracy splits by
temperature band. Real DMI weather, real DE35 rows."""

import numpy as np
import pandas as pd
import pytest

from energy_assets.devtools import SAMPLE_DATA_PATH, WEATHER_SAMPLE_PATH
from energy_assets.features.engineering import read_consumption_file
from energy_assets.ingestion.weather_files import issue_table, read_weather_file
from energy_assets.monitoring.drift import build_drift_report
from energy_assets.monitoring.weather_monitoring import (
    DRIFT_WEATHER_COLUMNS,
    accuracy_by_temperature_band,
    with_weather,
)
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35


@pytest.fixture(scope="module")
def weather():
    return read_weather_file(WEATHER_SAMPLE_PATH)


@pytest.fixture(scope="module")
def consumption():
    return read_consumption_file(str(SAMPLE_DATA_PATH), DE35)


def test_price_areas_read_the_national_weather_of_their_hour(consumption, weather):
    rows = consumption.head(200)
    joined = with_weather(rows, weather)
    truth = weather.set_index("datetime_utc")["temperature_c"]
    np.testing.assert_allclose(joined["temperature_c"], truth.loc[rows["datetime_utc"]].to_numpy())
    # A WEATHER table works the same way (its lead-0 rows are the observations).
    table = issue_table(
        weather, rows["datetime_utc"].min(), rows["datetime_utc"].max() + pd.Timedelta(hours=1)
    )
    pd.testing.assert_frame_equal(with_weather(rows, table), joined)
    assert with_weather(rows, None) is rows


def test_the_drift_report_compares_the_weather_columns(consumption, weather):
    split = pd.Timestamp("2023-01-14", tz="UTC")
    reference = with_weather(consumption[consumption.datetime_utc < split], weather)
    current = consumption[consumption.datetime_utc >= split].copy()
    # A much colder current window: the temperature drifts, named as such.
    cold = weather.assign(temperature_c=weather["temperature_c"] - 15)
    current = with_weather(current, cold)
    result = build_drift_report(reference, current)
    assert set(DRIFT_WEATHER_COLUMNS) <= set(result.column_scores["column"])
    assert "temperature_c" in result.drifted_columns


def test_accuracy_by_temperature_band(weather):
    hours = pd.date_range("2023-01-01", periods=24 * 10, freq="h", tz="UTC")
    scored = pd.DataFrame({"datetime_utc": hours, "area": "DK1", "actual": 100.0})
    temps = weather.set_index("datetime_utc").loc[hours, "temperature_c"].to_numpy()
    # Worse when colder than 5 °C: the split shows it.
    scored["prediction"] = np.where(temps < 5, 80.0, 99.0)
    bands = accuracy_by_temperature_band(scored, weather).set_index("band")
    assert bands["n_points"].sum() == len(hours)
    cold = bands.loc[[b for b in bands.index if b in ("< 0 °C", "0…5 °C")], "mape"]
    assert np.allclose(cold, 0.20)
    assert bands.loc["5…10 °C", "mape"] == pytest.approx(0.01)
    assert accuracy_by_temperature_band(scored.iloc[:0], weather).empty
