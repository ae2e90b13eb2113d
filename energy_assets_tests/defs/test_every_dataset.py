"""Every stage on every source spec: with ENERGIDATA_DATASET set to each dataset and the replay API
serving that dataset's bundled file in its own columns, a backfill → training → forecasts → accuracy
runs end to end and the forecasts carry exactly that dataset's series.

Small windows (two weeks of hours, one trial, small trees): this is about the wiring for 1 to 294
series with string segments, not accuracy (test_pipeline covers DE35 in depth).
"""

from __future__ import annotations

import pandas as pd
import pytest
from dagster import DagsterInstance

from energy_assets.cli import main
from energy_assets.defs import build_definitions
from energy_assets.devtools import BUNDLED_DATA_PATHS
from energy_assets.features.engineering import read_consumption_file
from energy_assets.forecasting.read import forecasts_from_json
from energy_assets.settings import Settings
from energy_assets.sources import spec_for
from energy_assets.storage.parquet_store import ParquetStore
from energy_assets_tests.defs.test_pipeline import latest_metadata, run_job

# (first hour, last hour, training end, forecast origin, accuracy day) inside each file.
DE35_WINDOW = (
    "2023-01-01-00:00",
    "2023-01-15-23:00",
    "2023-01-13T23:00:00+00:00",
    "2023-01-14-05:00",
    "2023-01-14",
)
WINDOWS = {
    "ConsumptionDE35Hour": DE35_WINDOW,
    "ConsumptionConsumerCategoryHour": DE35_WINDOW,
    "ConsumptionIndustry": DE35_WINDOW,
    "ProductionConsumptionSettlement": (
        "2024-11-20-00:00", "2024-12-04-23:00", "2024-12-02T23:00:00+00:00", "2024-12-03-05:00", "2024-12-03",
    ),
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("dataset", list(WINDOWS))
def test_backfill_train_forecast_score_on(
    dataset, tmp_path, monkeypatch, replay_server, capsys, mlflow_store
):
    spec = spec_for(dataset)
    path = BUNDLED_DATA_PATHS[dataset]
    first, last, training_end, origin, day = WINDOWS[dataset]
    server = replay_server(path, dataset=dataset)
    monkeypatch.setenv("ENERGIDATA_DATASET", dataset)
    monkeypatch.setenv("ENERGIDATA_API_URL", server.url)
    monkeypatch.setenv("ENERGY_STORAGE_URL", str(tmp_path / "storage"))
    monkeypatch.setenv("ENERGY_OPTUNA_STORAGE", f"sqlite:///{tmp_path / 'optuna.db'}")
    settings = Settings.from_env().with_overrides(
        mlflow_tracking_uri=mlflow_store(dataset).tracking_uri
    )
    assert settings.source is spec
    expected = read_consumption_file(path, spec)[["area", "segment"]].drop_duplicates()
    series = set(map(tuple, expected.to_numpy()))
    defs = build_definitions(settings)
    store = ParquetStore(str(tmp_path / "storage"))
    with DagsterInstance.ephemeral() as instance:
        backfill = run_job(
            defs,
            "ingestion_backfill_job",
            instance,
            tags={
                "dagster/asset_partition_range_start": first,
                "dagster/asset_partition_range_end": last,
            },
        )
        failed = {c.check_name: c for c in backfill.get_asset_check_evaluations() if not c.passed}
        if dataset == "ProductionConsumptionSettlement":
            # The bundled file is DK2's alone: the catalogue check warns, naming DK1's series.
            warning = failed.pop("series_catalogue")
            assert warning.metadata["missing"].value == {"DK1/total": 360}
        assert not failed, [(name, c.metadata) for name, c in failed.items()]
        features = store.read("consumption_features", origin)
        assert set(map(tuple, features[["area", "segment"]].to_numpy())) == series

        model_config = {
            "training_end": training_end,
            "n_trials": 1,
            "n_folds": 1,
            "backtest_days": 2,
            "fixed_params": {"num_boost_round": 40, "max_train_rows": 20_000},
        }
        run_job(
            defs,
            "retrain_job",
            instance,
            run_config={"ops": {"forecasting_model": {"config": model_config}}},
        )
        assert latest_metadata(instance, "forecasting_model")["champion"] is True

        run_job(defs, "forecasts_backfill_job", instance, partition_key=origin)
        forecast = store.read("forecasts", origin)
        assert set(map(tuple, forecast[["area", "segment"]].drop_duplicates().to_numpy())) == series
        assert len(forecast) == len(series) * 24 and forecast["segment"].map(type).eq(str).all()
        origin_time = f"{origin[:10]}T{origin[11:]}Z"
        assert forecast["forecast_origin"].eq(pd.Timestamp(origin_time)).all()

        # Read back through the CLI by one of the dataset's segments ("101 / Erhverv", "total").
        area, segment = sorted(series)[-1]
        capsys.readouterr()
        assert main(["forecasts", "--origin", origin_time, "--area", area, "--segment", segment,
                     "--format", "json"]) == 0  # fmt: skip
        rows = forecasts_from_json(capsys.readouterr().out)
        assert len(rows) == 24 and set(rows["segment"]) == {segment}

        run_job(defs, "daily_monitoring_job", instance, partition_key=day)
        accuracy = latest_metadata(instance, "forecast_accuracy")
        assert 0 < accuracy["scored_share"] <= 1 and accuracy["mape"] < 0.5
        assert 0 <= accuracy["interval_coverage"] <= 1
