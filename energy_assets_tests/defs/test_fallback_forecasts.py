"""A series whose last two days vanish from the source still gets its hourly forecast: the
labelled fallback, with the reason, counted by an alert; the other series' forecasts are the
model's, unchanged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from dagster import DagsterInstance

from energy_assets.defs import build_definitions
from energy_assets.devtools import BUNDLED_DATA_PATHS
from energy_assets.ingestion.files import read_api_frame
from energy_assets.settings import Settings
from energy_assets.sources import CONSUMPTION_CONSUMER_CATEGORY_HOUR as CCH
from energy_assets.storage.parquet_store import ParquetStore
from energy_assets_tests.defs.test_alerts import Daemon, alerts  # noqa: F401 (fixture)
from energy_assets_tests.defs.test_pipeline import latest_metadata, run_job

GONE = ("DK1", "Region Nordjylland / Privat")
ORIGIN = "2023-01-13-05:00"
GONE_FROM = pd.Timestamp("2023-01-11 06:00")  # the 48 hours up to the origin


def without_last_two_days(tmp_path) -> str:
    frame = read_api_frame(BUNDLED_DATA_PATHS[CCH.dataset], CCH)
    gone = (
        (frame["RegionName"] == "Region Nordjylland")
        & (frame["ConsumerCategory3"] == "Privat")
        & (frame["TimeUTC"] >= GONE_FROM)
    )
    assert gone.sum() > 0
    path = tmp_path / "gone.parquet"
    frame[~gone].to_parquet(path)
    return str(path)


def settings_for(server, tmp_path, monkeypatch, tracking_uri: str) -> Settings:
    monkeypatch.setenv("ENERGIDATA_DATASET", CCH.dataset)
    monkeypatch.setenv("ENERGIDATA_API_URL", server.url)
    monkeypatch.setenv("ENERGY_STORAGE_URL", str(tmp_path / "storage"))
    monkeypatch.setenv("ENERGY_OPTUNA_STORAGE", f"sqlite:///{tmp_path / 'optuna.db'}")
    return Settings.from_env().with_overrides(mlflow_tracking_uri=tracking_uri)


@pytest.mark.slow
def test_a_series_without_its_last_two_days_gets_a_labelled_counted_fallback(
    tmp_path,
    monkeypatch,
    replay_server,
    alerts,  # noqa: F811 (the fixture imported above)
    webhook_receiver,
    mlflow_store,
):
    tracking_uri = mlflow_store(CCH.dataset).tracking_uri  # a copy of the migrated empty store
    full = replay_server(str(BUNDLED_DATA_PATHS[CCH.dataset]), dataset=CCH.dataset)
    defs = build_definitions(settings_for(full, tmp_path, monkeypatch, tracking_uri))
    store = ParquetStore(str(tmp_path / "storage"))
    with DagsterInstance.ephemeral() as instance:
        run_job(defs, "ingestion_backfill_job", instance, tags={
            "dagster/asset_partition_range_start": "2023-01-01-00:00",
            "dagster/asset_partition_range_end": ORIGIN})  # fmt: skip
        config = {
            "training_end": "2023-01-12T23:00:00+00:00",
            "n_trials": 1,
            "n_folds": 1,
            "backtest_days": 2,
            "fixed_params": {"num_boost_round": 40, "max_train_rows": 20_000},
        }
        run_job(defs, "retrain_job", instance,
                run_config={"ops": {"forecasting_model": {"config": config}}})  # fmt: skip
        run_job(defs, "forecasts_backfill_job", instance, partition_key=ORIGIN)
        before = store.read("forecasts", ORIGIN)
        assert set(before["quality"]) == {"model"} and before["quality_reason"].isna().all()
        assert latest_metadata(instance, "forecasts")["fallback_series"] == 0

        # The source loses the series' last two days; those hours are ingested again.
        gone = replay_server(without_last_two_days(tmp_path), dataset=CCH.dataset)
        defs = build_definitions(settings_for(gone, tmp_path, monkeypatch, tracking_uri))
        run_job(defs, "ingestion_backfill_job", instance, tags={
            "dagster/asset_partition_range_start": GONE_FROM.strftime("%Y-%m-%d-%H:00"),
            "dagster/asset_partition_range_end": ORIGIN})  # fmt: skip
        assert GONE not in set(
            map(tuple, store.read("consumption_features", ORIGIN)[["area", "segment"]].to_numpy())
        )
        daemon = Daemon(instance, alerts)
        daemon.tick()  # the sensors start from now
        run_job(defs, "forecasts_backfill_job", instance, partition_key=ORIGIN)
        after = store.read("forecasts", ORIGIN)
        assert latest_metadata(instance, "forecasts")["fallback_series"] == 1
        daemon.tick()

    # Still every series, 24 hours each; the vanished one labelled, with its reason.
    assert len(after) == len(before) == 15 * 24
    key = ["area", "segment", "horizon_hours"]
    after = after.sort_values(key).reset_index(drop=True)
    before = before.sort_values(key).reset_index(drop=True)
    is_gone = (after["area"] == GONE[0]) & (after["segment"] == GONE[1])
    fallback = after[is_gone]
    assert set(fallback["quality"]) == {"fallback"}
    assert set(fallback["model_used"]) == {"weekly_profile"}
    reasons = set(fallback["quality_reason"])
    assert len(reasons) == 1 and reasons.pop().startswith(
        "no recent data: the newest value is 2023-01-11T05:00Z"
    )
    assert (fallback["p10"] < fallback["prediction"]).all()
    assert (fallback["prediction"] < fallback["p90"]).all()
    # A real forecast: near what the model made from the full data (within the fallback's band).
    ratio = fallback["prediction"].to_numpy() / before[is_gone]["prediction"].to_numpy()
    assert 0.7 < float(np.median(ratio)) < 1.3
    # The other series: the model's forecast, unchanged.
    others = after[~is_gone]
    assert set(others["quality"]) == {"model"}
    pd.testing.assert_frame_equal(
        others.drop(columns=["quality_reason"]),
        before[~is_gone].drop(columns=["quality_reason"]),
    )
    # Metadata and the alert count it.
    (payload,) = [p for p in webhook_receiver.accepted() if p["alert"]["kind"] == "fallback_served"]
    assert payload["alert"]["details"]["fallback series"] == "1"
    assert "no recent data: 1" in payload["alert"]["details"]["reasons"]
    assert f"{GONE[0]}/{GONE[1]}" in payload["alert"]["details"]["series"]
