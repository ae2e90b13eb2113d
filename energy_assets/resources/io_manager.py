"""The parquet IO manager: one object per asset partition in a local folder or a GCS bucket.

Paths and atomicity come from `energy_assets.storage.parquet_store.ParquetStore` (hive-style
``{root}/{asset}/date=YYYY-MM-DD/hour=HH/data.parquet``).

Per asset, two metadata keys steer it:
- asset definition metadata ``partition_column`` (e.g. "HourUTC", "datetime_utc",
  "forecast_origin"): in a single-run backfill (`BackfillPolicy.single_run()`) the asset returns
  one frame for the whole range; the IO manager splits it by that column (floored to the hour
  for hourly keys, the day for daily keys, UTC) and writes every partition's object in parallel.
  A partition of the range with no rows, or rows outside the range, fail the run before anything
  is written.
- input metadata ``allow_missing_partitions: True`` (on an `AssetIn`): partitions of the loaded
  window that were never materialised are skipped instead of failing (lag windows that reach
  before the first materialised hour).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from dagster import (
    ConfigurableIOManager,
    InputContext,
    MetadataValue,
    OutputContext,
)
from dagster_gcp import GCSResource
from pydantic import Field

from energy_assets import config
from energy_assets.storage.parquet_store import (
    DAILY_KEY,
    HOURLY_KEY,
    ParquetStore,
    store_from_url,
    to_arrow,
)

PARTITION_COLUMN = "partition_column"
ALLOW_MISSING_PARTITIONS = "allow_missing_partitions"

__all__ = [
    "ALLOW_MISSING_PARTITIONS",
    "PARTITION_COLUMN",
    "ParquetIOManager",
    "split_by_partition",
    "store_from_url",
]


def _asset_name(context: InputContext | OutputContext) -> str:
    # Key prefixes become folders: AssetKey(["energy", "raw"]) -> energy/raw/...
    return "/".join(context.asset_key.path)


def _utc_naive(values: pd.Series) -> pd.Series:
    times = pd.to_datetime(values)
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    return times


def split_by_partition(
    frame: pd.DataFrame, column: str, partition_keys: list[str], asset: str = "asset"
) -> dict[str, pa.Table]:
    """Split one frame covering a partition range into {partition_key: Arrow table of its rows}.

    `column` holds UTC timestamps (naive or tz-aware); hourly keys ("2023-01-01-05:00") floor
    it to the hour, daily keys ("2023-01-01") to the day. Raises ValueError naming the partitions
    when a key has no rows or rows fall outside the range, so nothing half-correct is written.

    The frame is converted to Arrow once and sliced (zero-copy) per partition: converting
    8,760 small pandas frames one by one costs more than writing them.
    """
    if column not in frame.columns:
        raise ValueError(
            f"cannot split {asset}: partition_column '{column}' is not a column "
            f"(columns: {list(frame.columns)})"
        )
    if all(HOURLY_KEY.match(k) for k in partition_keys):
        unit, fmt = "h", "%Y-%m-%d-%H:%M"
    elif all(DAILY_KEY.match(k) for k in partition_keys):
        unit, fmt = "D", "%Y-%m-%d"
    else:
        raise ValueError(f"cannot split {asset} by time: unsupported keys {partition_keys[:3]}")
    floored = _utc_naive(frame[column]).dt.floor(unit).to_numpy()
    order = np.argsort(floored, kind="stable")
    floored = floored[order]
    starts: list[int] = (
        np.flatnonzero(np.r_[True, floored[1:] != floored[:-1]]).tolist() if len(floored) else []
    )
    labels = [pd.Timestamp(floored[i]).strftime(fmt) for i in starts]
    wanted = set(partition_keys)
    outside = [label for label in labels if label not in wanted]
    if outside:
        raise ValueError(
            f"{asset}: rows for {len(outside)} partition(s) outside the materialised range "
            f"{partition_keys[0]} .. {partition_keys[-1]}: {outside[:5]}; nothing was written"
        )
    present = set(labels)
    empty = [k for k in partition_keys if k not in present]
    if empty:
        raise ValueError(
            f"{asset}: {len(empty)} of {len(partition_keys)} partitions in the range have no rows "
            f"(by '{column}'): {empty[:5]}; nothing was written"
        )
    table = to_arrow(frame.reset_index(drop=True)).take(pa.array(order))
    bounds = [*starts, len(floored)]
    return {
        label: table.slice(bounds[i], bounds[i + 1] - bounds[i]) for i, label in enumerate(labels)
    }


class ParquetIOManager(ConfigurableIOManager):
    """Stores asset values as parquet, one object per partition, under `storage_url`.

    `storage_url` is a folder path or ``gs://bucket/prefix``; for gs:// the client comes from the
    nested dagster-gcp `GCSResource` (which honours ``STORAGE_EMULATOR_HOST``). Reading a
    partition window is one parallel read; writes are atomic per object.
    """

    storage_url: str = Field(
        default_factory=config.storage_url,
        description="Folder path or gs://bucket/prefix where asset values live.",
    )
    gcs: GCSResource = Field(
        default_factory=GCSResource,
        description="GCS client settings; only used for gs:// storage URLs.",
    )
    max_workers: int = Field(default=16, description="Threads for parallel reads and writes.")

    def store(self) -> ParquetStore:
        """The ParquetStore this IO manager writes to (assets use it to read windows directly)."""
        client = self.gcs.get_client() if self.storage_url.startswith("gs://") else None
        return store_from_url(self.storage_url, gcs_client=client, max_workers=self.max_workers)

    # -- writes ------------------------------------------------------------------------------

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        if obj is None:
            return
        frame = obj if isinstance(obj, pd.DataFrame) else _to_pandas(obj)
        store = self.store()
        asset = _asset_name(context)
        if not context.has_asset_partitions:
            uri = store.write(asset, None, frame)
            self._record(context, store, uri, len(frame), 1)
            return
        keys = list(context.asset_partition_keys)
        if len(keys) == 1:
            uri = store.write(asset, keys[0], frame)
            self._record(context, store, uri, len(frame), 1)
            return
        column = (context.definition_metadata or {}).get(PARTITION_COLUMN)
        if not column:
            raise ValueError(
                f"{asset} materialised {len(keys)} partitions in one run but its definition has "
                f"no '{PARTITION_COLUMN}' metadata naming the column to split the frame by"
            )
        frames = split_by_partition(frame, str(column), keys, asset)
        uris = store.write_many(asset, frames)
        self._record(context, store, uris[keys[0]], len(frame), len(keys), uris[keys[-1]])

    @staticmethod
    def _record(
        context: OutputContext,
        store: ParquetStore,
        uri: str,
        rows: int,
        partitions: int,
        last_uri: str | None = None,
    ) -> None:
        link = MetadataValue.url(uri) if store.is_gcs else MetadataValue.path(uri)
        metadata: dict[str, Any] = {"uri": link, "rows": rows, "partitions_written": partitions}
        if last_uri is not None:
            metadata["last_uri"] = last_uri
        context.add_output_metadata(metadata)

    # -- reads -------------------------------------------------------------------------------

    def load_input(self, context: InputContext) -> pd.DataFrame:
        store = self.store()
        asset = _asset_name(context)
        if not context.has_asset_partitions:
            return store.read(asset, None)
        allow_missing = bool((context.definition_metadata or {}).get(ALLOW_MISSING_PARTITIONS))
        keys = list(context.asset_partition_keys)
        frame = store.read_many(asset, keys, missing_ok=allow_missing)
        context.log.debug(f"loaded {len(keys)} partitions of {asset}: {len(frame)} rows")
        return frame


def _to_pandas(obj: Any) -> pd.DataFrame:
    if hasattr(obj, "to_pandas"):  # polars / Arrow
        return obj.to_pandas()
    raise TypeError(f"ParquetIOManager stores DataFrames, got {type(obj).__name__}")
