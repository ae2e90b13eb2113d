"""False alarms of the plausibility rule (contracts.PLAUSIBILITY) on real data: how many hours it
flags on the bundled DE35 slice (76 series, 27 days with Christmas and New Year) and on five years
of DK2's gross consumption, at the shipped max_ratio and at tighter ones, and how far outside its
series' recent range the most unusual real hour lies (the margin a real meter error must beat).

    uv run python benchmarks/bench_plausibility.py [--dk2 FILE] [--ratios 10,5,3]

The DK2 file has columns HourUTC, HourDK, PriceArea, GrossConsumptionMWh (MWh; x1000 for kWh).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._machine import machine_description  # noqa: E402
from energy_assets.contracts import PLAUSIBILITY, hour_text  # noqa: E402
from energy_assets.devtools import SAMPLE_DATA_PATH  # noqa: E402
from energy_assets.features.engineering import read_consumption_file  # noqa: E402
from energy_assets.features.plausibility import judge_values  # noqa: E402
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35  # noqa: E402

DK2 = "/work/shared/data/ProductionConsumptionSettlement_DK2.csv.gz"


def read_dk2(path: str) -> pd.DataFrame:
    raw = pd.read_csv(path)
    return pd.DataFrame(
        {
            "datetime_utc": pd.to_datetime(raw["HourUTC"]).dt.tz_localize("UTC"),
            "area": raw["PriceArea"].astype(object),
            "segment": "total",
            "energy_consumption": raw["GrossConsumptionMWh"].astype("float64") * 1000,
        }
    )


def report(name: str, frame: pd.DataFrame, ratios: list[float]) -> None:
    started = time.perf_counter()
    verdict = judge_values(frame)
    seconds = time.perf_counter() - started
    judged = verdict["recent_high"].notna()
    value = frame["energy_consumption"]
    # How many times outside [recent_low, recent_high] each judged value lies (1 = inside).
    outside = np.maximum(value / verdict["recent_high"], verdict["recent_low"] / value)[judged]
    worst = outside.idxmax()
    print(
        f"{name}: {len(frame):,} rows, {frame['datetime_utc'].nunique():,} hours, "
        f"{frame.groupby(['area', 'segment']).ngroups} series, {int(judged.sum()):,} rows judged "
        f"in {seconds:.2f} s; zeros: {int((value == 0).sum())}; most unusual real value "
        f"{outside.max():.2f}x outside its range: {hour_text(frame.at[worst, 'datetime_utc'])} "
        f"{frame.at[worst, 'area']}/{frame.at[worst, 'segment']} {value[worst]:,.0f} kWh "
        f"(range {verdict.at[worst, 'recent_low']:,.0f}-{verdict.at[worst, 'recent_high']:,.0f})"
    )
    for ratio in ratios:
        flagged = judge_values(frame, replace(PLAUSIBILITY, max_ratio=ratio))["implausible"]
        rows = frame[flagged]
        listed = ", ".join(
            f"{hour_text(r.datetime_utc)} {r.area}/{r.segment}" for r in rows.head(8).itertuples()
        )
        shipped = " (shipped)" if ratio == PLAUSIBILITY.max_ratio else ""
        print(
            f"  max_ratio {ratio:g}{shipped}: {len(rows)} rows in "
            f"{rows['datetime_utc'].nunique()} hours flagged" + (f": {listed}" if listed else "")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dk2", default=DK2)
    parser.add_argument("--ratios", default="10,5,3")
    args = parser.parse_args()
    ratios = [float(r) for r in args.ratios.split(",")]
    print(machine_description())
    report("DE35 slice", read_consumption_file(SAMPLE_DATA_PATH, DE35), ratios)
    if os.path.exists(args.dk2):
        report("DK2, five years", read_dk2(args.dk2), ratios)
    else:
        print(f"{args.dk2} not found: DK2 skipped")


if __name__ == "__main__":
    main()
