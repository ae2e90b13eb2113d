"""Shared fixtures: real servers on 127.0.0.1 (replay API, GCS emulator, dagster dev) and an isolated home."""

from __future__ import annotations

import importlib.util
import os

import pytest

# Fixture modules are pytest plugins, one per real component.
pytest_plugins = [
    name
    for name in (
        "energy_assets_tests.fixtures.replay",
        "energy_assets_tests.fixtures.gcs",
        "energy_assets_tests.fixtures.browser",
        "energy_assets_tests.fixtures.postgres",
        "energy_assets_tests.fixtures.mlflow_store",
        "energy_assets_tests.fixtures.alert_receivers",
    )
    if importlib.util.find_spec(name) is not None
]


@pytest.fixture(autouse=True)
def _isolated_dagster_home(tmp_path, monkeypatch):
    """Every test gets its own DAGSTER_HOME, storage folder and MLflow store unless it sets them."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for variable in ("ENERGY_STORAGE_URL", "MLFLOW_TRACKING_URI", "ENERGY_OPTUNA_STORAGE"):
        if variable in os.environ and not os.environ.get("ENERGY_KEEP_TEST_ENV"):
            monkeypatch.delenv(variable)
    yield home
