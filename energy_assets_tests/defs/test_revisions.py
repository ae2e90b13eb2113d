"""The revision pass against the replay API: one hour revised at the source is found, and raw, the
features whose lags reach it, the forecasts made from it and the day's accuracy are redone.

Real replay API on 127.0.0.1, storage in tmp_path, an ephemeral Dagster instance, a small real
champion in a sqlite MLflow store. The pass submits an asset backfill (run by the backfill daemon
in a deployment); here its target partitions are executed in dependency order with the jobs the
daemon would run them with. Marked slow: ~20 s of CPU (a small model, 11 days of hours, 24 origins).
"""

from __future__ import annotations

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance

from energy_assets.contracts import CHAMPION_ALIAS, REGISTERED_MODEL_NAME
from energy_assets.defs import build_definitions, keys
from energy_assets.defs.revisions import REVISION_JOB, REVISION_PASS_TAG
from energy_assets.features.engineering import clean_consumption
from energy_assets.settings import Settings
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35
from energy_assets.storage.parquet_store import ParquetStore
from energy_assets.training import model_store
from energy_assets.training.forecaster import GlobalLGBMForecaster

RAW_RANGE = ("2022-12-30-00:00", "2023-01-09-23:00")
ORIGINS = ("2023-01-07-00:00", "2023-01-07-23:00")
DAY = "2023-01-07"
REVISED = pd.Timestamp("2023-01-07 12:00")
PASS_CONFIG = {"ops": {"find_revised_hours": {"config": {"end": "2023-01-10T00:00"}}}}


def range_tags(first: str, last: str) -> dict[str, str]:
    return {
        "dagster/asset_partition_range_start": first,
        "dagster/asset_partition_range_end": last,
    }


def run(defs, job: str, instance, **kwargs):
    result = defs.resolve_job_def(job).execute_in_process(
        instance=instance, raise_on_error=False, **kwargs
    )
    if not result.success:
        pytest.fail(f"{job} failed: {[e.message for e in result.all_events if e.is_failure]}")
    return result


def pass_metadata(result) -> dict:
    (event,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    return {k: v.value for k, v in event.step_output_data.metadata.items()}


def accuracy_mape(instance) -> float:
    event = instance.get_latest_materialization_event(AssetKey("forecast_accuracy"))
    return event.asset_materialization.metadata["mape"].value


@pytest.fixture
def champion(shared_slice, mlflow_store):
    """A small real champion trained on the hours before the forecast day."""
    tracking = mlflow_store("revisions")
    history = clean_consumption(shared_slice, DE35)
    history = history[history["datetime_utc"] < pd.Timestamp(DAY, tz="UTC")]
    forecaster = GlobalLGBMForecaster({"num_boost_round": 30, "max_train_rows": 20_000})
    version = model_store.register(forecaster.fit(history), tracking)
    client = tracking.client()
    client.set_registered_model_alias(REGISTERED_MODEL_NAME, CHAMPION_ALIAS, version.version)
    return tracking


@pytest.mark.slow
def test_a_revised_hour_is_found_and_everything_computed_from_it_is_redone(
    tmp_path, monkeypatch, replay_server, shared_slice, champion
):
    server = replay_server(shared_slice.copy())
    monkeypatch.setenv("ENERGIDATA_API_URL", server.url)
    monkeypatch.setenv("ENERGY_STORAGE_URL", str(tmp_path / "storage"))
    defs = build_definitions(
        Settings.from_env().with_overrides(mlflow_tracking_uri=champion.tracking_uri)
    )
    store = ParquetStore(str(tmp_path / "storage"))
    with DagsterInstance.ephemeral() as instance:
        run(defs, "ingestion_backfill_job", instance, tags=range_tags(*RAW_RANGE))
        run(defs, "forecasts_backfill_job", instance, tags=range_tags(*ORIGINS))
        monitoring = {"asset_selection": [keys.FORECAST_ACCURACY], "partition_key": DAY}
        run(defs, "daily_monitoring_job", instance, **monitoring)
        mape_before = accuracy_mape(instance)

        # The source corrects one value of one series at one hour.
        served = server.data.copy()
        hit = (
            (served["HourUTC"] == REVISED)
            & (served["PriceArea"] == "DK1")
            & (served["ConsumerType_DE35"] == 111)
        )
        assert hit.sum() == 1
        before = float(served.loc[hit, "TotalCon"].iloc[0])
        served.loc[hit, "TotalCon"] = before * 1.5
        server.set_data(served)

        requests_before = server.request_count
        found = run(defs, REVISION_JOB, instance, run_config=PASS_CONFIG)
        assert server.request_count - requests_before == 1  # one paged fetch of 14 days
        metadata = pass_metadata(found)
        assert metadata["window"] == "2022-12-27T00:00Z → 2023-01-10T00:00Z"
        assert metadata["hours_compared"] == 264  # the stored hours of the window
        assert metadata["revised_hours"] == 1 and metadata["changed_values"] == 1
        assert metadata["largest_change_hour"] == "2023-01-07T12:00Z"
        assert metadata["largest_change_series"] == "PriceArea=DK1, ConsumerType_DE35=111"
        assert metadata["largest_change_absolute"] == pytest.approx(before * 0.5)
        assert metadata["largest_change_relative"] == pytest.approx(0.5)

        # One backfill, of exactly what was computed from the revised hour and exists.
        (backfill,) = instance.get_backfills()
        assert backfill.tags[REVISION_PASS_TAG] == found.run_id
        target = backfill.asset_backfill_data.target_subset
        planned = {
            key.to_user_string(): sorted(target.get_partitions_subset(key).get_partition_keys())
            for key in target.asset_keys
        }
        assert found.output_for_node("find_revised_hours") == planned
        assert planned["raw_consumption"] == ["2023-01-07-12:00"]
        features = planned["consumption_features"]  # the hour and the stored ones after it
        assert (features[0], features[-1], len(features)) == (
            "2023-01-07-12:00",
            "2023-01-09-23:00",
            60,
        )
        forecasts = planned["forecasts"]  # the stored origins whose window holds the hour
        assert (forecasts[0], forecasts[-1], len(forecasts)) == (
            "2023-01-07-12:00",
            "2023-01-07-23:00",
            12,
        )
        assert planned["forecast_accuracy"] == [DAY]

        # What the backfill daemon runs, in its order: raw, features, forecasts, accuracy.
        ingestion = {"asset_selection": [keys.RAW_CONSUMPTION]}
        run(
            defs,
            "ingestion_backfill_job",
            instance,
            partition_key=planned["raw_consumption"][0],
            **ingestion,
        )
        run(
            defs,
            "ingestion_backfill_job",
            instance,
            asset_selection=[keys.CONSUMPTION_FEATURES],
            tags=range_tags(features[0], features[-1]),
        )
        run(defs, "forecasts_backfill_job", instance, tags=range_tags(forecasts[0], forecasts[-1]))
        run(defs, "daily_monitoring_job", instance, **monitoring)

        def stored_value(asset: str, hour: pd.Timestamp, column: str) -> float:
            frame = store.read(asset, hour.strftime("%Y-%m-%d-%H:00"))
            if asset == "raw_consumption":
                row = (frame["PriceArea"] == "DK1") & (frame["ConsumerType_DE35"] == 111)
            else:
                row = (frame["area"] == "DK1") & (frame["segment"] == "111")
            return float(frame.loc[row, column].iloc[0])

        assert stored_value("raw_consumption", REVISED, "TotalCon") == before * 1.5
        revised = stored_value("consumption_features", REVISED, "energy_consumption")
        assert revised == pytest.approx(before * 1.5)
        for lag in (1, 24):  # the following hours' lags see the corrected value
            later = REVISED + pd.Timedelta(hours=lag)
            assert stored_value("consumption_features", later, f"lag_{lag}h") == revised
        mape_after = accuracy_mape(instance)
        # The actual at 12:00 is now 50 % above what every earlier origin predicted for it.
        assert mape_after > mape_before

        # Nothing changed since: the next pass finds nothing and submits no backfill.
        again = pass_metadata(run(defs, REVISION_JOB, instance, run_config=PASS_CONFIG))
        assert again["revised_hours"] == 0 and "largest_change" not in again
        assert len(instance.get_backfills()) == 1


def test_a_window_end_that_is_not_a_time_fails_with_what_to_give(tmp_path, monkeypatch):
    monkeypatch.setenv("ENERGY_STORAGE_URL", str(tmp_path / "storage"))
    defs = build_definitions(Settings.from_env())
    config = {"ops": {"find_revised_hours": {"config": {"end": "last tuesday"}}}}
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def(REVISION_JOB).execute_in_process(
            instance=instance, run_config=config, raise_on_error=False
        )
        assert not result.success and not instance.get_backfills()
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "'last tuesday' is not a time" in failure.step_failure_data.error.message
    assert "2023-01-10T00:00" in failure.step_failure_data.error.message
