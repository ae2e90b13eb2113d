"""`raw_consumption`: the dataset's records for each UTC hour, all series, columns as the API
names them (the configured dataset's source spec says which)."""

import dagster as dg

from energy_assets import metadata_keys as meta
from energy_assets.contracts import hour_text
from energy_assets.defs import keys
from energy_assets.defs.backfill_notice import first_unit_notice
from energy_assets.defs.checks import gx_check_specs, validated_output
from energy_assets.defs.io_manager import PARTITION_COLUMN
from energy_assets.defs.metadata import content_hash, frame_metadata, is_range_run
from energy_assets.defs.partitions import Partitions
from energy_assets.defs.resources import (
    EnergiDataResource,
    GreatExpectationsResource,
    StorageResource,
)
from energy_assets.sources import SourceSpec

RAW_CHECK = "raw_consumption_gx_suite"
# The concurrency pool of every step that calls Energi Data Service: one at a time across the
# deployment (dagster.yaml `concurrency: pools: default_limit: 1`); the shared request clock
# (energy_assets.ingestion.ratelimit) spaces consecutive runs' requests.
API_POOL = "energidata_api"


def build_ingestion_assets(partitions: Partitions, spec: SourceSpec) -> list[dg.AssetsDefinition]:
    RAW = spec.raw
    series = ", ".join(spec.series_columns)

    @dg.asset(
        key=keys.RAW_CONSUMPTION,
        partitions_def=partitions.hourly,
        backfill_policy=partitions.backfill,
        group_name="ingestion",
        kinds={"python", "parquet"},
        pool=API_POOL,
        metadata={PARTITION_COLUMN: RAW.time_column},
        check_specs=gx_check_specs(
            RAW.name, RAW_CHECK, blocking=False, partitions_def=partitions.hourly
        ),
        description=(
            f"Hourly consumption records of Energi Data Service's {spec.dataset} "
            f"(ENERGIDATA_DATASET; {spec.title}), one partition per UTC hour with every "
            f"({series}) series, columns exactly as the API names them. A backfill over any "
            "range runs in units of ENERGY_BACKFILL_HOURS_PER_RUN hours, each one run and a few "
            "paged requests, at most one request per dataset per "
            "ENERGY_API_MIN_INTERVAL_SECONDS across the deployment."
        ),
    )
    def raw_consumption(
        context: dg.AssetExecutionContext,
        energidata: EnergiDataResource,
        gx: GreatExpectationsResource,
        storage: StorageResource,
    ):
        import pandas as pd

        from energy_assets.ingestion import freshness
        from energy_assets.ingestion.energidata_api import (
            collapse_exact_duplicates,
            missing_hours,
        )
        from energy_assets.ingestion.ratelimit import backfill_plan
        from energy_assets.validation.suites import validate_raw_consumption

        window = context.partition_time_window
        api = energidata.api(log=context.log.info, storage=storage)
        hours = int((window.end - window.start).total_seconds() // 3600)
        if hours > 1 and (notice := first_unit_notice(context)):
            context.log.warning(notice)
        if hours > 1:
            plan = backfill_plan(
                spec.dataset,
                hours,
                len(spec.expected_series),
                energidata.page_size,
                energidata.min_interval_seconds,
            )
            context.log.info(plan.text())
        served = api.fetch_hours(window.start, window.end)
        # Copies equal in every column are dropped (and counted); conflicting ones are kept.
        raw, exact_duplicates = collapse_exact_duplicates(served)
        absent = missing_hours(raw, window.start, window.end, spec.time_utc)
        if absent:
            never = freshness.after_last_hour(spec, absent[-1])
            if never is None and spec.is_live:
                # Late or stalled? One more request (limit=1, newest first) tells.
                never = freshness.stalled(
                    spec, api.newest_hour(), pd.Timestamp.now(tz="UTC"), absent[-1]
                )
            if never:
                raise _never_coming(never, spec)
            shown = ", ".join(hour_text(h) for h in absent[:5])
            more = f" and {len(absent) - 5} more" if len(absent) > 5 else ""
            raise dg.Failure(
                description=(
                    f"{energidata.dataset} has no records for {len(absent)} hour(s): {shown}{more}. "
                    f"The source publishes about {spec.publication_lag_hours // 24} days late; "
                    "the hour is retried later — nothing was written."
                ),
                metadata={
                    "missing_hours": len(absent),
                    "first_missing_hour": absent[0].isoformat(),
                },
                allow_retries=True,
            )
        outcome = validate_raw_consumption(
            raw, spec, expected_hours=(window.start, window.end), validator=gx.validator()
        )
        range_run = is_range_run(context)
        metadata = {
            **frame_metadata(raw, RAW.time_column, RAW.series_columns, range_run=range_run),
            "records_served": len(served),
            "exact_duplicates_collapsed": exact_duplicates,
        }
        if not range_run:
            metadata.update(api_requests=api.request_count, dataset=energidata.dataset)
            # What correction_sensor compares: the records this run stores and the ones it
            # replaces; a re-run that stores the same records is no correction (one read of
            # the hour's object; a range run compares nothing: defs/corrections.py).
            metadata[meta.CONTENT_HASH.name] = content_hash(raw)
            replaced = _stored_hash(storage, RAW.name, context.partition_key)
            if replaced is not None:
                metadata[meta.REPLACED_CONTENT_HASH.name] = replaced
        collapsed = f"; {exact_duplicates} exact duplicate(s) collapsed" if exact_duplicates else ""
        context.log.info(
            f"Fetched {len(served)} records of {energidata.dataset} for {hour_text(window.start)} "
            f"→ {hour_text(window.end)} in {api.request_count} requests{collapsed}"
        )
        yield from validated_output(
            raw, outcome, RAW_CHECK, RAW.name, metadata, blocking=False, context=context
        )

    return [raw_consumption]


def _stored_hash(storage: StorageResource, asset: str, partition_key: str) -> str | None:
    """content_hash of the records stored for the partition, None when none are."""
    from energy_assets.storage.parquet_store import MissingPartitionsError

    try:
        return content_hash(storage.store().read(asset, partition_key))
    except MissingPartitionsError:
        return None


def _never_coming(message: str, spec: SourceSpec) -> dg.Failure:
    # Not retryable: the op retry policy would only repeat the same answer every few minutes.
    return dg.Failure(
        description=message,
        metadata={"dataset": spec.dataset, "last_hour": spec.last_hour or "unknown"},
        allow_retries=False,
    )
