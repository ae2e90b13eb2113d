"""The whole asset graph, end to end, on real components: replay API, local / GCS storage, MLflow.

One fast pass (marked slow: ~1 min) over the bundled real slice: a one-run backfill of raw and
features, training with a tiny Optuna budget, a day of forecasts (read back through
`energy-assets forecasts`), accuracy and drift, each with its charts.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance

from energy_assets.cli import main
from energy_assets.defs import build_definitions
from energy_assets.devtools import SAMPLE_DATA_PATH
from energy_assets.forecasting.read import forecasts_from_json
from energy_assets.reporting.charts import png_size
from energy_assets.settings import Settings
from energy_assets.storage.parquet_store import ParquetStore
from energy_assets.training.tracking import MlflowSettings
from energy_assets_tests.helpers import exists

SLICE = SAMPLE_DATA_PATH
RANGE = ("2022-12-21-16:00", "2023-01-17-22:00")
RANGE_TAGS = {
    "dagster/asset_partition_range_start": RANGE[0],
    "dagster/asset_partition_range_end": RANGE[1],
}


def run_job(defs, name, instance, **kwargs):
    result = defs.resolve_job_def(name).execute_in_process(
        instance=instance, raise_on_error=False, **kwargs
    )
    if not result.success:
        failures = [e.message for e in result.all_events if e.is_failure]
        pytest.fail(f"{name} failed: {failures}")
    return result


def latest_metadata(instance, asset: str) -> dict:
    event = instance.get_latest_materialization_event(AssetKey(asset))
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def chart_size(markdown: str) -> tuple[int, int]:
    """The pixel size of the PNG a markdown metadata value embeds."""
    prefix = "](data:image/png;base64,"
    assert markdown.startswith("![") and prefix in markdown, markdown[:80]
    return png_size(base64.b64decode(markdown.split(prefix, 1)[1].rstrip(")")))


@pytest.fixture
def platform_env(tmp_path, monkeypatch, replay_server):
    server = replay_server(SLICE)
    monkeypatch.setenv("ENERGIDATA_API_URL", server.url)
    monkeypatch.setenv("ENERGY_STORAGE_URL", str(tmp_path / "storage"))
    monkeypatch.setenv("ENERGY_OPTUNA_STORAGE", f"sqlite:///{tmp_path / 'optuna.db'}")
    # MLflow's own process-wide default points elsewhere: the store must reach the assets
    # through the settings (as in the demo), never through the environment.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "not-the-store").as_uri())
    return server


@pytest.mark.slow
def test_whole_graph_on_the_real_slice(platform_env, tmp_path, capsys, mlflow_store):
    server = platform_env
    # A copy of the migrated empty store at tmp_path/mlflow.db (alembic once per session).
    settings = Settings.from_env().with_overrides(
        mlflow_tracking_uri=mlflow_store("pipeline").tracking_uri
    )
    defs = build_definitions(settings)
    with DagsterInstance.ephemeral() as instance:
        before = server.request_count
        backfill = run_job(defs, "ingestion_backfill_job", instance, tags=RANGE_TAGS)
        # One run, a few paged requests, 655 hourly objects per asset.
        assert server.request_count - before <= 3
        store = ParquetStore(str(tmp_path / "storage"))
        assert exists(store, "raw_consumption", "2023-01-01-00:00")
        features = store.read("consumption_features", "2023-01-10-12:00")
        assert len(features) == 76 and features["lag_168h"].notna().all()
        checks = backfill.get_asset_check_evaluations()
        assert checks and all(c.passed for c in checks)
        # A range run's metadata (copied by Dagster onto each partition) describes the run and
        # carries no preview; a one-partition run's shows that partition's first rows.
        for asset in ("raw_consumption", "consumption_features"):
            ranged = latest_metadata(instance, asset)
            assert ranged["partitions_written"] == 655 and "preview" not in ranged, asset
            assert ranged["rows"] == 76 * 655, asset
            assert ranged["uri"] == str(tmp_path / "storage" / asset) + "/", asset
            hours = (ranged["first_hour_utc"], ranged["last_hour_utc"])
            assert [pd.Timestamp(h).tz_localize(None) for h in hours] == [
                pd.Timestamp("2022-12-21 16:00"),
                pd.Timestamp("2023-01-17 22:00"),
            ], asset
        run_job(defs, "ingestion_backfill_job", instance, partition_key="2023-01-10-12:00")
        for asset in ("raw_consumption", "consumption_features"):
            single = latest_metadata(instance, asset)
            assert single["partitions_written"] == 1 and single["rows"] == 76, asset
            assert single["series"] == 76 and single["uri"].endswith("hour=12/data.parquet"), asset
            assert single["first_hour_utc"] == single["last_hour_utc"], asset
            assert single["preview"].count("\n") == 11, asset  # header, rule, 10 rows

        # A tuning worker that fails (LightGBM refuses num_leaves=1) fails the run and ends the
        # session's parent MLflow run as FAILED instead of leaving it RUNNING.
        broken = defs.resolve_job_def("retrain_job").execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={
                "ops": {
                    "forecasting_model": {
                        "config": {
                            "training_end": "2023-01-15T23:00:00+00:00",
                            "n_trials": 1,
                            "n_folds": 1,
                            "backtest_days": 2,
                            "fixed_params": {"num_leaves": 1, "max_train_rows": 5_000},
                        }
                    }
                }
            },
        )
        assert not broken.success
        tracking = MlflowSettings(f"sqlite:///{tmp_path / 'mlflow.db'}")
        runs = tracking.client().search_runs(
            [tracking.experiment_id()], filter_string=f"tags.dagster_run_id = '{broken.run_id}'"
        )
        (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
        assert parent.info.status == "FAILED"

        model_config = {
            "training_end": "2023-01-15T23:00:00+00:00",
            # One trial (the demo's budget): of the default two tuning workers, only one starts.
            "n_trials": 1,
            "n_folds": 1,
            "backtest_days": 2,
            # Small trees: this test is about the wiring, test_backtest about accuracy.
            "fixed_params": {"num_boost_round": 80, "max_train_rows": 40_000},
        }
        run_job(
            defs,
            "retrain_job",
            instance,
            run_config={"ops": {"forecasting_model": {"config": model_config}}},
        )
        model = latest_metadata(instance, "forecasting_model")
        assert model["champion"] is True
        assert model["tuning_workers"] == 1 and model["trials_run"] == 1
        assert model["backtest_mape"] < model["seasonal_naive_168_mape"]
        for key in ("backtest_chart", "feature_importance_chart", "optimisation_history_chart"):
            assert chart_size(model[key])[0] >= 600, key
        # The same charts are artifacts of the tuning session's MLflow run.
        run_id = re.search(r"MLflow run (\w+)", str(model["mlflow_run"])).group(1)
        tracking = MlflowSettings(f"sqlite:///{tmp_path / 'mlflow.db'}")
        logged = {a.path for a in tracking.client().list_artifacts(run_id, "charts")}
        assert logged == {
            "charts/backtest_chart.png",
            "charts/feature_importance_chart.png",
            "charts/optimisation_history_chart.png",
        }

        origins = {
            "dagster/asset_partition_range_start": "2023-01-16-00:00",
            "dagster/asset_partition_range_end": "2023-01-16-23:00",
        }
        run_job(defs, "forecasts_backfill_job", instance, tags=origins)
        forecast = store.read("forecasts", "2023-01-16-05:00")
        assert len(forecast) == 76 * 24
        assert (forecast["forecast_origin"] == pd.Timestamp("2023-01-16 05:00", tz="UTC")).all()
        assert forecast["datetime_utc"].min() == pd.Timestamp("2023-01-16 06:00", tz="UTC")
        assert forecast["model_version"].eq(str(model["model_version"])).all()
        forecasts_metadata = latest_metadata(instance, "forecasts")
        assert chart_size(forecasts_metadata["forecast_chart"]) == (900, 330)
        # No weather materialised (an outage, or never set up): the forecasts still came out,
        # and say that weather was not used and why.
        assert forecasts_metadata["weather_used"] is False
        assert forecasts_metadata["weather_reason"]

        # What the asset wrote, read back through the CLI as another program would.
        capsys.readouterr()
        assert main(["forecasts", "--origin", "2023-01-16T05:00Z", "--format", "json"]) == 0
        from_cli = forecasts_from_json(capsys.readouterr().out)
        order = ["area", "segment", "horizon_hours"]
        pd.testing.assert_frame_equal(
            from_cli, forecast.sort_values(order).reset_index(drop=True), check_exact=True
        )
        assert main(["forecasts", "--format", "json"]) == 0  # latest: the day's last origin
        latest = json.loads(capsys.readouterr().out)
        assert {row["forecast_origin"] for row in latest} == {"2023-01-16T23:00:00Z"}

        run_job(defs, "daily_monitoring_job", instance, partition_key="2023-01-16")
        accuracy = latest_metadata(instance, "forecast_accuracy")
        # Actuals end 2023-01-17T22:00, so the last origins' final hour is not scored yet.
        assert 0 < accuracy["scored_share"] < 1
        assert accuracy["mape"] < 0.2
        assert chart_size(accuracy["horizon_error_chart"]) == (700, 300)
        # The band is scored: a share of actuals inside p10..p90, and a pinball loss.
        assert 0.5 < accuracy["interval_coverage"] <= 1
        assert 0 < accuracy["pinball"] < 0.2
        assert chart_size(accuracy["horizon_coverage_chart"]) == (700, 300)
        # The field's metrics beside ours: rMAE / rCRPS of the P99 - P1 range, skill vs lag 168.
        assert 0 < accuracy["rcrps"] < accuracy["rmae"] < 0.5 and accuracy["skill"] < 1
        assert "rcrps" in accuracy["field_metrics_by_lead_time"]
        drift = latest_metadata(instance, "drift_report")
        assert 0 <= drift["drift_share"] <= 1
        assert chart_size(drift["drift_chart"])[0] == 700
        # The link is a URL a browser opens (the reports server), never a local path.
        assert drift["report"] == ("http://127.0.0.1:3001/drift_report/date=2023-01-16/report.html")
        report = Path(drift["report_object"])
        assert report.exists() and "drift" in report.read_text().lower()
        # What the model consumes, in its own section: its numerical inputs for the day's origins.
        assert 0 <= drift["model_input_drift_share"] <= 1
        assert "ratio_same_hour_7d" in drift["model_input_scores"]
        assert drift["model_input_report"].endswith(
            "/drift_report/date=2023-01-16/model_inputs.html"
        )
