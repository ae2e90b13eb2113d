"""`consumption_features`: clean, typed rows plus the per-hour features, from a window of raw hours."""

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    BackfillPolicy,
    asset,
)

from energy_assets.features.engineering import LOOKBACK_HOURS, build_features, clean_consumption
from energy_assets.ingestion.assets import frame_metadata
from energy_assets.partitions import hourly_partitions, lookback_mapping
from energy_assets.validation.asset_checks import gx_check_specs, validated_output
from energy_assets.validation.suites import validate_consumption_features

FEATURES_CHECK = "consumption_features_gx_suite"


@asset(
    partitions_def=hourly_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    group_name="features",
    kinds={"polars", "parquet"},
    metadata={"partition_column": "datetime_utc"},
    ins={
        "raw_consumption": AssetIn(
            # Lags and rolling windows reach a week back; hours before the first
            # materialised one simply give NaN lags.
            partition_mapping=lookback_mapping(LOOKBACK_HOURS),
            metadata={"allow_missing_partitions": True},
        )
    },
    check_specs=gx_check_specs("consumption_features", FEATURES_CHECK, blocking=True),
    description=(
        "Typed, cleaned rows (datetime_utc, area, consumer_type, energy_consumption in kWh) plus "
        "calendar and Danish holiday features and lag / rolling statistics (1 h, 24 h, 168 h) "
        "computed from the week of raw hours before each partition. Blocking checks: bad data "
        "never reaches a forecast."
    ),
)
def consumption_features(context: AssetExecutionContext, raw_consumption: pd.DataFrame):
    window = context.partition_time_window
    start, end = pd.Timestamp(window.start), pd.Timestamp(window.end)
    history = clean_consumption(raw_consumption)
    features = build_features(history, start, end)
    outcome = validate_consumption_features(features, expected_hours=(start, end))
    metadata = frame_metadata(features, "datetime_utc", ["area", "consumer_type"])
    metadata["history_hours_loaded"] = int(history["datetime_utc"].nunique())
    yield from validated_output(
        features, outcome, FEATURES_CHECK, "consumption_features", metadata, blocking=True
    )
