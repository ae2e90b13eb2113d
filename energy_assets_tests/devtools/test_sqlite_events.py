"""The demo's sqlite event log write path: the same files as Dagster's own storage, so a stock
instance on the same DAGSTER_HOME (what `make dev` opens afterwards) reads every event back."""

from __future__ import annotations

import dagster as dg
import pytest

from energy_assets.devtools import sqlite_events

pytestmark = pytest.mark.filterwarnings("ignore:Parameter `backfill_policy`")


def _defs() -> dg.Definitions:
    hourly = dg.HourlyPartitionsDefinition(start_date="2026-01-01-00:00")

    @dg.asset(partitions_def=hourly, backfill_policy=dg.BackfillPolicy.single_run())
    def hours() -> int:
        return 1

    class Nothing(dg.IOManager):
        def handle_output(self, context, obj) -> None:
            pass

        def load_input(self, context) -> None:
            return None

    return dg.Definitions(
        assets=[hours],
        jobs=[dg.define_asset_job("hours_job", [hours])],
        resources={"io_manager": Nothing()},
    )


@pytest.mark.parametrize("batch_size", [None, "10000"])
def test_events_written_with_reused_engines_read_back_with_dagsters_own_storage(
    tmp_path, monkeypatch, batch_size
):
    # With a batch size, the range run's materialisations reach store_event_batch.
    if batch_size:
        monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", batch_size)
    else:
        monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE", raising=False)
    batches: list[int] = []  # materialisations per batch
    storage_class = sqlite_events.ReusedEngineSqliteEventLogStorage
    original = storage_class.store_event_batch

    def counted(self, events):
        kinds = {event.dagster_event_type for event in events}
        if kinds == {dg.DagsterEventType.ASSET_MATERIALIZATION}:
            batches.append(len(events))
        return original(self, events)

    monkeypatch.setattr(storage_class, "store_event_batch", counted)
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert sqlite_events.use_for(instance)
        assert isinstance(
            instance.event_log_storage, sqlite_events.ReusedEngineSqliteEventLogStorage
        )
        result = (
            _defs()
            .resolve_job_def("hours_job")
            .execute_in_process(
                instance=instance,
                tags={
                    "dagster/asset_partition_range_start": "2026-01-01-00:00",
                    "dagster/asset_partition_range_end": "2026-01-01-05:00",
                },
            )
        )
        assert result.success
        written = len(instance.get_records_for_run(result.run_id, limit=1000).records)
    assert batches == ([6] if batch_size else [])

    with dg.DagsterInstance.from_config(str(tmp_path)) as stock:
        assert not isinstance(
            stock.event_log_storage, sqlite_events.ReusedEngineSqliteEventLogStorage
        )
        assert stock.get_materialized_partitions(dg.AssetKey("hours")) == {
            f"2026-01-01-0{h}:00" for h in range(6)
        }
        records = stock.get_records_for_run(result.run_id, limit=1000).records
        assert len(records) == written > 6
        materialised = [
            r.event_log_entry.dagster_event.partition
            for r in records
            if r.event_log_entry.dagster_event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
        ]
        assert sorted(materialised) == [f"2026-01-01-0{h}:00" for h in range(6)]
        latest = stock.get_latest_materialization_event(dg.AssetKey("hours"))
        assert latest is not None and latest.run_id == result.run_id
        # The index shard holds each hour's event too (what the partitions page reads).
        fetched = stock.fetch_materializations(dg.AssetKey("hours"), limit=100).records
        assert sorted(r.partition_key for r in fetched) == materialised
        assert stock.get_run_by_id(result.run_id).is_success


def test_a_configured_storage_other_than_stock_sqlite_is_left_alone():
    with dg.DagsterInstance.ephemeral() as instance:  # in-memory event log
        before = instance.event_log_storage
        assert not sqlite_events.use_for(instance)
        assert instance.event_log_storage is before
