"""GX suites as Dagster asset checks inside real runs: one check per single-run range, and a
failing blocking check writes nothing and stops downstream assets."""

import pandas as pd
from dagster import (
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    BackfillPolicy,
    HourlyPartitionsDefinition,
    asset,
    materialize,
)

from energy_assets.defs.checks import gx_check_specs, validated_output
from energy_assets.defs.io_manager import ParquetIOManager
from energy_assets.defs.resources import StorageResource
from energy_assets.devtools import SAMPLE_DATA_PATH
from energy_assets.validation.suites import validate_consumption_features
from energy_assets_tests.helpers import exists
from energy_assets_tests.validation.test_validation import to_clean

SLICE = str(SAMPLE_DATA_PATH)


parts = HourlyPartitionsDefinition(start_date="2022-12-21-16:00", timezone="UTC")
CORRUPT = {"on": False}


@asset(
    partitions_def=parts,
    backfill_policy=BackfillPolicy.single_run(),
    metadata={"partition_column": "datetime_utc"},
    check_specs=gx_check_specs("toy_features", "toy_features_gx", blocking=True),
)
def toy_features(context: AssetExecutionContext):
    window = context.partition_time_window
    start, end = pd.Timestamp(window.start), pd.Timestamp(window.end)
    raw = pd.read_csv(SLICE, parse_dates=["HourUTC", "HourDK"], nrows=76 * 30)
    clean = to_clean(raw)
    clean = clean[(clean["datetime_utc"] >= start) & (clean["datetime_utc"] < end)]
    if CORRUPT["on"]:
        clean.loc[clean.index[0], "energy_consumption"] = -5.0
    outcome = validate_consumption_features(clean, expected_hours=(start, end))
    yield from validated_output(
        clean.reset_index(drop=True), outcome, "toy_features_gx", "toy_features", {"n": len(clean)}
    )


@asset(
    partitions_def=parts,
    backfill_policy=BackfillPolicy.single_run(),
    metadata={"partition_column": "datetime_utc"},
    ins={"toy_features": AssetIn()},
)
def toy_forecasts(toy_features: pd.DataFrame) -> pd.DataFrame:
    return toy_features


def check_evaluations(result):
    return [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]


def test_blocking_check_passes_once_per_range_run(tmp_path):
    io = ParquetIOManager(storage=StorageResource(storage_url=str(tmp_path)))
    tags = {
        "dagster/asset_partition_range_start": "2022-12-21-16:00",
        "dagster/asset_partition_range_end": "2022-12-21-21:00",
    }
    result = materialize([toy_features, toy_forecasts], resources={"io_manager": io}, tags=tags)
    assert result.success
    evaluations = check_evaluations(result)
    assert len(evaluations) == 1 and evaluations[0].passed  # one check over the 6-hour range
    keys = [f"2022-12-21-{h}:00" for h in range(16, 22)]
    assert len(io.storage.store().read_many("toy_forecasts", keys)) == 6 * 76


def test_failing_blocking_check_writes_nothing_and_stops_downstream(tmp_path):
    io = ParquetIOManager(storage=StorageResource(storage_url=str(tmp_path)))
    CORRUPT["on"] = True
    try:
        result = materialize(
            [toy_features, toy_forecasts],
            resources={"io_manager": io},
            partition_key="2022-12-21-17:00",
            raise_on_error=False,
        )
    finally:
        CORRUPT["on"] = False
    assert not result.success
    (evaluation,) = check_evaluations(result)
    assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.ERROR
    preview = evaluation.metadata["failures"].value
    assert "expect_column_values_to_be_between" in preview and "-5.0" in preview
    failure = result.failure_data_for_node("toy_features")
    assert "expect_column_values_to_be_between(energy_consumption)" in str(
        failure.user_failure_data.description
    )
    assert not result.get_asset_materialization_events()
    assert not exists(io.storage.store(), "toy_features", "2022-12-21-17:00")
    assert not any(
        e.asset_key == AssetKey("toy_forecasts") for e in result.get_asset_materialization_events()
    )
