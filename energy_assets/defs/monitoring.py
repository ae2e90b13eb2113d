"""`forecast_accuracy` and `drift_report`: the platform watching its own forecasts and inputs."""

from typing import Any

import dagster as dg

from energy_assets import metadata_keys as meta
from energy_assets.contracts import (
    CLEAN,
    CLEAN_COLUMNS,
    DRIFT_REPORT_ASSET,
    FEATURES,
    WEATHER,
    hour_text,
)
from energy_assets.defs import keys
from energy_assets.defs.errors import services_reachable
from energy_assets.defs.io_manager import ALLOW_MISSING_PARTITIONS
from energy_assets.defs.metadata import chart, markdown_table
from energy_assets.defs.partitions import FRESHNESS, Partitions, lookback_mapping
from energy_assets.defs.resources import MlflowResource, StorageResource


def _metric(value: Any) -> float:
    import math

    return float(value) if value is not None and math.isfinite(value) else float("nan")


def accuracy_numbers(overall: Any) -> dict[str, Any]:
    """The figures of `forecast_accuracy` that the retrain sensor and the demo read."""
    return {
        meta.MAPE.name: _metric(overall["mape"]),
        meta.WAPE.name: _metric(overall["wape"]),
        meta.N_POINTS.name: int(overall["n_points"]),
        meta.INTERVAL_COVERAGE.name: _metric(overall.get("coverage", float("nan"))),
        meta.PINBALL.name: _metric(overall.get("pinball", float("nan"))),
        meta.SCORED_SHARE.name: _metric(overall.get("scored_share", float("nan"))),
    }


def field_numbers(field_metrics: dict) -> dict[str, Any]:
    """The field's overall figures (OpenSTEF's units), shown beside MAPE: rMAE and rCRPS over
    each series' P99 - P1 range, skill = 1 - rCRPS / the lag-168 basecase's (read by no code,
    so literal keys, not metadata_keys)."""
    return {
        name: _metric(field_metrics.get(name, float("nan"))) for name in ("rmae", "rcrps", "skill")
    }


def drift_numbers(result: Any) -> dict[str, Any]:
    """The figures of `drift_report` that the retrain sensor and the demo read."""
    return {
        meta.DRIFT_SHARE.name: float(result.drift_share),
        meta.DATASET_DRIFT.name: bool(result.dataset_drift),
        meta.DRIFTED_COLUMNS.name: ", ".join(result.drifted_columns) or "none",
        meta.N_DRIFTED_COLUMNS.name: len(result.drifted_columns),
    }


def product_accuracy(storage: StorageResource, start: Any, end: Any) -> dict[str, Any]:
    """The forecast products issued in [start, end) scored by lead time once their actuals are
    published: `<product>_mape` / `_coverage` / `_points`, a per-lead and a per-quality
    (model / fallback) table (metadata only; the asset's value stays the `forecasts` accuracy
    table)."""
    import pandas as pd

    from energy_assets.contracts import (
        DAY_AHEAD_FORECASTS,
        INTRADAY_FORECASTS,
        PRODUCT_MAX_LEAD_HOURS,
        hour_keys,
    )
    from energy_assets.features.plausibility import without_implausible
    from energy_assets.monitoring.accuracy import score_product

    store = storage.store()
    day_keys = pd.date_range(start, end, freq="D", inclusive="left").strftime("%Y-%m-%d")
    issued = {
        DAY_AHEAD_FORECASTS.name: store.read_many(
            DAY_AHEAD_FORECASTS.name, list(day_keys), missing_ok=True
        ),
        INTRADAY_FORECASTS.name: store.read_many(
            INTRADAY_FORECASTS.name, hour_keys(start, end), missing_ok=True
        ),
    }
    if not any(len(frame) for frame in issued.values()):
        return {}
    last = end + pd.Timedelta(hours=PRODUCT_MAX_LEAD_HOURS + 24)
    actuals = store.read_many(FEATURES.name, hour_keys(start, last), missing_ok=True)
    if len(actuals) == 0:
        return {}
    actuals = without_implausible(actuals)[CLEAN_COLUMNS]
    metadata: dict[str, Any] = {}
    for name, vintages in issued.items():
        if len(vintages) == 0:
            continue
        result = score_product(vintages, actuals)
        overall = result.overall
        metadata[f"{name}_points"] = int(overall["n_points"])
        metadata[f"{name}_mape"] = _metric(overall["mape"])
        metadata[f"{name}_coverage"] = _metric(overall["coverage"])
        by_lead = result.per_horizon.rename(columns={"horizon_hours": "lead_hours"})
        metadata[f"{name}_by_lead"] = markdown_table(by_lead, empty="_no actuals yet_")
        # The model's rows and the labelled fallback's, apart (forecasting/fallback.py).
        metadata[f"{name}_by_quality"] = markdown_table(
            result.per_quality, empty="_no actuals yet_"
        )
    return metadata


def build_monitoring_assets(partitions: Partitions) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=keys.FORECAST_ACCURACY,
        partitions_def=partitions.daily,
        # Scored every morning at 06:30 UTC: no new score for 26 h warns, 30 h fails.
        freshness_policy=FRESHNESS["forecast_accuracy"],
        group_name="monitoring",
        kinds={"parquet"},
        ins={
            "forecasts": dg.AssetIn(
                key=keys.FORECASTS,
                partition_mapping=lookback_mapping(),
                metadata={ALLOW_MISSING_PARTITIONS: True},
            )
        },
        deps=[keys.CONSUMPTION_FEATURES],
        description=(
            "Accuracy of the forecasts made on the partition's day (origins 00:00–23:00 UTC) "
            "once the actuals are published: MAPE, WAPE, the p10–p90 band's coverage (share of "
            "actuals inside it, target 80%) and the pinball loss per series, per horizon and "
            "overall; scored_share is the share of forecast points that had an actual. "
            "Nothing to score yet is recorded as n_points = 0, not an error."
        ),
    )
    def forecast_accuracy(
        context: dg.AssetExecutionContext, forecasts, storage: StorageResource
    ) -> dg.Output:
        import pandas as pd

        from energy_assets.contracts import hour_keys
        from energy_assets.features.plausibility import without_implausible
        from energy_assets.monitoring.accuracy import accuracy_table, field_table, score_forecasts

        window = context.partition_time_window
        start, end = pd.Timestamp(window.start), pd.Timestamp(window.end)
        if forecasts.empty:
            raise dg.Failure(
                description=(
                    f"No forecasts are stored for {context.partition_key} (origins "
                    f"{hour_text(start)} → {hour_text(end - pd.Timedelta(hours=1))}): "
                    "materialise forecasts for that day's hours first (job "
                    "forecasts_backfill_job), then retry."
                )
            )
        # Targets of the day's origins run up to 24 h past the day's last origin.
        actual_keys = hour_keys(start + pd.Timedelta(hours=1), end + pd.Timedelta(hours=24))
        actuals = storage.store().read_many(FEATURES.name, actual_keys, missing_ok=True)
        # A meter error (flagged implausible) is no actual to score against: a gap, as for training.
        # lag_168h rides along: the lag-168 basecase of the field's skill score.
        kept = [*CLEAN_COLUMNS, *(c for c in ["lag_168h"] if c in actuals.columns)]
        actuals = (
            without_implausible(actuals)[kept]
            if len(actuals)
            else pd.DataFrame(columns=CLEAN_COLUMNS)
        )
        result = score_forecasts(forecasts, actuals)
        overall = result.overall
        from energy_assets.monitoring.weather_monitoring import accuracy_by_temperature_band

        # The observed weather of the target hours, where the weather asset has them.
        weather = storage.store().read_many(WEATHER.name, actual_keys, missing_ok=True)
        by_band = accuracy_by_temperature_band(result.scored, weather)
        versions = sorted(map(str, forecasts["model_version"].unique())) if len(forecasts) else []
        metadata: dict[str, Any] = {
            **accuracy_numbers(overall),
            "forecast_origins": int(forecasts["forecast_origin"].nunique())
            if len(forecasts)
            else 0,
            "model_versions": ", ".join(versions),
            "per_horizon": markdown_table(result.per_horizon, empty="_no actuals yet_"),
            # The model's rows and the labelled fallback's, apart (forecasting/fallback.py).
            "per_quality": markdown_table(result.per_quality, empty="_no actuals yet_"),
            **{
                f"{name}_{row['quality']}": _metric(row[name])
                for row in result.per_quality.to_dict("records")
                for name in ("mape", "wape")
            },
            "fallback_points": int(
                result.per_quality.loc[
                    result.per_quality["quality"] == "fallback", "n_points"
                ].sum()
            ),
            **field_numbers(result.field_metrics),
            "field_metrics_by_lead_time": markdown_table(
                field_table(result), empty="_no actuals yet_"
            ),
            "accuracy_by_temperature_band": markdown_table(
                by_band, empty="_no observed weather for these hours_"
            ),
            "worst_series": markdown_table(
                result.per_series.sort_values("mape", ascending=False).head(10),
                empty="_no actuals yet_",
            ),
        }
        metadata.update(product_accuracy(storage, start, end))
        if overall["n_points"] == 0:
            context.log.info("No actuals published yet for these forecasts; nothing to score.")
        else:
            from energy_assets.reporting.charts import horizon_coverage_chart, horizon_error_chart

            metadata["horizon_error_chart"] = chart(
                horizon_error_chart(
                    result.per_horizon,
                    f"Error by hours ahead: forecasts made on {context.partition_key} "
                    f"({int(overall['n_points'])} points)",
                ),
                "MAPE and WAPE by hours ahead",
            )
            if result.per_horizon["coverage"].notna().any():
                metadata["horizon_coverage_chart"] = chart(
                    horizon_coverage_chart(
                        result.per_horizon,
                        f"p10–p90 coverage by hours ahead: forecasts made on "
                        f"{context.partition_key}",
                    ),
                    "Share of actuals inside the p10–p90 band by hours ahead, against 80%",
                )
        return dg.Output(accuracy_table(result), metadata=metadata)

    @dg.asset(
        key=keys.DRIFT_REPORT,
        partitions_def=partitions.daily,
        group_name="monitoring",
        kinds={"evidently", "parquet"},
        ins={
            "consumption_features": dg.AssetIn(
                key=keys.CONSUMPTION_FEATURES,
                partition_mapping=lookback_mapping(),
                metadata={ALLOW_MISSING_PARTITIONS: True},
            )
        },
        deps=[keys.FORECASTING_MODEL],
        description=(
            "Evidently data-drift report of the day's features against the champion's training "
            "window (its last 28 days), and in its own section of what the model consumes (its "
            "numerical inputs for forecasts from the day's hours: model_input_drift_share). "
            "The HTML report is stored next to the asset values and "
            "linked as `report` (a URL the browser opens: `energy-assets reports serve` for a "
            "local folder, the Cloud Console for gs://); drift_share, dataset_drift, the drifted "
            "columns and a chart of every column's score are metadata."
        ),
    )
    def drift_report(
        context: dg.AssetExecutionContext,
        consumption_features,
        storage: StorageResource,
        mlflow: MlflowResource,
    ) -> dg.Output:
        from energy_assets.contracts import hour_keys
        from energy_assets.monitoring.drift import (
            MODEL_INPUT_HISTORY,
            build_drift_report,
            reference_window,
        )
        from energy_assets.training.model_store import champion_info

        store = storage.store()
        day = context.partition_key
        if len(consumption_features) == 0:
            raise dg.Failure(
                f"No consumption_features for {day}: materialise that day's hours before its "
                "drift report."
            )
        with services_reachable(
            mlflow.tracking_uri, then="retry this run; no drift report was written."
        ):
            champion = champion_info(mlflow.settings())
        reference_start, reference_end, reference_source = reference_window(
            context.partition_time_window.start,
            (champion.training_start, champion.training_end) if champion else None,
            champion.version if champion else None,
        )
        # One read: the window plus the history the model inputs of its first origins read.
        reference_history = store.read_many(
            FEATURES.name,
            hour_keys(reference_start - MODEL_INPUT_HISTORY, reference_end),
            missing_ok=True,
        )
        reference = (
            reference_history[reference_history[CLEAN.time_column] >= reference_start]
            if len(reference_history)
            else reference_history
        )
        if len(reference) == 0:
            raise dg.Failure(
                f"No reference features between {hour_text(reference_start)} and "
                f"{hour_text(reference_end)} ({reference_source})."
            )
        # Default columns: each series' level relative to its reference median (a real change in
        # consumption whatever the series' size), pooled kWh, and the lag / rolling features.
        from energy_assets.monitoring.weather_monitoring import with_weather

        # The observed weather beside the features, when the weather asset has those hours: the
        # report then also says whether the weather is unlike the training window's.
        day_keys = hour_keys(context.partition_time_window.start, context.partition_time_window.end)
        reference = with_weather(
            reference,
            store.read_many(
                WEATHER.name, hour_keys(reference_start, reference_end), missing_ok=True
            ),
        )
        current = with_weather(
            consumption_features, store.read_many(WEATHER.name, day_keys, missing_ok=True)
        )
        if any(c not in reference.columns for c in current.columns):
            current = current[[c for c in current.columns if c in reference.columns]]
        result = build_drift_report(reference, current)
        html_path = f"{DRIFT_REPORT_ASSET}/date={day}/report.html"
        store.write_bytes(html_path, result.html.encode("utf-8"), "text/html")
        day_start = context.partition_time_window.start
        current_history = store.read_many(
            FEATURES.name, hour_keys(day_start - MODEL_INPUT_HISTORY, day_start), missing_ok=True
        )
        inputs_metadata = _model_input_drift(
            storage,
            f"{DRIFT_REPORT_ASSET}/date={day}/model_inputs.html",
            reference_history,
            (reference_start, reference_end),
            [current_history, consumption_features],
            (day_start, context.partition_time_window.end),
        )
        metadata: dict[str, Any] = {
            **drift_numbers(result),
            "reference_window": (
                f"{hour_text(reference_start)} → {hour_text(reference_end)} ({reference_source})"
            ),
            "current_rows": len(consumption_features),
            # A URL the browser opens (see reporting/links.py); the object itself as text.
            meta.REPORT_URL.name: dg.MetadataValue.url(storage.report_url(html_path)),
            meta.REPORT_OBJECT.name: dg.MetadataValue.text(store.uri(html_path)),
            "column_scores": markdown_table(result.column_scores),
            "series_that_moved_most": markdown_table(result.series_levels.head(10)),
            **inputs_metadata,
        }
        from energy_assets.reporting.links import console_url

        if console := console_url(store, html_path):
            metadata["report_in_console"] = dg.MetadataValue.url(console)
        if result.column_scores["score"].notna().any():
            from energy_assets.reporting.charts import drift_chart

            metadata["drift_chart"] = chart(
                drift_chart(result.column_scores, result.drift_share),
                "Drift score per column against its threshold",
            )
        return dg.Output(result.column_scores, metadata=metadata)

    return [forecast_accuracy, drift_report]


def _model_input_drift(
    storage: StorageResource,
    html_path: str,
    reference_history: Any,
    reference_hours: tuple[Any, Any],
    current_parts: list[Any],
    day: tuple[Any, Any],
) -> dict[str, Any]:
    """The report's section on what the model consumes (monitoring.drift.model_input_drift):
    its own HTML and drift share, beside (not inside) drift_share. Too little history for the
    inputs is said in the metadata, not a failure: the feature report above still stands."""
    import pandas as pd

    from energy_assets.features.plausibility import without_implausible
    from energy_assets.monitoring.drift import model_input_drift

    current_history = pd.concat([p for p in current_parts if len(p)], ignore_index=True)
    try:
        result = model_input_drift(
            without_implausible(reference_history)[CLEAN_COLUMNS],
            reference_hours,
            without_implausible(current_history)[CLEAN_COLUMNS],
            day,
        )
    except ValueError as error:
        return {"model_input_drift": f"not compared: {error}"}
    store = storage.store()
    store.write_bytes(html_path, result.html.encode("utf-8"), "text/html")
    return {
        "model_input_drift_share": float(result.drift_share),
        "model_inputs_drifted": ", ".join(result.drifted_columns) or "none",
        "model_input_scores": markdown_table(result.column_scores),
        "model_input_report": dg.MetadataValue.url(storage.report_url(html_path)),
    }
