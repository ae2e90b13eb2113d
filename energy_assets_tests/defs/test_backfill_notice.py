"""The sqlite notice: the first unit of a long backfill on the embedded instance says what the
backfill will cost and how to switch to Postgres; later units, short backfills and runs outside a
backfill say nothing."""

import time

import dagster as dg
import pandas as pd
import pytest

from energy_assets.defs.backfill_notice import LONG_BACKFILL_HOURS, first_unit_notice

HOURLY = dg.HourlyPartitionsDefinition(start_date="2023-01-01-00:00", timezone="UTC")


def _backfill(instance: dg.DagsterInstance, asset, hours: list[str]) -> str:
    from dagster._core.definitions.selector import (
        PartitionRangeSelector,
        PartitionsByAssetSelector,
        PartitionsSelector,
    )
    from dagster._core.execution.backfill import PartitionBackfill
    from dagster._core.utils import make_new_backfill_id

    backfill = PartitionBackfill.from_partitions_by_assets(
        backfill_id=make_new_backfill_id(),
        asset_graph=dg.Definitions(assets=[asset]).resolve_asset_graph(),
        backfill_timestamp=time.time(),
        tags={},
        dynamic_partitions_store=instance,
        partitions_by_assets=[
            PartitionsByAssetSelector(
                asset_key=asset.key,
                partitions=PartitionsSelector(
                    ranges=[PartitionRangeSelector(start=hours[0], end=hours[-1])]
                ),
            )
        ],
        title=None,
        description=None,
        run_config=None,
    )
    instance.add_backfill(backfill)
    return backfill.backfill_id


@pytest.mark.parametrize(
    ("days", "unit", "expected"),
    [(365, 0, "8,760 hours"), (365, 1, None), (LONG_BACKFILL_HOURS // 24, 0, None)],
)
def test_the_first_unit_of_a_long_backfill_on_sqlite_says_what_it_costs(
    tmp_path, days, unit, expected
):
    notices: list[str | None] = []

    @dg.asset(key="raw_consumption", partitions_def=HOURLY)
    def probe(context: dg.AssetExecutionContext) -> None:
        notices.append(first_unit_notice(context))

    hours = [
        h.strftime("%Y-%m-%d-%H:%M")
        for h in pd.date_range("2023-01-01", periods=24 * days, freq="h")
    ]
    first, last = hours[unit * 24], hours[unit * 24 + 23]
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        assert "Sqlite" in type(instance.event_log_storage).__name__
        backfill_id = _backfill(instance, probe, hours)
        tags = {
            "dagster/backfill": backfill_id,
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        }
        dg.materialize([probe], instance=instance, tags=tags)
        dg.materialize([probe], instance=instance, partition_key=first)  # outside a backfill
    notice, outside = notices
    assert outside is None
    if expected is None:
        assert notice is None
    else:
        assert notice is not None and expected in notice
        assert "Postgres" in notice and "docs/how-to/scale-out.md" in notice
