"""The revision pass: re-read the source's correction window, find the hours it has revised, and
bring everything computed from them up to date.

`revision_pass_job` is one op, `find_revised_hours`: ONE paged fetch of the window from the API,
ONE parallel read of the stored raw hours, `ingestion.revisions.compare_hours` and
`affected_partitions` (plain functions), and then an **asset backfill** of exactly the affected
partitions: raw_consumption for the revised hours, consumption_features for them and the 168
hours whose lags reach them, the existing forecasts whose 360-hour input window holds them, and
the existing forecast_accuracy days whose actuals or forecasts change. Dagster's backfill daemon
runs it in dependency order (features after raw, forecasts after features, accuracy after
forecasts) and, each contiguous span of an hourly asset in runs of at most
`Partitions.backfill`'s hours (ENERGY_BACKFILL_HOURS_PER_RUN). Nothing revised: no backfill.

Two schedules run it (windows as run config): every day the last 14 days, every week the last
92 days (capped at the dataset's `revision_days`). See docs/how-to/operate.md, "Revisions".
"""

from typing import Any

import dagster as dg
from pydantic import Field

from energy_assets.defs import keys
from energy_assets.defs.io_manager import STEP_IO_MANAGER
from energy_assets.defs.partitions import Partitions
from energy_assets.defs.resources import EnergiDataResource, StorageResource

REVISION_JOB = "revision_pass_job"
# Tag on the backfill a pass submits: which run found the revisions.
REVISION_PASS_TAG = "energy/revision_pass"
# Live datasets are "normally 99.9 % correct after 8 days": a daily pass over two weeks catches
# those corrections; a weekly pass over ~3 months catches the quarterly correction.
DAILY_WINDOW_DAYS = 14
WEEKLY_WINDOW_DAYS = 92


class RevisionPassConfig(dg.Config):
    """The window re-read: the `window_days` days before `end` (an ISO hour, UTC; default now)."""

    window_days: int = Field(default=DAILY_WINDOW_DAYS, gt=0)
    end: str | None = Field(default=None, description="ISO hour, UTC; default: now")


def _subset(partitions_def: Any, partition_keys: tuple[str, ...]) -> Any:
    return partitions_def.empty_subset().with_partition_keys(partition_keys)


def submit_backfill(
    instance: dg.DagsterInstance,
    partitions: Partitions,
    affected: Any,
    tags: dict[str, str],
    title: str = "revision pass",
    description: str | None = None,
) -> str:
    """Submit one asset backfill of the affected partitions; the backfill daemon runs it."""
    import time

    # No public constructor for an asset backfill over an arbitrary per-asset subset yet (the
    # same objects `RunRequest.for_asset_graph_subset` takes, which only sensors can return).
    from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
    from dagster._core.execution.backfill import PartitionBackfill
    from dagster._core.utils import make_new_backfill_id

    subsets = {
        keys.RAW_CONSUMPTION: _subset(partitions.hourly, affected.raw_consumption),
        keys.CONSUMPTION_FEATURES: _subset(partitions.hourly, affected.consumption_features),
        keys.FORECASTS: _subset(partitions.hourly, affected.forecasts),
        keys.FORECAST_ACCURACY: _subset(partitions.daily, affected.forecast_accuracy),
    }
    backfill_id = make_new_backfill_id()
    backfill = PartitionBackfill.from_asset_graph_subset(
        backfill_id=backfill_id,
        backfill_timestamp=time.time(),
        tags=tags,
        dynamic_partitions_store=instance,
        asset_graph_subset=AssetGraphSubset(  # type: ignore[call-arg]  # serdes-wrapped NamedTuple
            partitions_subsets_by_asset_key={k: s for k, s in subsets.items() if len(s)},
            non_partitioned_asset_keys=set(),
        ),
        title=title,
        description=description
        or (
            f"Re-materialise {len(affected.raw_consumption)} revised raw hour(s) and what was "
            "computed from them"
        ),
        run_config=None,
    )
    instance.add_backfill(backfill)
    return backfill_id


def _spans_text(partition_keys: tuple[str, ...]) -> str:
    from energy_assets.ingestion.revisions import contiguous_spans

    spans = contiguous_spans(partition_keys)
    shown = ", ".join(a if a == b else f"{a} → {b}" for a, b in spans[:10])
    return shown + (f" and {len(spans) - 10} more spans" if len(spans) > 10 else "") or "none"


def build_revision_job(partitions: Partitions) -> dg.JobDefinition:
    @dg.op(
        out=dg.Out(io_manager_key=STEP_IO_MANAGER),
        description=(
            "Re-read the window from the API (one paged fetch), compare with the stored raw "
            "hours, and submit a backfill of the revised hours and everything computed from them."
        ),
    )
    def find_revised_hours(
        context: dg.OpExecutionContext,
        config: RevisionPassConfig,
        energidata: EnergiDataResource,
        storage: StorageResource,
    ) -> dg.Output:
        from datetime import UTC, datetime, timedelta

        from energy_assets.contracts import hour_keys, hour_text, utc
        from energy_assets.ingestion.energidata_api import collapse_exact_duplicates
        from energy_assets.ingestion.revisions import affected_partitions, compare_hours

        spec = energidata.spec
        try:
            end = utc(config.end if config.end else datetime.now(UTC)).floor("h")
        except ValueError:
            raise dg.Failure(
                f"find_revised_hours: end {config.end!r} is not a time; give an ISO hour in UTC "
                "like 2023-01-10T00:00, or leave it out for now."
            ) from None
        window_days = min(config.window_days, spec.revision_days)
        start = end - timedelta(days=window_days)
        api = energidata.api()
        served, _ = collapse_exact_duplicates(api.fetch_hours(start, end))
        stored = storage.store().read_many(
            keys.RAW_CONSUMPTION.to_user_string(), hour_keys(start, end), missing_ok=True
        )
        if len(stored) == 0:
            stored = served.iloc[0:0]
        report = compare_hours(stored, served, spec)
        instance = context.instance
        affected = affected_partitions(
            report.revised_hours,
            instance.get_materialized_partitions(keys.CONSUMPTION_FEATURES),
            instance.get_materialized_partitions(keys.FORECASTS),
            instance.get_materialized_partitions(keys.FORECAST_ACCURACY),
        )
        window = f"{hour_text(start)} → {hour_text(end)}"
        context.log.info(
            f"{spec.dataset} {window} ({window_days} days, {api.request_count} requests): "
            + report.summary()
        )
        if report.withdrawn_hours:
            shown = ", ".join(hour_text(h) for h in report.withdrawn_hours[:5])
            context.log.warning(
                f"{spec.dataset} no longer serves {len(report.withdrawn_hours)} stored hour(s) "
                f"({shown}); they are kept as stored. Check the dataset page; re-materialise "
                "raw_consumption for them once the source serves them again."
            )
        metadata: dict[str, Any] = {
            "dataset": spec.dataset,
            "window": window,
            "api_requests": api.request_count,
            "hours_compared": report.hours_compared,
            "revised_hours": len(report.revised_hours),
            "changed_values": report.changed_values,
            "added_rows": report.added_rows,
            "removed_rows": report.removed_rows,
            "withdrawn_hours": len(report.withdrawn_hours),
        }
        if report.largest is not None:
            largest = report.largest
            metadata.update(
                largest_change=str(largest),
                largest_change_absolute=float(largest.absolute),
                largest_change_relative=float(largest.relative),
                largest_change_series=largest.series,
                largest_change_hour=hour_text(largest.hour),
            )
        plan = {
            "raw_consumption": list(affected.raw_consumption),
            "consumption_features": list(affected.consumption_features),
            "forecasts": list(affected.forecasts),
            "forecast_accuracy": list(affected.forecast_accuracy),
        }
        for asset, partition_keys in plan.items():
            metadata[f"rematerialise_{asset}"] = len(partition_keys)
        if not affected.is_empty:
            backfill_id = submit_backfill(
                instance, partitions, affected, {REVISION_PASS_TAG: context.run_id}
            )
            metadata["backfill_id"] = backfill_id
            metadata["rematerialise"] = dg.MetadataValue.md(
                "\n".join(
                    f"- **{asset}**: {_spans_text(tuple(plan[asset]))}"
                    for asset in ("raw_consumption", "consumption_features", "forecasts")
                )
                + f"\n- **forecast_accuracy**: {', '.join(plan['forecast_accuracy']) or 'none'}"
            )
            context.log.info(
                f"Backfill {backfill_id}: "
                + ", ".join(f"{len(v)} {k}" for k, v in plan.items())
                + " partitions to re-materialise"
            )
        return dg.Output(plan, metadata=metadata)

    @dg.job(
        name=REVISION_JOB,
        description=(
            "Re-read the source's correction window, compare with what is stored, and backfill "
            "only the revised hours and what was computed from them (features, forecasts, accuracy)."
        ),
    )
    def revision_pass_job() -> None:
        find_revised_hours()

    return revision_pass_job


def build_revision_schedules(
    job: dg.JobDefinition, revision_days: int
) -> list[dg.ScheduleDefinition]:
    """Every day the last 14 days, every week the last 92 days (each capped at revision_days)."""

    def schedule(name: str, cron: str, window_days: int, when: str) -> dg.ScheduleDefinition:
        days = min(window_days, revision_days)
        return dg.ScheduleDefinition(
            name=name,
            job=job,
            cron_schedule=cron,
            execution_timezone="UTC",
            default_status=dg.DefaultScheduleStatus.STOPPED,
            run_config=dg.RunConfig(
                ops={"find_revised_hours": RevisionPassConfig(window_days=days)}
            ),
            description=f"{when}: re-read the last {days} days and backfill what was revised.",
        )

    return [
        schedule("daily_revision_schedule", "15 4 * * *", DAILY_WINDOW_DAYS, "Every day"),
        schedule("weekly_revision_schedule", "45 4 * * 0", WEEKLY_WINDOW_DAYS, "Every Sunday"),
    ]
