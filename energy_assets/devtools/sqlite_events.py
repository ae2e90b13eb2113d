"""A cheaper write path for the demo's embedded sqlite event log, same files on disk.

Dagster's `SqliteEventLogStorage` builds a new SQLAlchemy engine for every statement it runs (one
per event, two for an asset event: the run's shard and the index shard), so each event pays the
engine's creation and compiles its SQL again (the compiled cache lives on the engine). Profiled in
the demo (py-spy, the weather backfill): 85 % of the step in `store_event`, 41 % of that in
creating engines and 18 % in committing. This subclass keeps one engine per shard (still
`NullPool`: no connection is held open between statements, so other processes see the files as
before) and commits without an fsync per transaction (`synchronous=NORMAL`, safe in the WAL mode
Dagster sets: a crash of the process loses nothing, a power cut may lose the last events). With
`DAGSTER_EVENT_BATCH_SIZE` set (the demo sets it, as deploy/ does for Postgres) a range run's
materialisations are written as one transaction per shard (`store_event_batch`), as Dagster's
Postgres storage writes them; the stock sqlite storage writes them one by one.

Only the demo uses it (`use_for`): the files are the stock storage's, so `make dev` afterwards
reads them with Dagster's own class.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)

# Engines kept at once (one per run shard the process writes, plus the index shard).
MAX_ENGINES = 32


class ReusedEngineSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` with one engine per shard instead of one per statement."""

    def __init__(self, base_dir: str, inst_data: Any = None) -> None:
        super().__init__(base_dir, inst_data=inst_data)
        self._engines: dict[str, Any] = {}

    def _engine(self, shard: str) -> Any:
        engine = self._engines.get(shard)
        if engine is None:
            from dagster._core.storage.sql import create_engine
            from sqlalchemy import event
            from sqlalchemy.pool import NullPool

            engine = create_engine(
                self.conn_string_for_shard(shard),
                poolclass=NullPool,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            )
            event.listen(engine, "connect", _no_fsync_per_commit)
            if len(self._engines) >= MAX_ENGINES:
                oldest = next(iter(self._engines))
                self._engines.pop(oldest).dispose()
            self._engines[shard] = engine
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Any]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def store_event_batch(self, events: Sequence[Any]) -> None:
        """A batch of one run's materialisations (or observations) in one transaction per shard,
        as Dagster's Postgres storage writes them, instead of one event at a time: each row of
        the run's shard and of the index shard, every event's tags, and the asset's latest
        event (the batch's last, as Postgres records it). Other batches go event by event."""
        from dagster import DagsterEventType

        types = {event.get_dagster_event().event_type for event in events}
        runs = {event.run_id for event in events}
        if len(runs) != 1 or types not in (
            {DagsterEventType.ASSET_MATERIALIZATION},
            {DagsterEventType.ASSET_OBSERVATION},
        ):
            super().store_event_batch(events)
            return
        with self.run_connection(events[0].run_id) as conn:
            conn.execute(self.prepare_insert_event_batch(events))
        with self.index_transaction() as conn:
            ids: list[int] = [
                _inserted_id(conn.execute(self.prepare_insert_event(event))) for event in events
            ]
            self._store_asset_event_tags(conn, events, ids)
            self._store_asset_event(conn, events[-1], ids[-1])

    def dispose(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
        super().dispose()


def _inserted_id(result: Any) -> int:
    key = result.inserted_primary_key
    if key is None or key[0] is None:
        raise RuntimeError("sqlite returned no id for an inserted event")
    return int(key[0])


def _no_fsync_per_commit(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def use_for(instance: Any) -> bool:
    """Give `instance` the reused-engine storage if its event log is Dagster's stock sqlite one
    (a Postgres or other configured storage is left alone). Returns whether it did."""
    current = instance._event_storage  # noqa: SLF001 - Dagster has no setter for it
    if type(current) is not SqliteEventLogStorage:
        return False
    replacement = ReusedEngineSqliteEventLogStorage(current._base_dir)  # noqa: SLF001
    replacement.register_instance(instance)
    instance._event_storage = replacement  # noqa: SLF001
    current.dispose()
    return True
