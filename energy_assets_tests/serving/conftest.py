"""Stored data for the API tests: a few forecast origins, a week of actuals and a scored day,
written through the project's ParquetStore into a local folder or a bucket of the GCS emulator."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pandas as pd
import pytest

from energy_assets.storage.parquet_store import ParquetStore
from energy_assets_tests.serving import stored

SERIES = stored.series_list(6)
ORIGINS = [pd.Timestamp("2026-11-20 04:00", tz="UTC"), pd.Timestamp("2026-11-20 05:00", tz="UTC")]
ACTUAL_HOURS = pd.date_range("2026-11-13", "2026-11-21 06:00", freq="h", tz="UTC")
SCORED_DAY = "2026-11-19"


@dataclass
class Stored:
    store: ParquetStore
    forecasts: dict[pd.Timestamp, pd.DataFrame]


def fill(store: ParquetStore) -> Stored:
    forecasts = stored.write_forecasts(store, ORIGINS, SERIES)
    stored.write_actuals(store, ACTUAL_HOURS, SERIES)
    stored.write_accuracy(store, SCORED_DAY, SERIES)
    return Stored(store, forecasts)


@pytest.fixture
def local_store(tmp_path) -> Stored:
    return fill(ParquetStore(str(tmp_path / "storage")))


@pytest.fixture(params=["local", "gcs"])
def any_store(request, tmp_path) -> Stored:
    """The same stored data in a local folder and in a bucket of the GCS emulator (real client)."""
    if request.param == "local":
        return fill(ParquetStore(str(tmp_path / "storage")))
    emulator = request.getfixturevalue("gcs_emulator")
    bucket = emulator.make_bucket(f"api-{uuid.uuid4().hex[:10]}")
    return fill(ParquetStore(f"gs://{bucket.name}/platform", gcs_client=emulator.client()))


def client_for(store: ParquetStore, **config):
    from fastapi.testclient import TestClient

    from energy_assets.serving.app import ServeConfig, create_app

    app = create_app(ServeConfig(store=store, dataset="ConsumptionDE35Hour", **config))
    return TestClient(app, raise_server_exceptions=False)
