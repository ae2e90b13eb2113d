"""`realtime_load`: each price area's total load per UTC hour from Energinet's near-real-time
feed (`ElectricityBalanceNonv`), minutes after the hour, checked and judged for plausibility."""

from datetime import datetime

import dagster as dg

from energy_assets.contracts import REALTIME_LOAD, REALTIME_PLAUSIBILITY, hour_text
from energy_assets.defs import keys
from energy_assets.defs.checks import gx_check_specs, validated_output
from energy_assets.defs.ingestion import API_POOL
from energy_assets.defs.io_manager import PARTITION_COLUMN
from energy_assets.defs.metadata import frame_metadata, is_range_run
from energy_assets.defs.partitions import Partitions
from energy_assets.defs.resources import (
    EnergiDataResource,
    GreatExpectationsResource,
    StorageResource,
)
from energy_assets.defs.schedules import newest_publishable_hour
from energy_assets.sources import ELECTRICITY_BALANCE_NONV

REALTIME_CHECK = "realtime_load_gx_suite"
REALTIME_PLAUSIBLE_CHECK = "realtime_load_plausible_values"
# The resource key of the feed's API (another dataset than `energidata`'s, same request pool).
REALTIME_RESOURCE = "realtime_energidata"
# Minutes past the hour the schedule runs: the feed publishes an hour "with some delay" (SCADA).
REALTIME_SCHEDULE_MINUTE = 20

realtime_load_job = dg.define_asset_job(
    "realtime_load_job",
    selection=dg.AssetSelection.assets(keys.REALTIME_LOAD),
    description=(
        "Each area's total load for one hour (realtime_load_schedule) or a range (a backfill: "
        "one run, one paged request)."
    ),
)


def newest_realtime_hour(now: datetime) -> str:
    """The hourly partition key of the newest hour the feed should have published at `now`:
    the hour that ended last (the spec's one-hour lag)."""
    return newest_publishable_hour(now, delay_hours=ELECTRICITY_BALANCE_NONV.publication_lag_hours)


def build_realtime_schedule() -> dg.ScheduleDefinition:
    """Every hour at :20, the hour that just ended. A late hour fails retryably (nothing
    written) and the forecasts fall back to the newest hours they have (they say so)."""

    @dg.schedule(
        job=realtime_load_job,
        cron_schedule=f"{REALTIME_SCHEDULE_MINUTE} * * * *",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=(
            "Every hour: each price area's total load of the hour that just ended, from the "
            "near-real-time feed (ElectricityBalanceNonv, published minutes after the hour)."
        ),
    )
    def realtime_load_schedule(context: dg.ScheduleEvaluationContext):
        partition_key = newest_realtime_hour(context.scheduled_execution_time)
        return dg.RunRequest(run_key=partition_key, partition_key=partition_key)

    return realtime_load_schedule


def build_realtime_assets(partitions: Partitions) -> list[dg.AssetsDefinition]:
    spec = ELECTRICITY_BALANCE_NONV

    @dg.asset(
        key=keys.REALTIME_LOAD,
        partitions_def=partitions.hourly,
        backfill_policy=partitions.backfill,
        group_name="ingestion",
        kinds={"python", "parquet"},
        pool=API_POOL,
        metadata={PARTITION_COLUMN: REALTIME_LOAD.time_column},
        check_specs=[
            *gx_check_specs(
                REALTIME_LOAD.name,
                REALTIME_CHECK,
                blocking=True,
                description=(
                    "Great Expectations suite generated from the REALTIME_LOAD contract: types, "
                    "known areas, a non-null, finite, non-negative load, one row per (hour, "
                    "area), and DK1 and DK2 in every hour. Blocking: a bad hour is never written."
                ),
            ),
            *gx_check_specs(
                REALTIME_LOAD.name,
                REALTIME_PLAUSIBLE_CHECK,
                blocking=False,
                description=(
                    f"No hour's load is more than {REALTIME_PLAUSIBILITY.max_ratio:g}x outside "
                    "its area's trailing-week range (the feed's single-hour spikes). Warns: the "
                    "hour is kept, marked `implausible`, and read as a gap by the forecasts."
                ),
            ),
        ],
        description=(
            f"Each price area's total load (MWh) per UTC hour from Energi Data Service's "
            f"{spec.dataset} ({spec.title}), read from ENERGY_REALTIME_API_URL (default "
            "ENERGIDATA_API_URL) minutes after the hour: the areas' level where the settled "
            "datasets are days late. Each run reads a week before its hours too, to judge them."
        ),
    )
    def realtime_load(
        context: dg.AssetExecutionContext,
        realtime_energidata: EnergiDataResource,
        gx: GreatExpectationsResource,
        storage: StorageResource,
    ):
        import pandas as pd

        from energy_assets.features.realtime_load import realtime_load_table
        from energy_assets.ingestion.energidata_api import collapse_exact_duplicates, missing_hours
        from energy_assets.validation.suites import (
            validate_realtime_load,
            validate_realtime_plausible,
        )

        window = context.partition_time_window
        api = realtime_energidata.api(log=context.log.info, storage=storage)
        history = pd.Timedelta(hours=REALTIME_PLAUSIBILITY.window_hours)
        # One paged request covers the hours and the week the plausibility rule judges them by.
        served = api.fetch_hours(pd.Timestamp(window.start) - history, window.end)
        raw, exact_duplicates = collapse_exact_duplicates(served)
        inside = raw[raw[spec.time_utc] >= pd.Timestamp(window.start).tz_convert(None)]
        absent = missing_hours(inside, window.start, window.end, spec.time_utc)
        if absent:
            shown = ", ".join(hour_text(h) for h in absent[:5])
            raise dg.Failure(
                description=(
                    f"{spec.dataset} has no records for {len(absent)} hour(s): {shown}. The feed "
                    "publishes minutes after the hour; the hour is retried later — nothing was "
                    "written, and forecasts issued meanwhile fall back (they say so)."
                ),
                metadata={
                    "missing_hours": len(absent),
                    "first_missing_hour": absent[0].isoformat(),
                },
                allow_retries=True,
            )
        table = realtime_load_table(raw, window.start, window.end, spec=spec)
        outcome = validate_realtime_load(
            table, expected_hours=(window.start, window.end), validator=gx.validator()
        )
        plausible = validate_realtime_plausible(table, validator=gx.validator())
        if not plausible.success:
            context.log.warning(plausible.summary())
        metadata = {
            **frame_metadata(
                table,
                REALTIME_LOAD.time_column,
                REALTIME_LOAD.series_columns,
                range_run=is_range_run(context),
            ),
            "implausible_hours": int(table[REALTIME_PLAUSIBILITY.flag_column].sum()),
            "dataset": spec.dataset,
            "api_requests": api.request_count,
            "exact_duplicates_collapsed": exact_duplicates,
        }
        yield from validated_output(
            table,
            outcome,
            REALTIME_CHECK,
            REALTIME_LOAD.name,
            metadata,
            blocking=True,
            more_checks=[(plausible, REALTIME_PLAUSIBLE_CHECK, False)],
            context=context,
        )

    return [realtime_load]
