"""The API over what the platform really writes: a small demo-like pass through the Dagster jobs
(backfill two weeks of the bundled DE35 slice from the replay API, the forecasts of one origin
from a small champion, that day's accuracy), then the API answers exactly the stored `forecasts`
partition for a series and origin, on the local folder and, copied object for object, on the GCS
emulator through the real client; the next origin's run leaves the first as it was issued.

The champion is fitted and registered directly (as test_revisions does): the API serves what the
forecasts asset wrote, whichever run trained the model; retrain_job is covered end to end by
defs/test_pipeline.py and defs/test_every_dataset.py (this same window and model size)."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest
from dagster import DagsterInstance

from energy_assets.contracts import CHAMPION_ALIAS, REGISTERED_MODEL_NAME
from energy_assets.defs import build_definitions, keys
from energy_assets.devtools import BUNDLED_DATA_PATHS
from energy_assets.features.engineering import read_consumption_file
from energy_assets.settings import Settings
from energy_assets.sources import spec_for
from energy_assets.storage.parquet_store import ParquetStore
from energy_assets_tests.defs.test_pipeline import run_job
from energy_assets_tests.serving.conftest import client_for

pytestmark = pytest.mark.slow

DATASET = "ConsumptionDE35Hour"
FIRST, LAST = "2023-01-01-00:00", "2023-01-15-23:00"
TRAINING_END = pd.Timestamp("2023-01-13T23:00:00+00:00")
ORIGIN, NEXT_ORIGIN, DAY = "2023-01-14-05:00", "2023-01-14-06:00", "2023-01-14"
QUICK_MODEL = {"num_boost_round": 40, "max_train_rows": 20_000}


def _register_champion(tracking) -> None:
    """A small model fitted on the hours up to TRAINING_END, registered as the champion."""
    from energy_assets.training import model_store
    from energy_assets.training.forecaster import GlobalLGBMForecaster

    history = read_consumption_file(BUNDLED_DATA_PATHS[DATASET], spec_for(DATASET))
    history = history[history["datetime_utc"] <= TRAINING_END]
    version = model_store.register(GlobalLGBMForecaster(QUICK_MODEL).fit(history), tracking)
    tracking.client().set_registered_model_alias(
        REGISTERED_MODEL_NAME, CHAMPION_ALIAS, version.version
    )


def _served(client, **params) -> pd.DataFrame:
    response = client.get("/v1/forecasts", params=params)
    assert response.status_code == 200, response.text
    return pd.DataFrame(response.json()["rows"])


def _check_exact(served: pd.DataFrame, written: pd.DataFrame, area: str, segment: str) -> None:
    want = written[(written["area"] == area) & (written["segment"] == segment)]
    want = want.sort_values("horizon_hours").reset_index(drop=True)
    assert len(served) == len(want) == 24
    assert pd.to_datetime(served["issued_at"], utc=True).eq(want["forecast_origin"]).all()
    assert pd.to_datetime(served["datetime_utc"], utc=True).eq(want["datetime_utc"]).all()
    assert served["lead_hours"].tolist() == want["horizon_hours"].tolist()
    for column in ("prediction", "p10", "p50", "p90"):
        assert served[column].tolist() == want[column].tolist(), column
    assert served["model_version"].tolist() == want["model_version"].astype(str).tolist()


def test_the_api_serves_what_the_platform_stored(
    tmp_path, monkeypatch, replay_server, gcs_emulator, mlflow_store
):
    server = replay_server(BUNDLED_DATA_PATHS[DATASET], dataset=DATASET)
    monkeypatch.setenv("ENERGIDATA_DATASET", DATASET)
    monkeypatch.setenv("ENERGIDATA_API_URL", server.url)
    monkeypatch.setenv("ENERGY_STORAGE_URL", str(tmp_path / "storage"))
    tracking = mlflow_store(DATASET)
    _register_champion(tracking)
    settings = Settings.from_env().with_overrides(mlflow_tracking_uri=tracking.tracking_uri)
    defs = build_definitions(settings)
    store = ParquetStore(str(tmp_path / "storage"))
    client = client_for(store, cache_seconds=0)
    with DagsterInstance.ephemeral() as instance:
        tags = {
            "dagster/asset_partition_range_start": FIRST,
            "dagster/asset_partition_range_end": LAST,
        }
        run_job(defs, "ingestion_backfill_job", instance, tags=tags)
        run_job(defs, "forecasts_backfill_job", instance, partition_key=ORIGIN)
        # The day's accuracy (what /v1/accuracy serves); the drift report is not served.
        run_job(defs, "daily_monitoring_job", instance,
                asset_selection=[keys.FORECAST_ACCURACY], partition_key=DAY)  # fmt: skip

        written = store.read("forecasts", ORIGIN)
        area, segment = sorted(zip(written["area"], written["segment"], strict=True))[-1]
        issued = f"{ORIGIN[:10]}T{ORIGIN[11:]}Z"
        first = _served(client, issued=issued, area=area, segment=segment)
        _check_exact(first, written, area, segment)
        latest = client.get("/v1/forecasts/latest", params={"area": area, "segment": segment})
        assert latest.json()["rows"] == first.to_dict("records")
        accuracy = client.get("/v1/accuracy", params={"from": DAY, "to": "2023-01-15"}).json()
        assert any(r["level"] == "series" and r["n_points"] > 0 for r in accuracy["rows"])

        # The next hour's forecast run: the first origin is still served as it was issued.
        run_job(defs, "forecasts_backfill_job", instance, partition_key=NEXT_ORIGIN)
        assert _served(client, issued=issued, area=area, segment=segment).equals(first)
        newest = client.get("/v1/forecasts/latest", params={"area": area, "segment": segment})
        assert newest.json()["rows"][0]["issued_at"] == "2023-01-14T06:00:00Z"

    # The same objects in a bucket of the GCS emulator, read through the real client.
    bucket = gcs_emulator.make_bucket(f"api-{uuid.uuid4().hex[:10]}")
    remote = ParquetStore(f"gs://{bucket.name}/platform", gcs_client=gcs_emulator.client())
    for key in (ORIGIN, NEXT_ORIGIN):
        relpath = store.relpath("forecasts", key)
        remote.write_bytes(relpath, store.read_bytes(relpath))
    relpath = store.relpath("forecasts/latest", None)
    remote.write_bytes(relpath, store.read_bytes(relpath))
    on_gcs = _served(client_for(remote), issued=issued, area=area, segment=segment)
    _check_exact(on_gcs, remote.read("forecasts", ORIGIN), area, segment)
    assert on_gcs.equals(first)
