"""A corrected raw hour reaches what read it: re-materialising one raw_consumption hour by hand
(the UI's Materialize, after the source fixed a value) makes `correction_sensor` submit one
backfill of the following 168 hours' features, the forecasts whose window holds the hour and
the day's accuracy; run as the daemon would, the lags and forecasts see the corrected value.

Real replay API, storage in tmp_path, an ephemeral instance, a small real champion (the
revision pass's test fixtures)."""

from __future__ import annotations

import pandas as pd
import pytest
from dagster import AssetMaterialization, DagsterInstance, build_sensor_context

from energy_assets import metadata_keys as meta
from energy_assets.defs import build_definitions, keys
from energy_assets.defs.corrections import CORRECTION_TAG, build_correction_sensor
from energy_assets.defs.metadata import content_hash
from energy_assets.defs.partitions import Partitions
from energy_assets.settings import Settings
from energy_assets.storage.parquet_store import ParquetStore
from energy_assets_tests.defs.test_revisions import (  # noqa: F401 (champion is a fixture)
    DAY,
    ORIGINS,
    RAW_RANGE,
    REVISED,
    champion,
    range_tags,
    run,
)


def tick(defs, instance, cursor):
    sensor = defs.get_sensor_def("correction_sensor")
    result = sensor.evaluate_tick(build_sensor_context(instance=instance, cursor=cursor))
    return result.cursor


@pytest.mark.slow
def test_a_hand_corrected_raw_hour_refreshes_what_read_it(
    tmp_path,
    monkeypatch,
    replay_server,
    shared_slice,
    champion,  # noqa: F811 (the fixture imported above)
):
    server = replay_server(shared_slice.copy())
    monkeypatch.setenv("ENERGIDATA_API_URL", server.url)
    monkeypatch.setenv("ENERGY_STORAGE_URL", str(tmp_path / "storage"))
    defs = build_definitions(
        Settings.from_env().with_overrides(mlflow_tracking_uri=champion.tracking_uri)
    )
    store = ParquetStore(str(tmp_path / "storage"))
    with DagsterInstance.ephemeral() as instance:
        cursor = tick(defs, instance, None)  # starts from now
        run(defs, "ingestion_backfill_job", instance, tags=range_tags(*RAW_RANGE))
        run(defs, "forecasts_backfill_job", instance, tags=range_tags(*ORIGINS))
        monitoring = {"asset_selection": [keys.FORECAST_ACCURACY], "partition_key": DAY}
        run(defs, "daily_monitoring_job", instance, **monitoring)
        cursor = tick(defs, instance, cursor)
        assert not instance.get_backfills()  # first materialisations are no correction
        forecasts_before = {
            key: store.read("forecasts", key)
            for key in ("2023-01-07-12:00", "2023-01-07-23:00", "2023-01-07-11:00")
        }

        # A person re-materialises the hour with nothing changed at the source: the records
        # stored are the same, so nothing is refreshed.
        hour = REVISED.strftime("%Y-%m-%d-%H:00")
        run(defs, "ingestion_backfill_job", instance, partition_key=hour,
            asset_selection=[keys.RAW_CONSUMPTION])  # fmt: skip
        cursor = tick(defs, instance, cursor)
        assert not instance.get_backfills()

        # The source fixes one value; a person re-materialises that raw hour only.
        served = server.data.copy()
        hit = (
            (served["HourUTC"] == REVISED)
            & (served["PriceArea"] == "DK1")
            & (served["ConsumerType_DE35"] == 111)
        )
        before = float(served.loc[hit, "TotalCon"].iloc[0])
        served.loc[hit, "TotalCon"] = before * 1.25
        server.set_data(served)
        run(defs, "ingestion_backfill_job", instance, partition_key=hour,
            asset_selection=[keys.RAW_CONSUMPTION])  # fmt: skip

        # Nobody names the rest: the sensor's next tick submits one backfill of it.
        cursor = tick(defs, instance, cursor)
        (backfill,) = instance.get_backfills()
        assert backfill.tags[CORRECTION_TAG] == hour
        target = backfill.asset_backfill_data.target_subset
        planned = {
            key.to_user_string(): sorted(target.get_partitions_subset(key).get_partition_keys())
            for key in target.asset_keys
        }
        assert "raw_consumption" not in planned  # already corrected
        features = planned["consumption_features"]  # the hour and the stored ones after it
        assert (features[0], features[-1], len(features)) == (hour, "2023-01-09-23:00", 60)
        forecasts = planned["forecasts"]  # the stored origins whose window holds the hour
        assert (forecasts[0], forecasts[-1], len(forecasts)) == (hour, "2023-01-07-23:00", 12)
        assert planned["forecast_accuracy"] == [DAY]
        # The next tick: nothing new, no second backfill.
        cursor = tick(defs, instance, cursor)
        assert len(instance.get_backfills()) == 1

        # What the backfill daemon runs (tagged as the backfill's runs are): features, forecasts.
        tags = {CORRECTION_TAG: hour}
        run(defs, "ingestion_backfill_job", instance, asset_selection=[keys.CONSUMPTION_FEATURES],
            tags={**tags, **range_tags(features[0], features[-1])})  # fmt: skip
        run(defs, "forecasts_backfill_job", instance,
            tags={**tags, **range_tags(forecasts[0], forecasts[-1])})  # fmt: skip
        # Runs of the correction's own backfill are no new correction.
        cursor = tick(defs, instance, cursor)
        assert len(instance.get_backfills()) == 1

    def features_value(at: pd.Timestamp, column: str) -> float:
        frame = store.read("consumption_features", at.strftime("%Y-%m-%d-%H:00"))
        row = (frame["area"] == "DK1") & (frame["segment"] == "111")
        return float(frame.loc[row, column].iloc[0])

    corrected = features_value(REVISED, "energy_consumption")
    assert corrected == pytest.approx(before * 1.25)
    for lag in (1, 24):  # the following hours' lags see the corrected value
        assert features_value(REVISED + pd.Timedelta(hours=lag), f"lag_{lag}h") == corrected
    # A forecast that read the hour changed (DK1/111); one made before it did not.
    changed = store.read("forecasts", "2023-01-07-12:00")
    assert not changed.equals(forecasts_before["2023-01-07-12:00"])
    pd.testing.assert_frame_equal(
        store.read("forecasts", "2023-01-07-11:00"), forecasts_before["2023-01-07-11:00"]
    )


def test_content_hash_is_the_records_not_their_types_or_order(tmp_path, shared_slice):
    hour = shared_slice[shared_slice["HourUTC"] == REVISED].reset_index(drop=True)
    store = ParquetStore(str(tmp_path))
    store.write("raw_consumption", "2023-01-07-12:00", hour)
    stored = store.read("raw_consumption", "2023-01-07-12:00")
    assert content_hash(stored) == content_hash(hour.iloc[::-1])  # as stored, reordered
    changed = hour.copy()
    changed.loc[0, "TotalCon"] = changed.loc[0, "TotalCon"] * 1.25
    assert content_hash(changed) != content_hash(hour)


def test_an_unchanged_raw_hour_submits_nothing_and_a_changed_one_a_backfill(tmp_path, monkeypatch):
    """The sensor against a real instance: materialisations reported as a run would record them
    (the hash of the records written and of those replaced); only a real change refreshes."""
    monkeypatch.setenv("ENERGY_STORAGE_URL", str(tmp_path / "storage"))
    sensor = build_correction_sensor(Partitions.from_settings(Settings.from_env()))
    hour, later = "2023-01-07-12:00", "2023-01-07-13:00"

    def tick(cursor):
        context = build_sensor_context(instance=instance, cursor=cursor)
        return sensor.evaluate_tick(context).cursor

    def raw(written: str, replaced: str | None = None) -> None:
        metadata = {meta.CONTENT_HASH.name: written}
        if replaced is not None:
            metadata[meta.REPLACED_CONTENT_HASH.name] = replaced
        instance.report_runless_asset_event(
            AssetMaterialization(keys.RAW_CONSUMPTION, partition=hour, metadata=metadata)
        )

    with DagsterInstance.ephemeral() as instance:
        cursor = tick(None)
        raw("a")  # first materialisation, and the features that read it
        for key in (hour, later):
            instance.report_runless_asset_event(
                AssetMaterialization(keys.CONSUMPTION_FEATURES, partition=key)
            )
        cursor = tick(cursor)
        raw("a", replaced="a")  # re-run, same records
        cursor = tick(cursor)
        assert not instance.get_backfills()
        raw("b", replaced="a")  # the value changed
        cursor = tick(cursor)
        (backfill,) = instance.get_backfills()
        target = backfill.asset_backfill_data.target_subset
        features = target.get_partitions_subset(keys.CONSUMPTION_FEATURES).get_partition_keys()
        assert sorted(features) == [hour, later]
