"""The retraining sensor: every new drift report and accuracy score since its cursor, one decision."""

import json

import dagster as dg
from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from energy_assets import metadata_keys as meta
from energy_assets.defs import keys
from energy_assets.defs.jobs import RETRAIN_JOB
from energy_assets.monitoring.retrain_policy import (
    EventKind,
    MonitoringEvent,
    RetrainThresholds,
    decide,
)
from energy_assets.settings import Settings

WATCHED: dict[EventKind, AssetKey] = {
    "drift": keys.DRIFT_REPORT,
    "accuracy": keys.FORECAST_ACCURACY,
}
# Bounded so one tick stays cheap; a longer backlog is read over the next ticks.
MAX_EVENTS_PER_TICK = 500


def thresholds_from_settings(settings: Settings) -> RetrainThresholds:
    """ENERGY_RETRAIN_MAX_DRIFT_SHARE / _MAX_MAPE / _MIN_COVERAGE / _MAX_COVERAGE as the
    sensor's thresholds."""
    return RetrainThresholds(
        max_drift_share=settings.retrain_max_drift_share,
        max_mape=settings.retrain_max_mape,
        min_coverage=settings.retrain_min_coverage,
        max_coverage=settings.retrain_max_coverage,
    )


def _event_from_record(kind: EventKind, record) -> MonitoringEvent | None:
    materialization = record.asset_materialization
    if materialization is None:
        return None
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    coverage = None
    if kind == "drift":
        value, dataset_drift = meta.DRIFT_SHARE.read(metadata), meta.DATASET_DRIFT.read(metadata)
    else:
        value, dataset_drift = meta.MAPE.read(metadata), None
        # Materialisations from before the band was scored have no interval_coverage.
        coverage = meta.INTERVAL_COVERAGE.read(metadata)
    if value is None:
        return None
    return MonitoringEvent(
        kind=kind,
        partition_key=materialization.partition or "",
        storage_id=record.storage_id,
        value=float(value),
        dataset_drift=dataset_drift,
        coverage=float(coverage) if coverage is not None else None,
    )


def read_new_events(
    instance, cursor: dict[str, int]
) -> tuple[list[MonitoringEvent], dict[str, int]]:
    """Every materialisation of the watched assets after the cursor, oldest first (dagster#32853)."""
    events: list[MonitoringEvent] = []
    new_cursor = dict(cursor)
    for kind, asset_key in WATCHED.items():
        result = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=asset_key, after_storage_id=cursor.get(kind)),
            limit=MAX_EVENTS_PER_TICK,
            ascending=True,
        )
        for record in result.records:
            event = _event_from_record(kind, record)
            if event is not None:
                events.append(event)
            new_cursor[kind] = max(new_cursor.get(kind) or 0, record.storage_id)
    return events, new_cursor


def build_retrain_sensor(
    thresholds: RetrainThresholds,
    name: str = "retrain_on_drift_or_error",
    interval_seconds: int = 60,
) -> dg.SensorDefinition:
    """A sensor requesting one `forecasting_model` run when drift or error crosses `thresholds`."""

    @sensor(
        name=name,
        job_name=RETRAIN_JOB,
        minimum_interval_seconds=interval_seconds,
        default_status=DefaultSensorStatus.STOPPED,
        description=(
            "Reads every new drift_report and forecast_accuracy materialisation since its cursor "
            "and requests one retraining run when drift share or MAPE exceeds its threshold "
            "or the p10..p90 band's coverage leaves its range."
        ),
    )
    def retrain_sensor(context: SensorEvaluationContext):
        cursor = json.loads(context.cursor) if context.cursor else {}
        events, new_cursor = read_new_events(context.instance, cursor)
        cursor_text = json.dumps(new_cursor, sort_keys=True)
        if not events:
            return SensorResult(
                skip_reason=SkipReason("No new drift report or accuracy score."), cursor=cursor_text
            )
        decision = decide(events, thresholds)
        if not decision.retrain:
            return SensorResult(skip_reason=SkipReason(decision.reason), cursor=cursor_text)
        return SensorResult(
            run_requests=[
                RunRequest(
                    run_key=decision.run_key,
                    tags={"energy_assets/retrain_reason": decision.reason[:200]},
                )
            ],
            cursor=cursor_text,
        )

    return retrain_sensor
