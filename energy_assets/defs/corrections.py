"""Corrections reach everything that read them: a raw hour materialised again (a person's
*Materialize* in the UI after fixing a value, a backfill, a re-run) refreshes the partitions
computed from it, without anyone naming them.

`correction_sensor` reads `raw_consumption` materialisations from the event log (cursor: the
newest storage id read). A materialisation of an hour that had been materialised before is a
correction when it stored other records: a one-hour run writes a hash of the records it stores
(`content_hash` metadata) and of the ones it replaced (`replaced_content_hash`, read from
storage before writing), and the sensor compares the two, so re-running an unchanged hour
refreshes nothing; without both hashes (a range run of a backfill writes none: its metadata is
copied onto every hour) the hour counts as changed. For the
corrected hours `ingestion.revisions.affected_partitions` (the revision pass's own rule)
names the stored partitions that read them: the features of the hour and the 168 hours whose
lags and rolling windows reach it, the forecasts whose 360-hour input window holds it, the
accuracy days that score it or its forecasts. The ones not materialised again since the
correction are stale, and one asset backfill (the revision pass's `submit_backfill`, tagged
`CORRECTION_TAG`) re-materialises them in dependency order; the backfill is the visible mark
(Overview → Backfills, and the sensor's tick says which hours).

Runs the revision pass or this sensor launched are skipped: their backfill already carries
everything downstream. A first materialisation is not a correction (nothing read it yet).

Why a sensor and not declarative automation (`AutomationCondition.any_deps_updated`) or data
versions: a features partition depends on 169 raw hours through a time-window mapping, and the
conditions evaluate the newest partitions only (or every partition per tick, 8,760 a year);
the mapping from a corrected hour to what read it is already a tested pure function here.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import dagster as dg

from energy_assets import metadata_keys as meta
from energy_assets.defs import keys
from energy_assets.defs.partitions import Partitions
from energy_assets.defs.revisions import REVISION_PASS_TAG, submit_backfill

CORRECTION_TAG = "energy/correction_of"
# Bounded so one tick stays short; a longer backlog is read over the next ticks.
MAX_EVENTS_PER_TICK = 500
INTERVAL_SECONDS = 60


def _newest_storage_id(instance: dg.DagsterInstance, key: dg.AssetKey) -> int:
    records = instance.fetch_materializations(key, limit=1).records
    return records[0].storage_id if records else 0


def corrected_hours(
    instance: dg.DagsterInstance, after_storage_id: int, limit: int = MAX_EVENTS_PER_TICK
) -> tuple[list[str], int, int]:
    """(hour keys of raw_consumption materialised again after `after_storage_id` by a run that
    is not a revision or correction backfill, the newest storage id read, the newest storage id
    of a correction)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=keys.RAW_CONSUMPTION, after_storage_id=after_storage_id),
        limit=limit,
        ascending=True,
    ).records
    skipped_runs: dict[str, bool] = {}
    hours: set[str] = set()
    newest, newest_correction = after_storage_id, 0
    for record in records:
        newest = record.storage_id
        run_id = record.event_log_entry.run_id
        if run_id not in skipped_runs:
            run = instance.get_run_by_id(run_id)
            tags = run.tags if run is not None else {}
            skipped_runs[run_id] = REVISION_PASS_TAG in tags or CORRECTION_TAG in tags
        partition = record.partition_key
        if skipped_runs[run_id] or partition is None or partition in hours:
            continue
        earlier = instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=keys.RAW_CONSUMPTION,
                asset_partitions=[partition],
                before_storage_id=record.storage_id,
            ),
            limit=1,
        ).records
        if earlier and _changed(record, earlier[0]):
            hours.add(partition)
            newest_correction = record.storage_id
    return sorted(hours), newest, newest_correction


def _metadata_text(record: Any, key: meta.MetadataKey) -> str | None:
    materialization = record.asset_materialization
    value = None if materialization is None else materialization.metadata.get(key.name)
    return None if value is None else str(value.value)


def _changed(record: Any, previous: Any) -> bool:
    """Whether a raw hour's materialisation stored other records than were there before: the
    hash of what it wrote against the hash of what it replaced (read from storage by the run),
    or else the previous materialisation's hash. Without two hashes (range runs write none)
    the contents cannot be compared and the hour counts as changed."""
    new = _metadata_text(record, meta.CONTENT_HASH)
    old = _metadata_text(record, meta.REPLACED_CONTENT_HASH) or _metadata_text(
        previous, meta.CONTENT_HASH
    )
    return new is None or old is None or new != old


def stale_partitions(instance: dg.DagsterInstance, hours: list[str], since_storage_id: int) -> Any:
    """AffectedPartitions (without raw: already corrected) of the stored partitions that read
    `hours` and were not materialised again after `since_storage_id`."""
    from energy_assets.contracts import hour_of_key
    from energy_assets.ingestion.revisions import affected_partitions

    affected = affected_partitions(
        [hour_of_key(h) for h in hours],
        instance.get_materialized_partitions(keys.CONSUMPTION_FEATURES),
        instance.get_materialized_partitions(keys.FORECASTS),
        instance.get_materialized_partitions(keys.FORECAST_ACCURACY),
    )

    def not_redone(key: dg.AssetKey, partitions: tuple[str, ...]) -> tuple[str, ...]:
        if not partitions:
            return ()
        redone = {
            record.partition_key
            for record in instance.fetch_materializations(
                dg.AssetRecordsFilter(
                    asset_key=key,
                    asset_partitions=list(partitions),
                    after_storage_id=since_storage_id,
                ),
                limit=len(partitions) * 4,
            ).records
        }
        return tuple(p for p in partitions if p not in redone)

    return replace(
        affected,
        raw_consumption=(),
        consumption_features=not_redone(keys.CONSUMPTION_FEATURES, affected.consumption_features),
        forecasts=not_redone(keys.FORECASTS, affected.forecasts),
        forecast_accuracy=not_redone(keys.FORECAST_ACCURACY, affected.forecast_accuracy),
    )


def build_correction_sensor(partitions: Partitions) -> dg.SensorDefinition:
    @dg.sensor(
        name="correction_sensor",
        minimum_interval_seconds=INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "A raw_consumption hour materialised again (a fix re-run from the UI, a backfill) "
            "refreshes what read it: one backfill of the stored features (the hour and the 168 "
            "after it), forecasts (origins whose 360 h window holds it) and accuracy days not "
            "redone since."
        ),
    )
    def correction_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        instance = context.instance
        if not context.cursor:
            start = _newest_storage_id(instance, keys.RAW_CONSUMPTION)
            return dg.SensorResult(
                skip_reason=dg.SkipReason(f"Starting from the newest raw hour (event {start})"),
                cursor=json.dumps({"raw": start}),
            )
        cursor = json.loads(context.cursor)
        hours, newest, since = corrected_hours(instance, int(cursor["raw"]))
        text = json.dumps({"raw": newest})
        if not hours:
            return dg.SensorResult(skip_reason=dg.SkipReason("No corrected hour."), cursor=text)
        stale = stale_partitions(instance, hours, since)
        counts = {
            "consumption_features": len(stale.consumption_features),
            "forecasts": len(stale.forecasts),
            "forecast_accuracy": len(stale.forecast_accuracy),
        }
        shown = ", ".join(hours[:5]) + (f" and {len(hours) - 5} more" if len(hours) > 5 else "")
        if not any(counts.values()):
            return dg.SensorResult(
                skip_reason=dg.SkipReason(f"Corrected {shown}: nothing stored read them."),
                cursor=text,
            )
        backfill_id = submit_backfill(
            instance,
            partitions,
            stale,
            {CORRECTION_TAG: ",".join(hours)[:200]},
            title="correction",
            description=f"Refresh what read the corrected raw hour(s) {shown}",
        )
        context.log.info(
            f"Corrected raw hour(s) {shown}: backfill {backfill_id} refreshes "
            + ", ".join(f"{n} {asset}" for asset, n in counts.items())
        )
        return dg.SensorResult(cursor=text)

    return correction_sensor
