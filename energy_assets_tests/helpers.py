"""Small test-only helpers over the platform's objects (kept here, next to their only users)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable

from energy_assets.storage.parquet_store import ParquetStore


def exists(store: ParquetStore, asset: str, partition_key: str | None) -> bool:
    """Whether the partition's object is stored (a HEAD request on GCS, a stat locally)."""
    relpath = store.relpath(asset, partition_key)
    if store.is_gcs:
        return bool(store.bucket.blob(store._blob_name(relpath)).exists())
    return os.path.exists(store.uri(relpath))


def existing_keys(
    store: ParquetStore, asset: str, partition_keys: Iterable[str | None]
) -> list[str | None]:
    """The subset of `partition_keys` that have a stored object, in the given order."""
    return [key for key in partition_keys if exists(store, asset, key)]


def stop_process(process: subprocess.Popen, timeout: float) -> bool:
    """SIGTERM `process` and wait up to `timeout` seconds, then SIGKILL it. True if it ended on
    SIGTERM (already ended counts too); either way it has exited when this returns."""
    if process.poll() is not None:
        return True
    process.terminate()
    try:
        process.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return False
