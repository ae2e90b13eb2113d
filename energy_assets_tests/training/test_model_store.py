"""The model store: registration tags, the champion and challenger aliases, and a champion that
predicts the same numbers after loading in a fresh process. Real sqlite MLflow store in tmp_path."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import mlflow
import mlflow.pyfunc
import pandas as pd
import pytest

from energy_assets.contracts import CHAMPION_ALIAS, REGISTERED_MODEL_NAME
from energy_assets.devtools import SAMPLE_DATA_PATH
from energy_assets.features.engineering import clean_consumption
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35
from energy_assets.training import model_store
from energy_assets.training.forecaster import GlobalLGBMForecaster
from energy_assets.training.tracking import MlflowSettings

DATA = str(SAMPLE_DATA_PATH)
FAST = {"num_boost_round": 40, "max_train_rows": 30_000}
# One tree at a tiny learning rate: about "tomorrow looks like the last day's level".
WEAK = {"num_boost_round": 1, "learning_rate": 0.001, "max_train_rows": 30_000}


@pytest.fixture(scope="module")
def consumption() -> pd.DataFrame:
    return clean_consumption(pd.read_csv(DATA), DE35)


@pytest.fixture(scope="module")
def window(consumption):
    """Train up to the cutoff; the backtest window is the two daily origins after it."""
    cutoff = consumption["datetime_utc"].max() - pd.Timedelta(hours=72)
    origins = [cutoff, cutoff + pd.Timedelta(hours=24)]
    return consumption[consumption["datetime_utc"] <= cutoff], origins


@pytest.fixture(scope="module")
def strong(window):
    return GlobalLGBMForecaster(FAST).fit(window[0])


@pytest.fixture(scope="module")
def weak(window):
    return GlobalLGBMForecaster(WEAK).fit(window[0])


@pytest.fixture
def tracking(mlflow_store) -> MlflowSettings:
    return mlflow_store("test_registry")


def test_registered_version_carries_window_metrics_and_code_version(tracking, strong, tmp_path):
    backtest_metrics = {"model": {"mape": 0.07, "wape": 0.09}, "seasonal_naive_168": {"mape": 0.1}}

    version = model_store.register(strong, tracking, backtest_metrics, code_version="abc123")

    assert version.version == "1" and str(version) == "1"
    stored = tracking.client().get_model_version(REGISTERED_MODEL_NAME, "1")
    assert stored.tags["training_start"] == strong.training_start.isoformat()
    assert stored.tags["training_end"] == strong.training_end.isoformat()
    assert stored.tags["code_version"] == "abc123"
    assert float(stored.tags["metric.model.mape"]) == pytest.approx(0.07)
    run = tracking.client().get_run(version.run_id)
    assert run.data.metrics["seasonal_naive_168.mape"] == pytest.approx(0.1)
    # Artifacts land beside the sqlite file, not in the working directory's ./mlruns.
    assert (tmp_path / "mlartifacts").is_dir()
    assert model_store.champion_info(tracking) is None


def test_aliases_point_at_the_champion_and_the_challenger(tracking, strong, weak):
    """Which versions serve is decided by promotion.decide (tested in test_promotion.py and,
    with real fits, test_steps.py); the store points the aliases and tags the versions."""
    assert model_store.current_champion(tracking) is None
    v1 = model_store.register(weak, tracking)
    v2 = model_store.register(strong, tracking)
    model_store.set_aliases(tracking, champion=v2.version, challenger=v1.version)
    model_store.tag_version(tracking, v1, {"promotion.role": "challenger"})

    loaded, version = model_store.current_champion(tracking)
    assert version == "2" and loaded.params == strong.params
    assert model_store.alias_version(tracking, "challenger") == "1"
    info = model_store.champion_info(tracking)
    assert info is not None and info.version == "2" and info.run_id == v2.run_id
    assert info.training_end == strong.training_end.isoformat()
    stored = tracking.client().get_model_version(REGISTERED_MODEL_NAME, "1")
    assert stored.tags["promotion.role"] == "challenger"
    # A champion alone leaves the challenger where it was.
    model_store.set_aliases(tracking, champion=v1.version)
    assert model_store.alias_version(tracking, "champion") == "1"
    assert model_store.alias_version(tracking, "challenger") == "1"


def test_champion_from_a_fresh_process_predicts_the_same_numbers(
    tracking, consumption, window, strong, tmp_path, monkeypatch
):
    version = model_store.register(strong, tracking)
    model_store.set_aliases(tracking, champion=version.version)
    origin = window[1][0]
    history = consumption[consumption["datetime_utc"] <= origin]
    history.to_parquet(tmp_path / "history.parquet")
    expected = strong.predict(history, origins=[origin])

    loaded, loaded_version = model_store.load_champion(tracking)
    assert loaded_version == version.version
    pd.testing.assert_frame_equal(loaded.predict(history, origins=[origin]), expected)
    # pyfunc input variant: origins listed in a forecast_origin column of the history. A serving
    # process finds the store through MLFLOW_TRACKING_URI, as `mlflow models serve` does.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking.tracking_uri)
    served_here = mlflow.pyfunc.load_model(version.model_uri).predict(
        history.assign(forecast_origin=origin)
    )
    pd.testing.assert_frame_equal(served_here, expected)

    script = textwrap.dedent(
        f"""
        import mlflow.pyfunc, pandas as pd
        model = mlflow.pyfunc.load_model("models:/{REGISTERED_MODEL_NAME}@{CHAMPION_ALIAS}")
        history = pd.read_parquet({str(tmp_path / "history.parquet")!r})
        out = model.predict(history, params={{"origin": {origin.isoformat()!r}}})
        out.to_parquet({str(tmp_path / "served.parquet")!r})
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "MLFLOW_TRACKING_URI": tracking.tracking_uri},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    served = pd.read_parquet(tmp_path / "served.parquet")
    pd.testing.assert_frame_equal(served, expected)


def test_champion_loads_from_its_own_store_whatever_the_process_wide_mlflow_uri(
    tracking, strong, window, tmp_path, monkeypatch
):
    # The CLI and the demo pass the store explicitly and set no MLFLOW_TRACKING_URI: loading
    # must not fall back to MLflow's default registry (./mlflow.db in the working directory).
    version = model_store.register(strong, tracking, {"model": {"mape": 0.07}})
    model_store.set_aliases(tracking, champion=version.version)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    loaded, loaded_version = model_store.load_champion(tracking)

    assert loaded_version == version.version
    assert loaded.feature_names == strong.feature_names
    assert not (elsewhere / "mlflow.db").exists() and not (elsewhere / "mlruns").exists()
