"""The retraining sensor against a real Dagster instance with real materialisation events."""

from __future__ import annotations

import json

from dagster import AssetKey, AssetMaterialization, DagsterInstance, build_sensor_context

from energy_assets.defs.sensors import build_retrain_sensor
from energy_assets.monitoring.retrain_policy import RetrainThresholds

THRESHOLDS = RetrainThresholds(max_drift_share=0.5, max_mape=0.15)


def record(instance, asset: str, partition: str, **metadata) -> None:
    instance.report_runless_asset_event(
        AssetMaterialization(asset_key=asset, partition=partition, metadata=metadata)
    )


def tick(instance, sensor, cursor=None):
    context = build_sensor_context(instance=instance, cursor=cursor)
    return sensor.evaluate_tick(context)


def test_drift_over_threshold_requests_exactly_one_run():
    sensor = build_retrain_sensor(THRESHOLDS)
    with DagsterInstance.ephemeral() as instance:
        record(instance, "drift_report", "2023-01-05", drift_share=0.8, dataset_drift=True)
        first = tick(instance, sensor)
        assert len(first.run_requests) == 1
        assert "2023-01-05" in first.run_requests[0].run_key
        # The same event is behind the cursor now: no second retrain.
        second = tick(instance, sensor, first.cursor)
        assert second.run_requests == []
        assert second.skip_message


def test_under_threshold_skips_with_a_reason():
    sensor = build_retrain_sensor(THRESHOLDS)
    with DagsterInstance.ephemeral() as instance:
        record(instance, "drift_report", "2023-01-05", drift_share=0.1, dataset_drift=False)
        record(instance, "forecast_accuracy", "2023-01-05", mape=0.04, wape=0.03, n_points=100)
        result = tick(instance, sensor)
        assert result.run_requests == []
        assert "2023-01-05" in result.skip_message
        cursor = json.loads(result.cursor)
        assert set(cursor) == {"drift", "accuracy"}


def test_every_event_since_the_cursor_is_seen_not_only_the_latest():
    sensor = build_retrain_sensor(THRESHOLDS)
    with DagsterInstance.ephemeral() as instance:
        record(instance, "drift_report", "2023-01-04", drift_share=0.1, dataset_drift=False)
        baseline = tick(instance, sensor)
        # Two partitions land between ticks; only the older of the two crosses the threshold.
        record(instance, "forecast_accuracy", "2023-01-05", mape=0.30, wape=0.2, n_points=100)
        record(instance, "forecast_accuracy", "2023-01-06", mape=0.05, wape=0.04, n_points=100)
        result = tick(instance, sensor, baseline.cursor)
        assert len(result.run_requests) == 1
        assert "2023-01-05" in result.run_requests[0].run_key
        # The cursor moves to the newest event seen, per watched asset.
        newest = instance.fetch_materializations(AssetKey("forecast_accuracy"), limit=1).records
        assert json.loads(result.cursor)["accuracy"] == newest[0].storage_id


def test_accuracy_events_without_actuals_do_not_trigger():
    sensor = build_retrain_sensor(THRESHOLDS)
    with DagsterInstance.ephemeral() as instance:
        record(instance, "forecast_accuracy", "2023-01-05", mape=float("nan"), n_points=0)
        result = tick(instance, sensor)
        assert result.run_requests == []


def test_a_coverage_breach_in_the_accuracy_metadata_requests_a_retrain():
    sensor = build_retrain_sensor(THRESHOLDS)
    with DagsterInstance.ephemeral() as instance:
        # Before the band was scored, `coverage` meant the share of points scored: 0.23 of a
        # young partition is no breach, and an old materialisation must not retrain.
        record(instance, "forecast_accuracy", "2023-01-04", mape=0.04, coverage=0.23)
        calm = tick(instance, sensor)
        assert calm.run_requests == []
        record(
            instance,
            "forecast_accuracy",
            "2023-01-05",
            mape=0.04,
            interval_coverage=0.52,
            scored_share=1.0,
        )
        result = tick(instance, sensor, calm.cursor)
        assert [r.run_key for r in result.run_requests] == ["retrain:accuracy:2023-01-05"]
        assert (
            "coverage 52% outside 65%–95%"
            in result.run_requests[0].tags["energy_assets/retrain_reason"]
        )
