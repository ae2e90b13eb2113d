"""The `weather` asset through the real graph: the Open-Meteo replay on 127.0.0.1 serves DMI's
national file, `weather_job` runs a range in one run, values land in a local store; a
−300 °C value and a missing hour are blocked by the generated checks and nothing is written."""

from __future__ import annotations

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance

from energy_assets.contracts import WEATHER, WEATHER_LEAD_HOURS, hour_keys
from energy_assets.defs import build_definitions
from energy_assets.devtools import WEATHER_SAMPLE_PATH
from energy_assets.ingestion.weather_api import NATIONAL_LOCATIONS
from energy_assets.ingestion.weather_files import read_weather_file
from energy_assets.settings import Settings
from energy_assets.storage.parquet_store import ParquetStore

FIRST, LAST = "2023-01-10-00:00", "2023-01-10-05:00"


@pytest.fixture
def graph(tmp_path, monkeypatch, weather_replay):
    def start(frame: pd.DataFrame):
        server = weather_replay(frame)
        monkeypatch.setenv("ENERGY_WEATHER_API_URL", server.url)
        monkeypatch.setenv("ENERGY_WEATHER_LOCATIONS", NATIONAL_LOCATIONS)
        monkeypatch.setenv("ENERGY_STORAGE_URL", str(tmp_path / "storage"))
        monkeypatch.setenv("ENERGY_PARTITIONS_START", "2022-12-21-16:00")
        return build_definitions(Settings.from_env()), ParquetStore(str(tmp_path / "storage"))

    return start


def run_range(defs, instance, first: str = FIRST, last: str = LAST):
    tags = {
        "dagster/asset_partition_range_start": first,
        "dagster/asset_partition_range_end": last,
    }
    return defs.resolve_job_def("weather_job").execute_in_process(
        instance=instance, tags=tags, raise_on_error=False
    )


@pytest.fixture(scope="module")
def dmi() -> pd.DataFrame:
    return read_weather_file(WEATHER_SAMPLE_PATH)


def test_weather_materialises_from_the_replay_in_one_run(graph, dmi):
    defs, store = graph(dmi)
    with DagsterInstance.ephemeral() as instance:
        result = run_range(defs, instance)
        assert result.success
        check = result.get_asset_check_evaluations()[0]
        assert check.passed
        event = instance.get_latest_materialization_event(AssetKey("weather"))
        assert event.asset_materialization.metadata["units"].value["temperature_c"] == "°C"
    keys = hour_keys("2023-01-10T00:00", "2023-01-10T06:00")
    frame = store.read(WEATHER.name, keys[-1])
    assert len(frame) == WEATHER_LEAD_HOURS + 1 and set(frame["area"]) == {"DK"}
    # Lead 24 of 05:00 is what DMI observed at 05:00 the next day (offline: perfect forecast).
    lead24 = frame[frame["lead_hours"] == 24].iloc[0]
    truth = dmi.set_index("datetime_utc").loc[pd.Timestamp("2023-01-11T05:00Z"), "temperature_c"]
    assert lead24["temperature_c"] == pytest.approx(truth, abs=1e-3)


@pytest.mark.parametrize(
    "corrupt, expectation, column",
    [
        ("minus_300", "expect_column_values_to_be_between", "temperature_c"),
        # The forecaster reads wind too (wind and heat-loss inputs): a negative speed is blocked.
        ("negative_wind", "expect_column_values_to_be_between", "wind_speed_ms"),
        ("missing_hour", "expect_column_values_to_not_be_null", "temperature_c"),
    ],
)
def test_a_bad_value_or_a_missing_hour_blocks_and_nothing_is_written(
    graph, dmi, corrupt, expectation, column
):
    bad_hour = pd.Timestamp("2023-01-10T03:00Z")
    frame = dmi.copy()
    if corrupt == "minus_300":
        frame.loc[frame["datetime_utc"] == bad_hour, "temperature_c"] = -300.0
    elif corrupt == "negative_wind":
        frame.loc[frame["datetime_utc"] == bad_hour, "wind_speed_ms"] = -4.0
    else:
        frame = frame[frame["datetime_utc"] != bad_hour]
    defs, store = graph(frame)
    with DagsterInstance.ephemeral() as instance:
        result = run_range(defs, instance)
        assert not result.success
        (check,) = result.get_asset_check_evaluations()
        assert not check.passed
        failed = str(check.metadata)
        assert f"{expectation}({column})" in failed and "2023-01-10" in failed
    for key in hour_keys("2023-01-10T00:00", "2023-01-10T06:00"):
        with pytest.raises(Exception):  # noqa: B017 (any read error: the partition is absent)
            store.read(WEATHER.name, key)
