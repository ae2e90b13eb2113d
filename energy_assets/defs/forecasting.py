"""`forecasts`: for partition hour H, the champion's predictions for H+1 … H+24 for every series."""

import dagster as dg

from energy_assets.contracts import FEATURES, FORECAST_HISTORY_HOURS, FORECASTS
from energy_assets.defs import keys
from energy_assets.defs.checks import gx_check_specs, validated_output
from energy_assets.defs.io_manager import ALLOW_MISSING_PARTITIONS, PARTITION_COLUMN
from energy_assets.defs.metadata import frame_metadata
from energy_assets.defs.partitions import Partitions, lookback_mapping
from energy_assets.defs.resources import GreatExpectationsResource, MlflowResource, StorageResource

FORECASTS_CHECK = "forecasts_gx_suite"


def build_forecasting_assets(partitions: Partitions) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=keys.FORECASTS,
        partitions_def=partitions.hourly,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="forecasting",
        kinds={"lightgbm", "parquet"},
        metadata={PARTITION_COLUMN: FORECASTS.time_column},
        ins={
            "consumption_features": dg.AssetIn(
                key=keys.CONSUMPTION_FEATURES,
                partition_mapping=lookback_mapping(FORECAST_HISTORY_HOURS - 1),
                metadata={ALLOW_MISSING_PARTITIONS: True},
            )
        },
        deps=[keys.FORECASTING_MODEL],
        check_specs=gx_check_specs(FORECASTS.name, FORECASTS_CHECK, blocking=True),
        description=(
            "24-hour-ahead forecasts: for partition hour H (the forecast_origin), predictions for "
            "H+1 … H+24 for every series from the `champion` model, using only features up to H, "
            "with an 80% prediction interval and the model version. The newest origin is also "
            "copied to `forecasts/latest/data.parquet` for consumers."
        ),
    )
    def forecasts(
        context: dg.AssetExecutionContext,
        consumption_features,
        mlflow: MlflowResource,
        storage: StorageResource,
        gx: GreatExpectationsResource,
    ):
        import pandas as pd

        from energy_assets.forecasting import publish
        from energy_assets.training.model_store import load_champion
        from energy_assets.validation.suites import validate_forecasts

        window = context.partition_time_window
        origins = pd.date_range(window.start, window.end, freq="h", inclusive="left", tz="UTC")
        problems = publish.origin_coverage_problems(consumption_features, origins)
        if problems:
            raise dg.Failure(
                description=(
                    "Cannot forecast: consumption_features is missing at the origin for "
                    + "; ".join(problems[:5])
                    + ". Materialise those hours (their blocking checks must pass) and retry."
                )
            )
        # Loaded once per run however many origins the backfill covers.
        forecaster, model_version = load_champion(mlflow.settings())
        predictions = publish.forecast_origins(
            consumption_features, origins, forecaster, model_version
        )
        outcome = validate_forecasts(
            predictions, horizon_hours=forecaster.horizon_hours, validator=gx.validator()
        )
        metadata = frame_metadata(predictions, FORECASTS.time_column, FORECASTS.series_columns)
        metadata.update(
            {
                "model_version": str(model_version),
                "origins": len(origins),
                "history_hours_loaded": int(consumption_features[FEATURES.time_column].nunique()),
            }
        )
        if outcome.success:
            latest_uri = publish.publish_latest(storage.store(), predictions)
            if latest_uri:
                metadata["latest_forecast"] = dg.MetadataValue.path(latest_uri)
        yield from validated_output(
            predictions, outcome, FORECASTS_CHECK, FORECASTS.name, metadata, blocking=True
        )

    return [forecasts]
