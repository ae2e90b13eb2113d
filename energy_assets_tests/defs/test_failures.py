"""Every failure names its cause and its object (issue 18): assets run in the wrong order say
what to materialise first, a damaged stored object is named with its repair, and an MLflow
server that does not answer is named as unreachable, not as a missing champion. Real replay
API, real storage folder, a real closed port for the server that is down."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from dagster import DagsterInstance

from energy_assets.defs import build_definitions
from energy_assets.devtools import SAMPLE_DATA_PATH
from energy_assets.settings import Settings
from energy_assets.storage.parquet_store import ParquetStore

ORIGIN = "2023-01-16-00:00"
HISTORY_TAGS = {  # the 15 days a forecast origin reads, and its origin
    "dagster/asset_partition_range_start": "2023-01-01-00:00",
    "dagster/asset_partition_range_end": ORIGIN,
}


def failure_text(result) -> str:
    """Every step failure's message and error, as the UI shows them."""
    assert not result.success
    return "\n".join(
        f"{event.message} {event.event_specific_data.error}"
        for event in result.all_events
        if event.event_type_value == "STEP_FAILURE"
    )


def run(defs, job: str, instance, **kwargs):
    return defs.resolve_job_def(job).execute_in_process(
        instance=instance, raise_on_error=False, **kwargs
    )


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def settings(tmp_path, replay_server) -> Settings:
    return Settings.for_home(
        tmp_path,
        api_url=replay_server(SAMPLE_DATA_PATH).url,
        # Nothing listens there: any MLflow call is a refused connection.
        mlflow_tracking_uri=f"http://forecaster:pw-never-shown@127.0.0.1:{_closed_port()}",
    )


def test_the_wrong_order_on_a_fresh_install_says_what_to_materialise_first(settings):
    defs = build_definitions(settings)
    with DagsterInstance.ephemeral() as instance:
        forecasts = failure_text(
            run(defs, "forecasts_backfill_job", instance, partition_key=ORIGIN)
        )
        monitoring = failure_text(
            run(defs, "daily_monitoring_job", instance, partition_key="2023-01-16")
        )
    assert "KeyError" not in forecasts
    assert "no consumption_features are stored for the 360 hours up to 2023-01-16T00:00Z" in (
        forecasts
    )
    assert "Materialise raw_consumption and consumption_features for those hours first" in (
        forecasts
    )
    assert "missing columns" not in monitoring
    assert "No forecasts are stored for 2023-01-16" in monitoring
    assert "materialise forecasts for that day's hours first" in monitoring


def test_a_damaged_object_and_an_unreachable_mlflow_are_named(settings, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    defs = build_definitions(settings)
    store = ParquetStore(settings.storage_url)
    with DagsterInstance.ephemeral() as instance:
        assert run(defs, "ingestion_backfill_job", instance, tags=HISTORY_TAGS).success
        damaged_key = "2023-01-10-07:00"
        damaged = Path(store.uri(store.relpath("consumption_features", damaged_key)))
        damaged.write_bytes(damaged.read_bytes()[:64])  # truncated by hand

        damaged_run = failure_text(
            run(defs, "forecasts_backfill_job", instance, partition_key=ORIGIN)
        )
        assert (
            f"The stored object of asset 'consumption_features', partition {damaged_key}, at "
            f"{damaged} cannot be read" in damaged_run
        )
        assert f"Re-materialise that partition (consumption_features, {damaged_key})" in damaged_run

        # The repair it names: re-materialise that hour.
        assert run(defs, "ingestion_backfill_job", instance, partition_key=damaged_key).success
        unreachable = failure_text(
            run(defs, "forecasts_backfill_job", instance, partition_key=ORIGIN)
        )
    assert "cannot be read" not in unreachable
    assert "The MLflow tracking server http://forecaster:***@127.0.0.1:" in unreachable
    assert "(MLFLOW_TRACKING_URI) is unreachable" in unreachable
    assert "no forecast was written" in unreachable
    assert "No 'champion' version" not in unreachable
    assert "pw-never-shown" not in unreachable
