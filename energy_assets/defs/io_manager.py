"""The parquet IO manager: one object per asset partition in a local folder or a GCS bucket.

Paths and atomicity come from `energy_assets.storage.parquet_store.ParquetStore` (hive-style
``{root}/{asset}/date=YYYY-MM-DD/hour=HH/data.parquet``), reached through the `storage`
resource, so the IO manager and the assets share one storage configuration.

Per asset, two metadata keys steer it:
- asset definition metadata ``partition_column`` (e.g. "HourUTC", "datetime_utc",
  "forecast_origin"): in a range run (a backfill unit, `Partitions.backfill`) the asset returns
  one frame for the whole range; the IO manager splits it by that column (floored to the hour
  for hourly keys, the day for daily keys, UTC) and writes every partition's object in parallel;
  the metadata's `uri` is then the asset's folder (Dagster copies it onto every partition).
  A partition of the range with no rows, or rows outside the range, fail the run before anything
  is written.
- input metadata ``allow_missing_partitions: True`` (on an `AssetIn`): partitions of the loaded
  window that were never materialised are skipped instead of failing (lag windows that reach
  before the first materialised hour).
"""

from collections.abc import Sequence
from typing import Any

import dagster as dg

from energy_assets.defs.resources import StorageResource

PARTITION_COLUMN = "partition_column"
ALLOW_MISSING_PARTITIONS = "allow_missing_partitions"


def _asset_name(context: dg.InputContext | dg.OutputContext) -> str:
    # Key prefixes become folders: AssetKey(["energy", "raw"]) -> energy/raw/...
    return "/".join(context.asset_key.path)


class ParquetIOManager(dg.ConfigurableIOManager):
    """Stores asset values as parquet, one object per partition, where `storage` says.

    Reading a partition window is one parallel read; writes are atomic per object.
    """

    storage: StorageResource

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        import pandas as pd

        from energy_assets.storage.parquet_store import split_by_partition

        frame = obj if isinstance(obj, pd.DataFrame) else _to_pandas(obj)
        store = self.storage.store()
        asset = _asset_name(context)
        if not context.has_asset_partitions:
            self._record(context, store.write(asset, None, frame), len(frame), 1)
            return
        keys = list(context.asset_partition_keys)
        if len(keys) == 1:
            self._record(context, store.write(asset, keys[0], frame), len(frame), 1)
            return
        column = (context.definition_metadata or {}).get(PARTITION_COLUMN)
        if not column:
            raise ValueError(
                f"{asset} materialised {len(keys)} partitions in one run but its definition has "
                f"no '{PARTITION_COLUMN}' metadata naming the column to split the frame by"
            )
        frames = split_by_partition(frame, str(column), keys, asset)
        store.write_many(asset, frames)
        # Dagster copies this onto every partition's event: the asset's folder holds for each.
        self._record(context, store.uri(asset) + "/", len(frame), len(keys))

    def _record(self, context: dg.OutputContext, uri: str, rows: int, partitions: int) -> None:
        link = dg.MetadataValue.url(uri) if self.storage.is_gcs else dg.MetadataValue.path(uri)
        metadata: dict[str, Any] = {"uri": link, "rows": rows, "partitions_written": partitions}
        context.add_output_metadata(metadata)

    def load_input(self, context: dg.InputContext) -> Any:
        store = self.storage.store()
        asset = _asset_name(context)
        if not context.has_asset_partitions:
            return store.read(asset, None)
        allow_missing = bool((context.definition_metadata or {}).get(ALLOW_MISSING_PARTITIONS))
        keys = list(context.asset_partition_keys)
        frame = store.read_many(asset, keys, missing_ok=allow_missing)
        context.log.debug(f"loaded {len(keys)} partitions of {asset}: {len(frame)} rows")
        return frame


def _to_pandas(obj: Any) -> Any:
    if hasattr(obj, "to_pandas"):  # polars / Arrow
        return obj.to_pandas()
    raise TypeError(f"ParquetIOManager stores DataFrames, got {type(obj).__name__}")


STEP_IO_MANAGER = "step_io_manager"
STEP_VALUES_FOLDER = "_step_values"
STEP_VALUE_TYPE_KEY = "__step_value__"


class StepValueIOManager(dg.ConfigurableIOManager):
    """Small JSON values passed between the ops of one run: the typed training steps' values
    (`training.steps.TrainingPlan`, `TuningShare`, `ShareResult`) by their `to_dict` /
    `from_dict`, or plain JSON values.

    Stored through the same `storage` as the assets, under
    ``{root}/_step_values/{run_id}/{step_key}/{output}[/{mapping_key}].json``, so steps in other
    processes (multiprocess executor) or pods (k8s_job_executor) read what earlier steps wrote.
    Holds no secrets: plans carry names and ids, never storage URLs.
    """

    storage: StorageResource

    @staticmethod
    def _relpath(identifier: Sequence[str]) -> str:
        return f"{STEP_VALUES_FOLDER}/" + "/".join(identifier) + ".json"

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        import json

        from energy_assets.training.steps import STEP_VALUE_TYPES

        relpath = self._relpath(context.get_identifier())
        name = type(obj).__name__
        if STEP_VALUE_TYPES.get(name) is type(obj):
            # A typed training step value: stored with its type's name to be rebuilt on load.
            obj = {STEP_VALUE_TYPE_KEY: name, "value": obj.to_dict()}
        data = json.dumps(obj, sort_keys=True).encode()
        self.storage.store().write_bytes(relpath, data, content_type="application/json")

    def load_input(self, context: dg.InputContext) -> Any:
        import json

        upstream = context.upstream_output
        assert upstream is not None, "a step value is always some step's output"
        relpath = self._relpath(upstream.get_identifier())
        value = json.loads(self.storage.store().read_bytes(relpath))
        if isinstance(value, dict) and STEP_VALUE_TYPE_KEY in value:
            from energy_assets.training.steps import STEP_VALUE_TYPES

            return STEP_VALUE_TYPES[value[STEP_VALUE_TYPE_KEY]].from_dict(value["value"])
        return value
