"""The `weather` table's size on the shared DMI file with leads 0..24 and 0..48 (decision 0007:
WEATHER_LEAD_HOURS went 24 -> 48 for the day-ahead products).

    python3 -m uv run python -m benchmarks.weather_table_size [WEATHER_FILE]

Prints rows, in-memory MB, one-parquet MB and kB per hourly partition (ParquetStore, first week).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

import pandas as pd

from energy_assets.contracts import HOUR_KEY_FORMAT, WEATHER
from energy_assets.ingestion import weather_files
from energy_assets.storage.parquet_store import ParquetStore

SHARED_WEATHER = "/work/shared/data/weather_dmi_national_hourly.csv.gz"


def _bytes(folder: str) -> int:
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(folder) for f in fs)


def main(path: str = SHARED_WEATHER) -> None:
    hourly = weather_files.read_weather_file(path)
    start = hourly["datetime_utc"].min()
    end = hourly["datetime_utc"].max() + pd.Timedelta(hours=1)
    for leads in (24, 48):
        weather_files.WEATHER_LEAD_HOURS = leads  # issue_table's reach, for this measurement
        started = time.perf_counter()
        table = weather_files.issue_table(hourly, start, end)
        built = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as folder:
            table.to_parquet(f"{folder}/all.parquet")
            one_file = os.path.getsize(f"{folder}/all.parquet")
            store = ParquetStore(f"{folder}/store")
            week = table[table["issued_utc"] < start + pd.Timedelta(days=7)]
            for hour, rows in week.groupby("issued_utc"):
                store.write(WEATHER.name, hour.strftime(HOUR_KEY_FORMAT), rows)
            per_hour = _bytes(f"{folder}/store") / week["issued_utc"].nunique()
        print(
            f"leads 0..{leads}: {len(table):,} rows, "
            f"{table.memory_usage(deep=True).sum() / 1e6:.1f} MB in memory, "
            f"{one_file / 1e6:.2f} MB as one parquet, {per_hour / 1e3:.1f} kB per hourly "
            f"partition, built in {built:.2f} s"
        )


if __name__ == "__main__":
    main(*sys.argv[1:])
