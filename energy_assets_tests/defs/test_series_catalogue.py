"""The series catalogue: a retired and a new series are named by a warning check, never stop the
other series' features, forecasts or retraining, get labelled fallback forecasts while expected
or new, and `energy-assets series accept` records them (a retired series then stops being
forecast)."""

from __future__ import annotations

import pandas as pd
import pytest
from dagster import DagsterInstance

from energy_assets.cli import main
from energy_assets.defs import build_definitions
from energy_assets.devtools import BUNDLED_DATA_PATHS
from energy_assets.ingestion.files import read_api_frame
from energy_assets.monitoring.series_catalogue import (
    SeriesCatalogue,
    compare,
    load_catalogue,
    parse_series,
)
from energy_assets.settings import Settings
from energy_assets.sources import CONSUMPTION_CONSUMER_CATEGORY_HOUR as CCH
from energy_assets.storage.parquet_store import ParquetStore
from energy_assets_tests.defs.test_pipeline import latest_metadata, run_job

DATASET = CCH.dataset
RETIRED = ("DK1", "Region Nordjylland / Privat")
NEW = ("DK1", "Region Nordjylland / Landbrug")
CHANGE_HOUR = pd.Timestamp("2023-01-12 00:00")


def test_compare_names_missing_and_new_series():
    catalogue = SeriesCatalogue(DATASET, frozenset({("DK1", "a"), ("DK1", "b")}))
    hours = pd.date_range("2023-01-01", periods=2, freq="h", tz="UTC")
    frame = pd.DataFrame(
        {"datetime_utc": [hours[0], hours[0], hours[1], hours[1]],
         "area": ["DK1"] * 4, "segment": ["a", "b", "a", "c"]}
    )  # fmt: skip
    comparison = compare(frame, catalogue, "datetime_utc")
    assert comparison.missing == {("DK1", "b"): 1} and comparison.new == {("DK1", "c"): 1}
    text = comparison.summary(DATASET)
    assert "DK1/b (1/2 h)" in text and "--retire" in text and "DK1/c" in text and "--add" in text
    accepted = catalogue.accept(add=[("DK1", "c")], retire=[("DK1", "b")])
    assert compare(frame[frame["datetime_utc"] == hours[1]], accepted, "datetime_utc").ok
    assert parse_series("DK2/Region Hovedstaden / Privat") == ("DK2", "Region Hovedstaden / Privat")


def changed_series_file(tmp_path) -> str:
    """The derived ConsumerCategory file where one series stops and a new one starts at CHANGE_HOUR."""
    frame = read_api_frame(BUNDLED_DATA_PATHS[DATASET], CCH)
    is_retired = (frame["RegionName"] == "Region Nordjylland") & (
        frame["ConsumerCategory3"] == "Privat"
    )
    new = frame[is_retired & (frame["TimeUTC"] >= CHANGE_HOUR)].assign(ConsumerCategory3="Landbrug")
    frame = frame[~(is_retired & (frame["TimeUTC"] >= CHANGE_HOUR))]
    path = tmp_path / "changed.parquet"
    pd.concat([frame, new], ignore_index=True).to_parquet(path)
    return str(path)


@pytest.mark.slow
def test_a_retired_and_a_new_series_never_stop_the_others(
    tmp_path, monkeypatch, replay_server, capsys, mlflow_store
):
    server = replay_server(changed_series_file(tmp_path), dataset=DATASET)
    monkeypatch.setenv("ENERGIDATA_DATASET", DATASET)
    monkeypatch.setenv("ENERGIDATA_API_URL", server.url)
    monkeypatch.setenv("ENERGY_STORAGE_URL", str(tmp_path / "storage"))
    monkeypatch.setenv("ENERGY_OPTUNA_STORAGE", f"sqlite:///{tmp_path / 'optuna.db'}")
    settings = Settings.from_env().with_overrides(
        mlflow_tracking_uri=mlflow_store("series_catalogue").tracking_uri
    )
    defs = build_definitions(settings)
    store = ParquetStore(str(tmp_path / "storage"))
    with DagsterInstance.ephemeral() as instance:
        backfill = run_job(
            defs,
            "ingestion_backfill_job",
            instance,
            tags={
                "dagster/asset_partition_range_start": "2023-01-01-00:00",
                "dagster/asset_partition_range_end": "2023-01-14-23:00",
            },
        )
        checks = {c.check_name: c for c in backfill.get_asset_check_evaluations()}
        assert checks["consumption_features_gx_suite"].passed  # the blocking suite passes
        catalogue_check = checks["series_catalogue"]
        assert not catalogue_check.passed and catalogue_check.severity.value == "WARN"
        summary = catalogue_check.metadata["summary"].value
        # Missing from the last 72 of the run's 336 hours; new in those 72.
        assert "DK1/Region Nordjylland / Privat (72/336 h)" in summary and "--retire" in summary
        assert "DK1/Region Nordjylland / Landbrug (72/336 h)" in summary and "--add" in summary
        after = store.read("consumption_features", "2023-01-13-05:00")
        assert len(after) == 15 and NEW in set(map(tuple, after[["area", "segment"]].to_numpy()))

        # Retraining over a window where the series changed.
        config = {
            "training_end": "2023-01-12T23:00:00+00:00",
            "n_trials": 1,
            "n_folds": 1,
            "backtest_days": 2,
            "fixed_params": {"num_boost_round": 40, "max_train_rows": 20_000},
        }
        run_job(defs, "retrain_job", instance,
                run_config={"ops": {"forecasting_model": {"config": config}}})  # fmt: skip
        assert latest_metadata(instance, "forecasting_model")["champion"] is True

        # The hourly forecast after the change: every series still expected is published (the
        # vanished one as the labelled fallback until someone retires it), plus the new one.
        run_job(defs, "forecasts_backfill_job", instance, partition_key="2023-01-13-05:00")
        forecast = store.read("forecasts", "2023-01-13-05:00")
        forecast_series = set(
            map(tuple, forecast[["area", "segment"]].drop_duplicates().to_numpy())
        )
        assert RETIRED in forecast_series and NEW in forecast_series
        assert len(forecast_series) == 16 and len(forecast) == 16 * 24
        retired_rows = forecast[
            (forecast["area"] == RETIRED[0]) & (forecast["segment"] == RETIRED[1])
        ]
        assert set(retired_rows["quality"]) == {"fallback"}
        assert retired_rows["quality_reason"].str.startswith("no recent data").all()
        new_rows = forecast[(forecast["area"] == NEW[0]) & (forecast["segment"] == NEW[1])]
        # New since 2023-01-12 00:00: 30 hours of history, the model needs 8 days.
        assert set(new_rows["quality"]) == {"fallback"}
        assert new_rows["quality_reason"].str.startswith("new series without history").all()
        metadata = latest_metadata(instance, "forecasts")
        assert metadata["fallback_series"] == 2

        # Accept the change from the newest hour: the check passes on the next run.
        capsys.readouterr()
        assert main(["series", "accept", "--hour", "2023-01-14-23:00"]) == 0
        out = capsys.readouterr().out
        assert (
            "retired DK1/Region Nordjylland / Privat" in out
            and "added   DK1/Region Nordjylland / Landbrug" in out
        )
        catalogue = load_catalogue(store, CCH)
        assert RETIRED not in catalogue.expected and NEW in catalogue.expected
        again = run_job(defs, "ingestion_backfill_job", instance, partition_key="2023-01-14-12:00")
        checks = {c.check_name: c for c in again.get_asset_check_evaluations()}
        assert checks["series_catalogue"].passed
        # A retired series is no longer expected: the next forecast leaves it out.
        run_job(defs, "forecasts_backfill_job", instance, partition_key="2023-01-13-05:00")
        forecast = store.read("forecasts", "2023-01-13-05:00")
        assert RETIRED not in set(map(tuple, forecast[["area", "segment"]].to_numpy()))
        assert len(forecast) == 15 * 24
