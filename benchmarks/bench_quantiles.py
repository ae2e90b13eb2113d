"""Quantile benchmark: how well the forecaster's p10 / p50 / p90 are calibrated on the shared slice.

One backtest (train up to the cutoff, 7 daily origins after it) on the bundled DE35 slice; prints
MAPE, WAPE, the p10..p90 band's coverage (target 0.80 ± 0.05), the weighted pinball loss, the
coverage per horizon, and fit / predict seconds. The numbers in docs/decisions/0003-quantiles.md.

    uv run python benchmarks/bench_quantiles.py [--data FILE] [--cutoff ISO] [--origins 7]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from energy_assets.devtools import SAMPLE_DATA_PATH  # noqa: E402
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SAMPLE_DATA_PATH))
    parser.add_argument("--cutoff", default="2023-01-10T22:00")
    parser.add_argument("--origins", type=int, default=7)
    args = parser.parse_args(argv)

    from energy_assets.features.engineering import read_consumption_file
    from energy_assets.metrics import interval_coverage
    from energy_assets.training.backtest import backtest

    consumption = read_consumption_file(args.data, DE35)
    result = backtest(consumption, args.cutoff, args.origins)
    points = result.predictions
    per_horizon = {
        int(h): round(interval_coverage(g["actual"], g["p10"], g["p90"]), 3)
        for h, g in points.groupby("horizon_hours")
    }
    model = result.metrics["model"]
    out = {
        "points": model["n_points"],
        "mape": model["mape"],
        "wape": model["wape"],
        "coverage": model["coverage"],
        "pinball": model["pinball"],
        "pinball_seasonal_naive_24": result.metrics["seasonal_naive_24"]["pinball"],
        "coverage_per_horizon": per_horizon,
        "rmae": result.field_metrics["rmae"],
        "rcrps": result.field_metrics["rcrps"],
        "skill": result.field_metrics["skill"],
        "fit_seconds": result.fit_seconds,
        "predict_seconds": result.predict_seconds,
    }
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
