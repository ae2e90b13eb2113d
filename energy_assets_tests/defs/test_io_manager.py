"""ParquetIOManager with real `materialize()` runs: single partitions, single-run ranges, GCS."""

import dagster as dg
import pandas as pd
from dagster import AssetExecutionContext

from energy_assets.defs.io_manager import ParquetIOManager
from energy_assets.defs.resources import StorageResource
from energy_assets_tests.helpers import existing_keys

parts = dg.HourlyPartitionsDefinition(start_date="2023-01-01-00:00", timezone="UTC")
RANGE_TAGS = {
    "dagster/asset_partition_range_start": "2023-01-01-00:00",
    "dagster/asset_partition_range_end": "2023-01-01-05:00",
}
ROWS_PER_HOUR = {"n": 3}


@dg.asset(
    partitions_def=parts,
    backfill_policy=dg.BackfillPolicy.single_run(),
    metadata={"partition_column": "HourUTC"},
)
def hourly_source(context: AssetExecutionContext) -> pd.DataFrame:
    window = context.partition_time_window
    start = pd.Timestamp(window.start).tz_convert(None)
    end = pd.Timestamp(window.end).tz_convert(None)
    hours = pd.date_range(start, end, freq="h", inclusive="left")
    n = ROWS_PER_HOUR["n"]
    return pd.DataFrame({"HourUTC": hours.repeat(n), "value": range(n * len(hours))})


@dg.asset(
    partitions_def=parts,
    backfill_policy=dg.BackfillPolicy.single_run(),
    metadata={"partition_column": "datetime_utc"},
    ins={
        "hourly_source": dg.AssetIn(
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-2, allow_nonexistent_upstream_partitions=True
            ),
            metadata={"allow_missing_partitions": True},
        )
    },
)
def hourly_lagged(context: AssetExecutionContext, hourly_source: pd.DataFrame) -> pd.DataFrame:
    window = context.partition_time_window
    start = pd.Timestamp(window.start).tz_convert(None)
    rows = hourly_source[hourly_source["HourUTC"] >= start]
    context.add_output_metadata({"window_rows": len(hourly_source)})
    return pd.DataFrame(
        {"datetime_utc": rows["HourUTC"].dt.tz_localize("UTC"), "value": rows["value"]}
    )


def materialized_rows(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, int]:
    return {
        e.partition: e.materialization.metadata["rows"].value
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(asset)
    }


def test_single_run_range_writes_every_partition(tmp_path):
    io = ParquetIOManager(storage=StorageResource(storage_url=str(tmp_path)))
    result = dg.materialize(
        [hourly_source, hourly_lagged], resources={"io_manager": io}, tags=RANGE_TAGS
    )
    assert result.success
    store = io.storage.store()
    keys = [f"2023-01-01-{h:02d}:00" for h in range(6)]
    assert existing_keys(store, "hourly_source", keys) == keys
    assert existing_keys(store, "hourly_lagged", keys) == keys
    assert len(store.read("hourly_source", keys[2])) == 3
    lagged = store.read_many("hourly_lagged", keys)
    assert str(lagged["datetime_utc"].dtype) == "datetime64[ns, UTC]"
    assert len(lagged) == 18
    assert (tmp_path / "hourly_source/date=2023-01-01/hour=05/data.parquet").is_file()


def test_lag_window_skips_missing_partitions_and_rematerialise_replaces(tmp_path):
    io = ParquetIOManager(storage=StorageResource(storage_url=str(tmp_path)))
    first = dg.materialize(
        [hourly_source, hourly_lagged],
        resources={"io_manager": io},
        partition_key="2023-01-01-03:00",
    )
    assert first.success  # window 01:00..03:00, only 03:00 exists: missing ones are skipped
    window_rows = [
        e.materialization.metadata["window_rows"].value
        for e in first.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("hourly_lagged")
    ]
    assert window_rows == [3]
    ROWS_PER_HOUR["n"] = 1
    try:
        again = dg.materialize(
            [hourly_source], resources={"io_manager": io}, partition_key="2023-01-01-03:00"
        )
    finally:
        ROWS_PER_HOUR["n"] = 3
    assert again.success
    assert len(io.storage.store().read("hourly_source", "2023-01-01-03:00")) == 1


def test_missing_upstream_partition_fails_without_allow_missing(tmp_path):
    @dg.asset(
        partitions_def=parts,
        ins={
            "hourly_source": dg.AssetIn(
                partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1)
            )
        },
    )
    def strict(hourly_source: pd.DataFrame) -> None:
        return None

    io = ParquetIOManager(storage=StorageResource(storage_url=str(tmp_path)))
    dg.materialize([hourly_source], resources={"io_manager": io}, partition_key="2023-01-01-03:00")
    result = dg.materialize(
        [hourly_source, strict],
        resources={"io_manager": io},
        partition_key="2023-01-01-03:00",
        selection=[strict],
        raise_on_error=False,
    )
    assert not result.success
    failure = result.failure_data_for_node("strict")
    assert "hourly_source" in str(failure.error) and "2023-01-01-02:00" in str(failure.error)


def test_unpartitioned_assets_round_trip(tmp_path):
    @dg.asset
    def model_table() -> pd.DataFrame:
        return pd.DataFrame({"rows": [18]})

    @dg.asset
    def model_summary(model_table: pd.DataFrame) -> pd.DataFrame:
        return model_table.assign(doubled=model_table["rows"] * 2)

    io = ParquetIOManager(storage=StorageResource(storage_url=str(tmp_path)))
    assert dg.materialize([model_table, model_summary], resources={"io_manager": io}).success
    assert (tmp_path / "model_table/data.parquet").is_file()
    assert io.storage.store().read("model_summary", None)["doubled"].tolist() == [36]


def test_range_with_an_empty_hour_fails_and_writes_nothing(tmp_path):
    @dg.asset(
        name="gappy",
        partitions_def=parts,
        backfill_policy=dg.BackfillPolicy.single_run(),
        metadata={"partition_column": "HourUTC"},
    )
    def gappy() -> pd.DataFrame:
        return pd.DataFrame({"HourUTC": pd.to_datetime(["2023-01-01T00:00"]), "v": [1]})

    io = ParquetIOManager(storage=StorageResource(storage_url=str(tmp_path)))
    result = dg.materialize(
        [gappy], resources={"io_manager": io}, tags=RANGE_TAGS, raise_on_error=False
    )
    assert not result.success
    assert "5 of 6 partitions" in str(result.failure_data_for_node("gappy").error)
    assert not (tmp_path / "gappy").exists()


def test_single_run_range_into_gcs_emulator(gcs_emulator):
    bucket = gcs_emulator.make_bucket()
    io = ParquetIOManager(
        storage=StorageResource(storage_url=f"gs://{bucket.name}/prod", gcp_project="test")
    )
    result = dg.materialize(
        [hourly_source, hourly_lagged], resources={"io_manager": io}, tags=RANGE_TAGS
    )
    assert result.success
    names = {b.name for b in gcs_emulator.client().list_blobs(bucket.name)}
    assert "prod/hourly_source/date=2023-01-01/hour=04/data.parquet" in names
    assert len([n for n in names if n.startswith("prod/hourly_lagged/")]) == 6
    keys = [f"2023-01-01-{h:02d}:00" for h in range(6)]
    assert len(io.storage.store().read_many("hourly_lagged", keys)) == 18
    rows = materialized_rows(result, "hourly_source")
    assert set(rows.values()) == {18}  # the run's frame: 6 hours x 3 rows
    uri = next(
        e.materialization.metadata["uri"].value for e in result.get_asset_materialization_events()
    )
    assert uri.startswith(f"gs://{bucket.name}/prod/")
