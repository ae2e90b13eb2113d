"""The model store: registration tags, the champion promotion rule both ways, and a champion that
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

from energy_assets import metrics
from energy_assets.contracts import CHAMPION_ALIAS, REGISTERED_MODEL_NAME, utc
from energy_assets.devtools import SAMPLE_DATA_PATH
from energy_assets.features.engineering import clean_consumption
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35
from energy_assets.training import model_store
from energy_assets.training.backtest import refit_evaluator
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


def holdout_evaluator(consumption: pd.DataFrame, origins, horizon_hours: int = 24):
    """Score any fitted forecaster on one fixed window: forecast from each origin with the
    history up to it and compare with the actuals (pooled MAPE, lower is better)."""
    origin_list = [utc(o) for o in origins]
    actuals = consumption.rename(columns={"energy_consumption": "actual"})

    def evaluate(forecaster: GlobalLGBMForecaster) -> float:
        history = consumption[consumption["datetime_utc"] <= max(origin_list)]
        predictions = forecaster.predict(history, origins=origin_list)
        predictions = predictions[predictions["horizon_hours"] <= horizon_hours]
        joined = predictions.merge(actuals, on=["datetime_utc", "area", "segment"])
        return float(metrics.score(joined, "prediction")["mape"])

    return evaluate


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


def test_promotion_rule_moves_champion_only_for_a_better_model(
    tracking, consumption, window, strong, weak
):
    evaluate = holdout_evaluator(consumption, window[1])

    weak_v1 = model_store.register(weak, tracking)
    first = model_store.promote_if_better(tracking, weak_v1, evaluate, candidate=weak)
    assert first.promoted and first.champion_version == "1" and first.champion_score is None
    assert "first champion" in first.reason

    strong_v2 = model_store.register(strong, tracking)
    better = model_store.promote_if_better(tracking, strong_v2, evaluate)
    assert better.promoted and better.champion_version == "2"
    assert better.candidate_score < better.champion_score
    assert "beat champion version 1" in better.reason

    weak_v3 = model_store.register(weak, tracking)
    worse = model_store.promote_if_better(
        tracking,
        weak_v3,
        candidate_score=evaluate(weak),
        evaluate_champion=evaluate,
        window="the 2 days after the cutoff",
        window_start=window[1][0],
    )
    assert not worse.promoted and worse.champion_version == "2"
    assert worse.candidate_score > worse.champion_score
    assert "is worse than champion version 2 on the 2 days after the cutoff" in worse.reason
    assert "stays version 2" in worse.reason

    # Scoring configurations instead (refit on the same cutoff) ranks them the same way.
    refit = refit_evaluator(consumption, window[1][0], window[1])
    assert refit(strong) < refit(weak)

    # Same model again: a tie keeps the incumbent.
    strong_v4 = model_store.register(strong, tracking)
    tie = model_store.promote_if_better(tracking, strong_v4, evaluate)
    assert not tie.promoted and "ties" in tie.reason

    info = model_store.champion_info(tracking)
    assert info is not None and info.version == "2" and info.run_id == strong_v2.run_id
    assert info.training_end == strong.training_end.isoformat()
    stored = tracking.client().get_model_version(REGISTERED_MODEL_NAME, "3")
    assert stored.tags["promotion.promoted"] == "false"
    assert stored.tags["promotion.reason"] == worse.reason


def test_a_tie_promotes_only_the_champions_configuration_retrained_on_newer_data(
    tracking, consumption, window, strong
):
    """Scored by configuration, a retrain with the champion's params ties it by construction;
    the tie goes to the model that saw newer hours, never to an older or different one."""
    cutoff, origins = window[1][0], window[1]
    by_configuration = refit_evaluator(consumption, cutoff, origins)

    v1 = model_store.register(strong, tracking)
    model_store.promote_if_better(tracking, v1, by_configuration, candidate=strong)

    newer_data = consumption[consumption["datetime_utc"] <= cutoff + pd.Timedelta(hours=24)]
    refreshed = GlobalLGBMForecaster(strong.params).fit(newer_data)
    v2 = model_store.register(refreshed, tracking)
    decision = model_store.promote_if_better(
        tracking,
        v2,
        candidate_score=by_configuration(refreshed),
        evaluate_champion=by_configuration,
        candidate=refreshed,
    )
    assert decision.candidate_score == decision.champion_score
    assert decision.promoted and decision.champion_version == "2"
    assert "same configuration" in decision.reason and "refreshed" in decision.reason

    # The old model again (same params, older data): a plain tie, the champion stays.
    v3 = model_store.register(strong, tracking)
    stale = model_store.promote_if_better(tracking, v3, by_configuration, candidate=strong)
    assert stale.candidate_score == stale.champion_score
    assert not stale.promoted and stale.champion_version == "2" and "ties" in stale.reason


def test_champion_from_a_fresh_process_predicts_the_same_numbers(
    tracking, consumption, window, strong, tmp_path, monkeypatch
):
    version = model_store.register(strong, tracking)
    model_store.promote_if_better(
        tracking,
        version,
        holdout_evaluator(consumption, window[1]),
        candidate=strong,
    )
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
    model_store.promote_if_better(
        tracking, version, candidate_score=0.07, evaluate_champion=lambda f: 1.0, candidate=strong
    )
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    loaded, loaded_version = model_store.load_champion(tracking)

    assert loaded_version == version.version
    assert loaded.feature_names == strong.feature_names
    assert not (elsewhere / "mlflow.db").exists() and not (elsewhere / "mlruns").exists()
