"""`realtime_load` through the real graph: the replay API on 127.0.0.1 serves the real
ElectricityBalanceNonv file (with the real API's 429s when asked), `materialize` writes each
area's total load per hour; a negative load or a missing area is blocked by the generated checks
and nothing is written; a 3x spike is written, flagged, and the plausibility check warns."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg
import pandas as pd
import pytest
import requests

from energy_assets.defs import build_definitions, build_resources
from energy_assets.defs.partitions import Partitions
from energy_assets.defs.realtime import (
    REALTIME_CHECK,
    REALTIME_PLAUSIBLE_CHECK,
    REALTIME_RESOURCE,
    build_realtime_assets,
    newest_realtime_hour,
)
from energy_assets.defs.resources import EnergiDataResource
from energy_assets.devtools import BUNDLED_DATA_PATHS
from energy_assets.ingestion.files import read_api_frame
from energy_assets.settings import Settings
from energy_assets.sources import ELECTRICITY_BALANCE_NONV as SPEC
from energy_assets.storage.parquet_store import ParquetStore

DATA = BUNDLED_DATA_PATHS[SPEC.dataset]
HOUR = "2023-11-14-03:00"  # a night hour in DK1, the hardest for a spike to stand out


@pytest.fixture(scope="module")
def feed() -> pd.DataFrame:
    frame = read_api_frame(DATA, SPEC)
    return frame[frame[SPEC.time_utc].between("2023-11-01", "2023-11-20")].reset_index(drop=True)


@pytest.fixture
def graph(tmp_path, monkeypatch, replay_server):
    def start(frame: pd.DataFrame, **server_options):
        server = replay_server(frame, dataset=SPEC.dataset, **server_options)
        monkeypatch.setenv("ENERGY_REALTIME_API_URL", server.url)
        monkeypatch.setenv("ENERGY_STORAGE_URL", str(tmp_path / "storage"))
        monkeypatch.setenv("ENERGY_PARTITIONS_START", "2023-01-01-00:00")
        settings = Settings.from_env()
        [asset] = build_realtime_assets(Partitions.from_settings(settings))
        return server, asset, build_resources(settings), ParquetStore(str(tmp_path / "storage"))

    return start


def _hit(frame: pd.DataFrame, hour: str, area: str) -> pd.Series:
    stamp = pd.Timestamp(f"{hour[:10]}T{hour[11:]}")
    return (frame[SPEC.time_utc] == stamp) & (frame[SPEC.area_column] == area)


def _checks(result) -> dict[str, bool]:
    return {c.check_name: c.passed for c in result.get_asset_check_evaluations()}


def test_realtime_load_materialises_each_areas_total_from_the_replay(graph, feed):
    server, asset, resources, store = graph(feed)
    result = dg.materialize([asset], resources=resources, partition_key=HOUR)
    assert result.success
    assert _checks(result) == {REALTIME_CHECK: True, REALTIME_PLAUSIBLE_CHECK: True}
    table = store.read("realtime_load", HOUR)
    assert list(table.columns) == ["datetime_utc", "area", "total_load_mwh", "implausible"]
    assert list(table["area"]) == ["DK1", "DK2"] and not table["implausible"].any()
    served = feed[_hit(feed, HOUR, "DK1") | _hit(feed, HOUR, "DK2")]
    assert list(table["total_load_mwh"]) == list(served[SPEC.value_column])
    assert server.request_count == 1  # the hour and the week that judges it: one request


def test_the_replay_serves_the_feed_with_its_429s_and_the_client_waits_them_out(graph, feed):
    server, asset, resources, store = graph(feed, rate_limit_per_minute=1, rate_window_seconds=1)
    resources = resources | {
        # Small pages and no request clock: the pages come faster than the limit allows.
        REALTIME_RESOURCE: EnergiDataResource(
            api_url=server.url, dataset=SPEC.dataset, page_size=150, backoff_seconds=0.1
        )
    }
    tags = {
        "dagster/asset_partition_range_start": "2023-11-14-00:00",
        "dagster/asset_partition_range_end": "2023-11-14-05:00",
    }
    result = dg.materialize([asset], resources=resources, tags=tags)
    assert result.success
    assert server.stats["rate_limited"] >= 1  # the replay answered 429 + Retry-After ...
    assert server.request_count == 3 + server.stats["rate_limited"]  # ... and each was retried
    assert len(store.read("realtime_load", "2023-11-14-05:00")) == 2


@pytest.mark.parametrize(
    "corrupt, expectation",
    [
        ("negative", "expect_column_values_to_be_between"),
        ("missing_area", "expect_column_values_to_not_be_null"),
    ],
)
def test_a_negative_load_or_a_missing_area_blocks_and_nothing_is_written(
    graph, feed, corrupt, expectation
):
    bad = feed.copy()
    if corrupt == "negative":
        bad.loc[_hit(bad, HOUR, "DK1"), SPEC.value_column] = -5.0
    else:
        bad = bad[~_hit(bad, HOUR, "DK2")]
    _, asset, resources, store = graph(bad)
    result = dg.materialize([asset], resources=resources, partition_key=HOUR, raise_on_error=False)
    assert not result.success
    [gx] = [c for c in result.get_asset_check_evaluations() if c.check_name == REALTIME_CHECK]
    assert not gx.passed and f"{expectation}(" in str(gx.metadata)
    with pytest.raises(Exception):  # noqa: B017 (any read error: the partition is absent)
        store.read("realtime_load", HOUR)


def test_a_3x_spike_is_written_flagged_and_warned_about(graph, feed):
    spiked = feed.copy()
    spiked.loc[_hit(spiked, HOUR, "DK1"), SPEC.value_column] *= 3
    _, asset, resources, store = graph(spiked)
    result = dg.materialize([asset], resources=resources, partition_key=HOUR)
    assert result.success  # kept as served: the forecaster reads a flagged hour as a gap
    assert _checks(result) == {REALTIME_CHECK: True, REALTIME_PLAUSIBLE_CHECK: False}
    table = store.read("realtime_load", HOUR).set_index("area")
    assert table.loc["DK1", "implausible"] and not table.loc["DK2", "implausible"]


def test_the_definitions_schedule_the_hour_that_just_ended():
    settings = Settings.for_home("/nonexistent/home", partitions_start="2023-01-01-00:00")
    defs = build_definitions(settings)
    [schedule] = [s for s in defs.schedules if s.name == "realtime_load_schedule"]
    assert schedule.cron_schedule == "20 * * * *"
    now = pd.Timestamp("2024-01-10T12:20Z").to_pydatetime()
    assert newest_realtime_hour(now) == "2024-01-10-11:00"
    assert defs.resources[REALTIME_RESOURCE].dataset == SPEC.dataset


def test_replay_api_cli_serves_the_dataset(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "energy_assets.cli", "replay-api", "--data", str(DATA),
         "--dataset", SPEC.dataset, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), process.stderr.read()
        answer = requests.get(
            f"{url}/dataset/{SPEC.dataset}",
            params={"start": "2024-01-10T00:00", "end": "2024-01-10T01:00", "timezone": "UTC"},
            timeout=30,
        ).json()
        assert answer["total"] == 2
        assert {r["PriceArea"] for r in answer["records"]} == {"DK1", "DK2"}
    finally:
        process.terminate()
        process.wait(timeout=30)
