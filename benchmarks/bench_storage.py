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

from energy_assets.storage.parquet_store import ParquetStore
from energy_assets_tests.fixtures.gcs import start_emulator

SERIES = 76


def machine() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}"


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


def bench(store: ParquetStore, frames: dict[str, pd.DataFrame]) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    store.write_many("raw_consumption", frames)
    t1 = time.perf_counter()
    df = store.read_many("raw_consumption", list(frames))
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, len(df)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=int, default=8760)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    frames = hourly_frames(args.hours)
    print(f"{args.hours} objects x {SERIES} rows, max_workers={args.workers}")

    with tempfile.TemporaryDirectory() as tmp:
        w, r, n = bench(ParquetStore(tmp, max_workers=args.workers), frames)
        print(f"local folder : write_many {w:6.2f} s   read_many {r:6.2f} s   ({n} rows)")

    emulator = start_emulator()
    try:
        os.environ["STORAGE_EMULATOR_HOST"] = emulator.host
        emulator.make_bucket("bench")
        store = ParquetStore("gs://bench/energy", emulator.client(), max_workers=args.workers)
        w, r, n = bench(store, frames)
        print(f"GCS emulator : write_many {w:6.2f} s   read_many {r:6.2f} s   ({n} rows)")
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
