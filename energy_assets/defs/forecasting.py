"""`forecasts`: for partition hour H, the champion's predictions for H+1 … H+24 for every series."""

import dagster as dg

from energy_assets import metadata_keys as meta
from energy_assets.contracts import (
    FEATURES,
    FORECAST_HISTORY_HOURS,
    FORECASTS,
    WEATHER_LOOKBACK_HOURS,
    hour_text,
)
from energy_assets.defs import keys
from energy_assets.defs.checks import gx_check_specs, validated_output
from energy_assets.defs.errors import services_reachable
from energy_assets.defs.io_manager import ALLOW_MISSING_PARTITIONS, PARTITION_COLUMN
from energy_assets.defs.metadata import chart, frame_metadata
from energy_assets.defs.partitions import FRESHNESS, Partitions, lookback_mapping
from energy_assets.defs.resources import GreatExpectationsResource, MlflowResource, StorageResource
from energy_assets.sources import SourceSpec

FORECASTS_CHECK = "forecasts_gx_suite"
# A single-run backfill copies the output's metadata to every partition it writes: a chart
# (~60 KB) is drawn for runs of up to a day of origins, not for a year's backfill.
MAX_CHART_ORIGINS = 24


class ForecastsConfig(dg.Config):
    """charts: draw the newest origin's paths against the last days of actuals (the UI's
    forecast_chart); off for benchmarks that compare the hourly path with and without it."""

    charts: bool = True


def forecast_chart_metadata(
    context: dg.AssetExecutionContext, predictions, history
) -> dict[str, dg.MetadataValue]:
    """The forecast chart; a chart that cannot be drawn is logged, never a failed forecast."""
    from energy_assets.reporting.charts import forecast_chart

    try:
        png = forecast_chart(predictions, history)
    except Exception as error:  # the forecasts matter more than their picture
        context.log.warning(f"forecast_chart not drawn: {error!r}")
        return {"forecast_chart": dg.MetadataValue.text(f"not drawn: {error}")}
    return {
        "forecast_chart": chart(
            png, "24-hour forecasts with 80% intervals after the last 3 days of actuals"
        )
    }


def build_forecasting_assets(
    partitions: Partitions, spec: SourceSpec | None = None
) -> list[dg.AssetsDefinition]:
    """`forecasts`; `spec`: the dataset whose series catalogue says which series are expected
    (each gets a forecast every hour: the model's, or a labelled fallback). None: the series
    the features hold."""

    @dg.asset(
        key=keys.FORECASTS,
        partitions_def=partitions.hourly,
        backfill_policy=partitions.backfill,
        group_name="forecasting",
        kinds={"lightgbm", "parquet"},
        metadata={PARTITION_COLUMN: FORECASTS.time_column},
        ins={
            "consumption_features": dg.AssetIn(
                key=keys.CONSUMPTION_FEATURES,
                partition_mapping=lookback_mapping(FORECAST_HISTORY_HOURS - 1),
                metadata={ALLOW_MISSING_PARTITIONS: True},
            ),
            # The forecasts issued at each origin and the observations the weather inputs read
            # before it (WEATHER_LOOKBACK_HOURS); used
            # only if the champion chose its weather model, and never required: a missing hour
            # means that origin is forecast without weather (the metadata says so).
            "weather": dg.AssetIn(
                key=keys.WEATHER,
                partition_mapping=lookback_mapping(WEATHER_LOOKBACK_HOURS - 1),
                metadata={ALLOW_MISSING_PARTITIONS: True},
            ),
        },
        deps=[keys.FORECASTING_MODEL],
        check_specs=gx_check_specs(
            FORECASTS.name, FORECASTS_CHECK, blocking=True, partitions_def=partitions.hourly
        ),
        # The hourly schedule publishes a new origin every hour at :05 (retries up to ~35 min
        # later): no update for 2 h is a missed deadline (the daemon evaluates it; alerts fire).
        freshness_policy=FRESHNESS["forecasts"],
        description=(
            "24-hour-ahead forecasts: for partition hour H (the forecast_origin), predictions for "
            "H+1 … H+24 for every series from the `champion` model, using only features up to H, "
            "with an 80% prediction interval and the model version. The newest origin is also "
            "copied to `forecasts/latest/data.parquet` for consumers."
        ),
    )
    def forecasts(
        context: dg.AssetExecutionContext,
        config: ForecastsConfig,
        consumption_features,
        weather,
        mlflow: MlflowResource,
        storage: StorageResource,
        gx: GreatExpectationsResource,
    ):
        import pandas as pd

        from energy_assets.forecasting import publish
        from energy_assets.forecasting.fallback import fallback_series
        from energy_assets.training.model_store import load_champion
        from energy_assets.validation.suites import validate_forecasts

        window = context.partition_time_window
        origins = pd.date_range(window.start, window.end, freq="h", inclusive="left", tz="UTC")
        if consumption_features.empty:
            # Lag windows may reach before the first stored hour, so missing hours load as
            # nothing: with no hour at all, the features were never materialised here.
            raise dg.Failure(
                description=(
                    "Cannot forecast: no consumption_features are stored for the "
                    f"{FORECAST_HISTORY_HOURS} hours up to {hour_text(origins[-1])}. Materialise "
                    "raw_consumption and consumption_features for those hours first (job "
                    "ingestion_backfill_job), then forecasting_model, then retry."
                )
            )
        problems = publish.origin_coverage_problems(consumption_features, origins)
        if problems:
            raise dg.Failure(
                description=(
                    "Cannot forecast: consumption_features is missing at the origin for "
                    + "; ".join(problems[:5])
                    + ". Materialise those hours (their blocking checks must pass) and retry."
                )
            )
        # Loaded once per run however many origins the backfill covers. An MLflow that does
        # not answer is named as such, never reported as "no champion".
        with services_reachable(
            mlflow.tracking_uri, then="retry this run; no forecast was written."
        ):
            forecaster, model_version = load_champion(mlflow.settings())
        expected: frozenset[tuple[str, str]] = frozenset()
        if spec is not None:
            from energy_assets.monitoring.series_catalogue import load_catalogue

            expected = load_catalogue(storage.store(), spec).expected
        # Every expected series at every origin: the model's forecast where it can serve, a
        # labelled fallback (forecasting/fallback.py) where it cannot.
        predictions = publish.forecast_origins(
            consumption_features,
            origins,
            forecaster,
            model_version,
            weather=weather if len(weather) else None,
            expected=expected,
        )
        weather_status = dict(predictions.attrs.get("weather", {}))
        fallbacks = dict(predictions.attrs.get("fallbacks", {}))
        fallback_named = fallback_series(predictions)
        unforecastable = list(predictions.attrs.get("unforecastable", []))
        if fallback_named:
            context.log.warning(
                f"{len(fallback_named)} series served by the fallback (weekly profile) at some "
                "origin: "
                + "; ".join(f"{name} ({why})" for name, why in list(fallback_named.items())[:10])
            )
        if unforecastable:
            context.log.warning(
                f"{len(unforecastable)} (series, origin) pairs have no value at all to forecast "
                "from and got no row: "
                + ", ".join(f"{a}/{s} at {hour_text(o)}" for (a, s), o in unforecastable[:10])
            )
        outcome = validate_forecasts(
            predictions, horizon_hours=forecaster.horizon_hours, validator=gx.validator()
        )
        metadata = frame_metadata(predictions, FORECASTS.time_column, FORECASTS.series_columns)
        metadata.update(
            {
                meta.MODEL_VERSION.name: str(model_version),
                "origins": len(origins),
                "history_hours_loaded": int(consumption_features[FEATURES.time_column].nunique()),
                meta.FALLBACK_SERIES.name: len(fallback_named),
                "fallback_rows": int((predictions["quality"] == "fallback").sum()),
                "unforecastable": len(unforecastable),
                meta.WEATHER_USED.name: bool(weather_status.get("weather_used", False)),
                meta.WEATHER_REASON.name: str(
                    weather_status.get("reason", "weather used for every origin")
                ),
            }
        )
        if fallback_named:
            metadata["fallback_reasons"] = dg.MetadataValue.json(fallbacks)
            metadata["fallback_series_named"] = dg.MetadataValue.json(
                dict(list(fallback_named.items())[:50])
            )
        if outcome.success:
            latest_uri = publish.publish_latest(storage.store(), predictions)
            if latest_uri:
                metadata["latest_forecast"] = dg.MetadataValue.path(latest_uri)
            if config.charts and len(origins) <= MAX_CHART_ORIGINS:
                metadata.update(forecast_chart_metadata(context, predictions, consumption_features))
        yield from validated_output(
            predictions,
            outcome,
            FORECASTS_CHECK,
            FORECASTS.name,
            metadata,
            blocking=True,
            context=context,
        )

    return [forecasts]
