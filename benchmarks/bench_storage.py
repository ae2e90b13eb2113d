"""Storage benchmark: write_many + read_many of a year of hourly partitions.

76 series x 8,760 hours = 8,760 objects of 76 rows, on a local folder and on the GCS emulator
(the patched in-memory emulator the tests use, in its own process). Prints wall times and the
machine. Run: `uv run python benchmarks/bench_storage.py [--hours 8760]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

import numpy as np
import pandas as pd

from benchmarks._machine import cpu_model
from energy_assets.storage.parquet_store import ParquetStore, split_by_partition
from energy_assets_tests.fixtures.gcs import start_emulator

SERIES = 76


def machine() -> str:
    return f"{os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}"


def hourly_frames(hours: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(0)
    start = pd.Timestamp("2023-01-01T00:00")
    areas = np.repeat(["DK1", "DK2"], SERIES // 2)
    codes = np.tile(np.arange(SERIES // 2) + 100, 2)
    frames = {}
    for h in range(hours):
        hour = start + pd.Timedelta(hours=h)
        frames[hour.strftime("%Y-%m-%d-%H:%M")] = pd.DataFrame(
            {
                "HourUTC": np.full(SERIES, hour.to_datetime64()),
                "HourDK": np.full(SERIES, (hour + pd.Timedelta(hours=1)).to_datetime64()),
                "PriceArea": areas,
                "ConsumerType_DE35": codes.astype("int64"),
                "TotalCon": rng.gamma(2.0, 500.0, SERIES),
            }
        )
    return frames


def bench(store: ParquetStore, frames: dict[str, pd.DataFrame]) -> str:
    """write_many of per-hour pandas frames; the IO manager's path for a single-run range
    (split one frame into zero-copy Arrow slices, then write_many); one read_many."""
    keys = list(frames)
    t0 = time.perf_counter()
    store.write_many("raw_per_frame", frames)
    t1 = time.perf_counter()
    whole = pd.concat(frames.values(), ignore_index=True)
    t2 = time.perf_counter()
    store.write_many("raw_consumption", split_by_partition(whole, "HourUTC", keys))
    t3 = time.perf_counter()
    df = store.read_many("raw_consumption", keys)
    t4 = time.perf_counter()
    assert len(df) == len(whole)
    return (
        f"write_many(dict of frames) {t1 - t0:6.2f} s | range write (split + write_many) "
        f"{t3 - t2:6.2f} s | read_many {t4 - t3:6.2f} s ({len(df)} rows)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=int, default=8760)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    frames = hourly_frames(args.hours)
    print(f"{args.hours} objects x {SERIES} rows, max_workers={args.workers}")
    print(f"load average before: {os.getloadavg()[0]:.1f} (other work on the machine skews times)")

    with tempfile.TemporaryDirectory() as tmp:
        print("local folder :", bench(ParquetStore(tmp, max_workers=args.workers), frames))

    emulator = start_emulator()
    try:
        os.environ["STORAGE_EMULATOR_HOST"] = emulator.host
        emulator.make_bucket("bench")
        store = ParquetStore("gs://bench/energy", emulator.client(), max_workers=args.workers)
        print("GCS emulator :", bench(store, frames))
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
