"""A notice at the start of a long backfill on the embedded sqlite instance.

`dagster dev` and a newcomer's DAGSTER_HOME use sqlite for runs and events. Dagster's own cost
per partition there is ~25x Postgres' (docs/decisions/0012-scale-out.md): a year's backfill of
raw + features spends ~13 minutes in the event log alone. The first unit of such a backfill logs
one warning saying what the backfill will cost and how to switch, instead of a silent wait.
"""

from __future__ import annotations

import dagster as dg

# Dagster's own cost per hourly partition of the raw + features pair, measured with
# benchmarks/bench_backfill.py (a year, no-op floor, 2 cores; README "Backfills and the event log").
SQLITE_SECONDS_PER_HOUR = 0.0818
POSTGRES_SECONDS_PER_HOUR = 0.0016
# Shorter backfills cost a few minutes at most: no notice.
LONG_BACKFILL_HOURS = 24 * 31


def is_sqlite_instance(instance: dg.DagsterInstance) -> bool:
    return "sqlite" in type(instance.event_log_storage).__name__.lower()


def backfill_notice(hours: int) -> str:
    """The warning for a backfill of `hours` hourly partitions on the sqlite instance."""
    sqlite_minutes = hours * SQLITE_SECONDS_PER_HOUR / 60
    postgres_minutes = hours * POSTGRES_SECONDS_PER_HOUR / 60
    return (
        f"This backfill covers {hours:,} hours on the embedded sqlite instance: Dagster's own "
        f"bookkeeping alone will take about {sqlite_minutes:.0f} min here (about "
        f"{postgres_minutes:.1f} min on Postgres), on top of the API's one request per minute. "
        "For long backfills point $DAGSTER_HOME/dagster.yaml at Postgres (`storage: postgres:` "
        "as in deploy/dagster.yaml) and set DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true "
        "and DAGSTER_EVENT_BATCH_SIZE=10000; see docs/how-to/scale-out.md."
    )


def first_unit_notice(context: dg.AssetExecutionContext) -> str | None:
    """The notice when this run is the first unit of a long backfill on sqlite, else None."""
    backfill_id = context.run.tags.get("dagster/backfill")
    if not backfill_id or not is_sqlite_instance(context.instance):
        return None
    backfill = context.instance.get_backfill(backfill_id)
    data = backfill.asset_backfill_data if backfill is not None else None
    if data is None:
        return None
    subset = data.target_subset.partitions_subsets_by_asset_key.get(context.asset_key)
    if subset is None or len(subset) <= LONG_BACKFILL_HOURS:
        return None
    first = min(subset.get_partition_keys())
    if context.partition_key_range.start != first:
        return None
    return backfill_notice(len(subset))
