"""`forecasts`: for partition hour H, the champion's predictions for H+1 … H+24 for every series."""

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    BackfillPolicy,
    Failure,
    MetadataValue,
    asset,
)

from energy_assets.features.engineering import CLEAN_COLUMNS
from energy_assets.ingestion.assets import frame_metadata
from energy_assets.partitions import hourly_partitions, lookback_mapping
from energy_assets.resources.storage import ParquetStorage
from energy_assets.resources.tracking import MlflowTracking
from energy_assets.training.registry import load_champion
from energy_assets.validation.asset_checks import gx_check_specs, validated_output
from energy_assets.validation.suites import validate_forecasts

FORECASTS_CHECK = "forecasts_gx_suite"
# The forecaster's longest lag is a week plus its rolling windows; two weeks of history is ample.
HISTORY_HOURS = 24 * 15
# Written as {storage}/forecasts/latest/data.parquet: what a web app reads.
LATEST_FORECAST_ASSET = "forecasts/latest"
LATEST_FORECAST_PATH = f"{LATEST_FORECAST_ASSET}/data.parquet"


def origin_coverage_problems(history: pd.DataFrame, origins: pd.DatetimeIndex) -> list[str]:
    """Origins whose own hour is missing for some series (not materialised, or blocked by a check)."""
    present = history.groupby("datetime_utc")[["area", "consumer_type"]].size()
    n_series = history[["area", "consumer_type"]].drop_duplicates().shape[0]
    problems = []
    for origin in origins:
        count = int(present.get(origin, 0))
        if count < n_series:
            problems.append(f"{origin:%Y-%m-%dT%H:%MZ} has {count}/{n_series} series")
    return problems


@asset(
    partitions_def=hourly_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    group_name="forecasting",
    kinds={"lightgbm", "parquet"},
    metadata={"partition_column": "forecast_origin"},
    ins={
        "consumption_features": AssetIn(
            partition_mapping=lookback_mapping(HISTORY_HOURS - 1),
            metadata={"allow_missing_partitions": True},
        )
    },
    deps=["forecasting_model"],
    check_specs=gx_check_specs("forecasts", FORECASTS_CHECK, blocking=True),
    description=(
        "24-hour-ahead forecasts: for partition hour H (the forecast_origin), predictions for "
        "H+1 … H+24 for every series from the `champion` model, using only features up to H, "
        "with an 80% prediction interval and the model version. The newest origin is also "
        f"copied to `{LATEST_FORECAST_PATH}` for consumers."
    ),
)
def forecasts(
    context: AssetExecutionContext,
    consumption_features: pd.DataFrame,
    mlflow: MlflowTracking,
    storage: ParquetStorage,
):
    window = context.partition_time_window
    origins = pd.date_range(window.start, window.end, freq="h", inclusive="left", tz="UTC")
    history = consumption_features[CLEAN_COLUMNS]
    problems = origin_coverage_problems(history, origins)
    if problems:
        raise Failure(
            description=(
                "Cannot forecast: consumption_features is missing at the origin for "
                + "; ".join(problems[:5])
                + ". Materialise those hours (their blocking checks must pass) and retry."
            )
        )
    # Loaded once per run however many origins the backfill covers.
    forecaster, model_version = load_champion(mlflow.settings())
    predictions = forecaster.predict(history, origins=list(origins))
    predictions["model_version"] = str(model_version)
    outcome = validate_forecasts(predictions, horizon_hours=forecaster.horizon_hours)
    metadata = frame_metadata(predictions, "forecast_origin", ["area", "consumer_type"])
    metadata.update(
        {
            "model_version": str(model_version),
            "origins": len(origins),
            "history_hours_loaded": int(history["datetime_utc"].nunique()),
        }
    )
    if outcome.success:
        latest_uri = publish_latest(storage, predictions)
        if latest_uri:
            metadata["latest_forecast"] = MetadataValue.path(latest_uri)
    yield from validated_output(
        predictions, outcome, FORECASTS_CHECK, "forecasts", metadata, blocking=True
    )


def publish_latest(storage: ParquetStorage, predictions: pd.DataFrame) -> str | None:
    """Copy the newest origin to a fixed path, unless a newer one is already there."""
    store = storage.store()
    newest_origin = predictions["forecast_origin"].max()
    newest = predictions[predictions["forecast_origin"] == newest_origin].reset_index(drop=True)
    try:
        current = store.read(LATEST_FORECAST_ASSET, None)
        if len(current) and current["forecast_origin"].max() > newest_origin:
            return None
    except FileNotFoundError:
        pass
    return store.write(LATEST_FORECAST_ASSET, None, newest)
