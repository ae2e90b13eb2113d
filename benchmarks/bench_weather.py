"""Weather benchmark: MAPE, WAPE and 80 % coverage with and without weather, with observed weather
as a perfect forecast, with a simulated day-ahead forecast and with persistence, what the evidence
rule serves, and fit / predict cost.

On DK2's five real years (ProductionConsumptionSettlement) with DMI's national weather at several
cutoffs across seasons and seeds, and on the 27-day DE35 slice. One JSON line per run, then a
table; docs/decisions/0005-weather.md holds a run's figures.

    uv run python benchmarks/bench_weather.py [--dk2 FILE] [--cutoffs ISO,...] [--seeds 0,1]
        [--origins 28] [--skip-de35] [--features NAME,...] [--json OUT]

`--features` replaces the weather model's feature set for the run (an ablation; names from
`weather_features.all_weather_columns`); the weather model, its bag and its mix are as shipped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._machine import machine_description  # noqa: E402
from energy_assets.devtools import SAMPLE_DATA_PATH, WEATHER_SAMPLE_PATH  # noqa: E402
from energy_assets.features.engineering import read_consumption_file  # noqa: E402
from energy_assets.ingestion.weather_files import read_weather_file  # noqa: E402
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35  # noqa: E402
from energy_assets.sources import PRODUCTION_CONSUMPTION_SETTLEMENT as PCS  # noqa: E402
from energy_assets.training import weather_features as wf  # noqa: E402
from energy_assets.training.weather_backtest import VARIANTS, weather_backtest  # noqa: E402

DK2 = "/work/shared/data/ProductionConsumptionSettlement_DK2.csv.gz"
# The issue's winter cutoffs, and a summer one.
CUTOFFS = "2023-12-01T00:00,2024-01-01T00:00,2024-02-01T00:00,2024-11-01T00:00,2024-07-01T00:00"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dk2", default=DK2)
    parser.add_argument("--cutoffs", default=CUTOFFS)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--origins", type=int, default=28)
    parser.add_argument("--skip-de35", action="store_true")
    parser.add_argument("--features", default=None, help="comma-separated weather features")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if args.features:
        wf.WEATHER_FEATURES = tuple(args.features.split(","))
    print(f"weather features {wf.WEATHER_FEATURES}, bag {wf.WEATHER_BAG}, mix {wf.WEATHER_MIX}")
    print(machine_description(), flush=True)
    weather = read_weather_file(WEATHER_SAMPLE_PATH)
    runs = []
    cases = []
    if not args.skip_de35:
        de35 = read_consumption_file(str(SAMPLE_DATA_PATH), DE35)
        cases.append(("DE35 slice", de35, "2023-01-10T22:00", 7))
    if os.path.exists(args.dk2):
        dk2 = read_consumption_file(args.dk2, PCS)
        cases += [("DK2", dk2, cutoff, args.origins) for cutoff in args.cutoffs.split(",")]
    for data, frame, cutoff, origins in cases:
        for seed in (int(s) for s in args.seeds.split(",")):
            started = time.perf_counter()
            result = weather_backtest(frame, weather, cutoff, origins, random_state=seed)
            result.update(data=data, seed=seed, wall_seconds=time.perf_counter() - started)
            runs.append(result)
            print(json.dumps(result, default=str), flush=True)
    print()
    header = f"{'data':<11}{'cutoff':<18}{'seed':>4}  " + "".join(
        f"{v[:19] + ' MAPE':>26}" for v in VARIANTS
    )
    print(header + f"{'rule':>10}")
    for r in runs:
        m = r["metrics"]
        cells = "".join(
            f"{m[v]['mape']:>14.2%} {m[v]['wape']:>5.2%} {m[v].get('coverage', 0):>4.0%}"
            for v in VARIANTS
        )
        rule = "weather" if r["decision"]["weather_used"] else "none"
        print(f"{r['data']:<11}{r['cutoff'][:16]:<18}{r['seed']:>4}  {cells}{rule:>10}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(runs, out, default=str, indent=1)


if __name__ == "__main__":
    main()
