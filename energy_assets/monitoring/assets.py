"""`forecast_accuracy` and `drift_report`: the platform watching its own forecasts and inputs."""

from typing import Any

import numpy as np
import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    MetadataValue,
    Output,
    asset,
)

from energy_assets.features.engineering import CLEAN_COLUMNS
from energy_assets.monitoring.accuracy import score_forecasts
from energy_assets.monitoring.drift import build_drift_report
from energy_assets.partitions import daily_partitions, lookback_mapping
from energy_assets.resources.storage import ParquetStorage
from energy_assets.resources.tracking import MlflowTracking
from energy_assets.training.registry import champion_info

# Reference data for drift: the champion's training window, capped so a report stays fast.
MAX_REFERENCE_DAYS = 28


def hourly_keys(start: pd.Timestamp, end: pd.Timestamp) -> list[str]:
    """Dagster hourly partition keys for UTC hours in [start, end)."""
    hours = pd.date_range(start, end, freq="h", inclusive="left")
    return [h.strftime("%Y-%m-%d-%H:%M") for h in hours]


@asset(
    partitions_def=daily_partitions,
    group_name="monitoring",
    kinds={"parquet"},
    ins={
        "forecasts": AssetIn(
            partition_mapping=lookback_mapping(),
            metadata={"allow_missing_partitions": True},
        )
    },
    deps=["consumption_features"],
    description=(
        "Accuracy of the forecasts made on the partition's day (origins 00:00–23:00 UTC) once the "
        "actuals are published: MAPE and WAPE per series, per horizon and overall. Nothing to "
        "score yet is recorded as n_points = 0, not an error."
    ),
)
def forecast_accuracy(
    context: AssetExecutionContext, forecasts: pd.DataFrame, storage: ParquetStorage
) -> Output[pd.DataFrame]:
    window = context.partition_time_window
    start, end = pd.Timestamp(window.start), pd.Timestamp(window.end)
    # Targets of the day's origins run up to 24 h past the day's last origin.
    actual_keys = hourly_keys(start + pd.Timedelta(hours=1), end + pd.Timedelta(hours=24))
    actuals = storage.store().read_many("consumption_features", actual_keys, missing_ok=True)
    actuals = actuals[CLEAN_COLUMNS] if len(actuals) else pd.DataFrame(columns=CLEAN_COLUMNS)
    result = score_forecasts(forecasts, actuals)
    table = accuracy_table(result)
    overall = result.overall
    metadata: dict[str, Any] = {
        "mape": _metric(overall["mape"]),
        "wape": _metric(overall["wape"]),
        "n_points": int(overall["n_points"]),
        "coverage": _metric(overall.get("coverage", np.nan)),
        "forecast_origins": int(forecasts["forecast_origin"].nunique()) if len(forecasts) else 0,
        "model_versions": ", ".join(
            sorted(map(str, forecasts.get("model_version", pd.Series()).unique()))
        )
        if len(forecasts)
        else "",
        "per_horizon": MetadataValue.md(result.per_horizon.to_markdown(index=False))
        if len(result.per_horizon)
        else MetadataValue.md("_no actuals yet_"),
        "worst_series": MetadataValue.md(
            result.per_series.sort_values("mape", ascending=False).head(10).to_markdown(index=False)
        )
        if len(result.per_series)
        else MetadataValue.md("_no actuals yet_"),
    }
    if overall["n_points"] == 0:
        context.log.info("No actuals published yet for these forecasts; nothing to score.")
    return Output(table, metadata=metadata)


def accuracy_table(result) -> pd.DataFrame:
    """One tidy table: overall, per-series and per-horizon rows (level says which)."""
    overall = pd.DataFrame(
        [{"level": "overall", **{k: result.overall[k] for k in ("mape", "wape", "n_points")}}]
    )
    per_series = result.per_series.assign(level="series")
    per_horizon = result.per_horizon.assign(level="horizon")
    table = pd.concat([overall, per_series, per_horizon], ignore_index=True, sort=False)
    return table


@asset(
    partitions_def=daily_partitions,
    group_name="monitoring",
    kinds={"evidently", "parquet"},
    ins={
        "consumption_features": AssetIn(
            partition_mapping=lookback_mapping(),
            metadata={"allow_missing_partitions": True},
        )
    },
    deps=["forecasting_model"],
    description=(
        "Evidently data-drift report of the day's features against the champion's training "
        "window (its last 28 days). The HTML report is stored next to the asset values; "
        "drift_share, dataset_drift and the drifted columns are metadata."
    ),
)
def drift_report(
    context: AssetExecutionContext,
    consumption_features: pd.DataFrame,
    storage: ParquetStorage,
    mlflow: MlflowTracking,
) -> Output[pd.DataFrame]:
    store = storage.store()
    day = context.partition_key
    if len(consumption_features) == 0:
        raise ValueError(
            f"No consumption_features for {day}: materialise that day's hours before its drift report."
        )
    reference_start, reference_end, reference_source = reference_window(
        pd.Timestamp(context.partition_time_window.start), mlflow
    )
    reference = store.read_many(
        "consumption_features", hourly_keys(reference_start, reference_end), missing_ok=True
    )
    if len(reference) == 0:
        raise ValueError(
            f"No reference features between {reference_start} and {reference_end} ({reference_source})."
        )
    # Default columns: each series' level relative to its reference median (a real change in
    # consumption whatever the series' size), pooled kWh, and the lag / rolling features.
    result = build_drift_report(reference, consumption_features)
    html_path = f"drift_report/date={day}/report.html"
    store.write_bytes(html_path, result.html.encode("utf-8"), "text/html")
    html_uri = store.uri(html_path)
    metadata: dict[str, Any] = {
        "drift_share": float(result.drift_share),
        "dataset_drift": bool(result.dataset_drift),
        "drifted_columns": ", ".join(result.drifted_columns) or "none",
        "n_drifted_columns": len(result.drifted_columns),
        "reference_window": f"{reference_start:%Y-%m-%dT%H:%MZ} → {reference_end:%Y-%m-%dT%H:%MZ} ({reference_source})",
        "current_rows": len(consumption_features),
        "report": MetadataValue.url(html_uri)
        if html_uri.startswith(("http", "gs://"))
        else MetadataValue.path(html_uri),
        "column_scores": MetadataValue.md(result.column_scores.to_markdown(index=False)),
        "series_that_moved_most": MetadataValue.md(
            result.series_levels.head(10).to_markdown(index=False)
        ),
    }
    return Output(result.column_scores, metadata=metadata)


def reference_window(
    day_start: pd.Timestamp, mlflow: MlflowTracking
) -> tuple[pd.Timestamp, pd.Timestamp, str]:
    """The champion's training window (last MAX_REFERENCE_DAYS of it), else the 28 days before."""
    info = champion_info(mlflow.settings())
    cap = pd.Timedelta(days=MAX_REFERENCE_DAYS)
    if info is not None and info.training_end is not None:
        end = pd.Timestamp(info.training_end) + pd.Timedelta(hours=1)
        start = max(pd.Timestamp(info.training_start), end - cap)
        return start, end, f"champion v{info.version} training window"
    return day_start - cap, day_start, "no champion yet: the 28 days before"


def _metric(value) -> float:
    return float(value) if value is not None and np.isfinite(value) else float("nan")
