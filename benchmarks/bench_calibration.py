"""Interval calibration benchmark: coverage and width of the p10..p90 band, before and after the
split-conformal calibration (training/intervals.py), on DK2 cutoffs and the DE35 slice.

Per (data, cutoff, seed) it fits the forecaster once (with DMI weather on DK2, so the served
forecast is what the evidence rule serves), forecasts the daily origins after the cutoff, and
keeps three frames: the served test forecasts, the calibration holdout's out-of-sample forecasts
(no-weather model; and the weather mix when weather serves) and the fit's quantiles before
calibration. Variants of the calibration (holdout days, horizon band width) are then scored
offline from those frames, so one fit serves every variant. docs/decisions/0011 holds a run.

    uv run python benchmarks/bench_calibration.py --cutoffs DK2:2023-03-01T00:00,DE35 \
        [--seeds 0] [--origins 28] [--out DIR] [--report-only]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks._machine import machine_description  # noqa: E402
from energy_assets.devtools import SAMPLE_DATA_PATH, WEATHER_SAMPLE_PATH  # noqa: E402

DK2 = "/work/shared/data/ProductionConsumptionSettlement_DK2.csv.gz"
DE35_CUTOFF = "2023-01-10T22:00"


def run_one(data: str, frame, weather, cutoff: str, origins: int, seed: int, out: str) -> dict:
    from energy_assets.contracts import utc
    from energy_assets.training import intervals
    from energy_assets.training.backtest import daily_origins
    from energy_assets.training.forecaster import GlobalLGBMForecaster, _scored

    before: list = []
    original = intervals.conformal_quantiles

    def recording(quantiles, *args, **kwargs):
        before.append(dict(quantiles))
        return original(quantiles, *args, **kwargs)

    intervals.conformal_quantiles = recording
    try:
        cut = utc(cutoff)
        train = frame[frame["datetime_utc"] <= cut]
        origin_list = daily_origins(cut, origins)
        history = frame[frame["datetime_utc"] <= max(origin_list)]
        started = time.perf_counter()
        model = GlobalLGBMForecaster(random_state=seed).fit(train, weather)
        fit_seconds = time.perf_counter() - started
        served = model.predict(history, origin_list, weather)
        plain = model._predict_one_model(history, origin_list)
    finally:
        intervals.conformal_quantiles = original
    tag = f"{data}_{cutoff[:10]}_{seed}"
    _scored(served, frame).to_parquet(f"{out}/{tag}_served.parquet")
    _scored(plain, frame).to_parquet(f"{out}/{tag}_plain.parquet")
    calibration = model._calibration
    if calibration is not None:
        calibration.points.to_parquet(f"{out}/{tag}_holdout_plain.parquet")
    if model._weather_calibration is not None:
        model._weather_calibration.to_parquet(f"{out}/{tag}_holdout_mix.parquet")
    weather_used = bool(model.weather_decision.get("weather_used"))
    info = {
        "data": data,
        "cutoff": cutoff,
        "seed": seed,
        "weather_used": weather_used,
        "fit_seconds": fit_seconds,
        "before_quantiles": before[0] if before else model.interval_quantiles,
        "after_quantiles": model.interval_quantiles,
        "weather_quantiles": model.weather_model.interval_quantiles if weather_used else None,
        "holdout_days": len(calibration.origins) if calibration is not None else 0,
    }
    if weather_used and len(before) > 1:
        info["weather_before_quantiles"] = before[1]
    with open(f"{out}/{tag}.json", "w") as f:
        json.dump(info, f)
    return info


def coverage_width(points: pd.DataFrame, quantiles: dict) -> tuple[float, float]:
    """Share of actuals inside the band and its mean relative width (p90 - p10) / prediction."""
    h = points["horizon_hours"].to_numpy()
    q = np.array([quantiles.get(str(int(k)), [0.0, 0.0]) for k in h])
    p, a = points["prediction"].to_numpy(), points["actual"].to_numpy()
    low, high = p * np.exp(q[:, 0]), p * np.exp(q[:, 1])
    return float(((low <= a) & (a <= high)).mean()), float(((high - low) / p).mean())


def report(out: str) -> pd.DataFrame:
    """Coverage / width of the served forecasts per run: before (the fit's in-sample / holdout
    mix), and split-conformal on the last `days` holdout origins per band of `band` lead times
    (scaled by `scale`); d14 b6 is what ships."""
    import glob

    from energy_assets.training import intervals

    rows = []
    for path in sorted(glob.glob(f"{out}/*.json")):
        info = json.load(open(path))
        tag = path[: -len(".json")]
        served = pd.read_parquet(tag + "_served.parquet")
        name = "_holdout_mix.parquet" if info["weather_used"] else "_holdout_plain.parquet"
        if not os.path.exists(tag + name):
            continue
        holdout = pd.read_parquet(tag + name)
        a, p = served["actual"], served["prediction"]
        row = {
            "data": info["data"],
            "cutoff": info["cutoff"][:10],
            "seed": info["seed"],
            "weather": info["weather_used"],
            "mape": f"{float(((a - p).abs() / a).mean()):.2%}",
        }
        cov, width = coverage_width(served, info["before_quantiles"])
        row["before"] = f"{cov:.1%} / {width:.3f}"
        for days, band_hours, scale in [
            (14, 6, 1.0),
            (14, 3, 1.0),
            (14, 24, 1.0),
            (21, 6, 1.0),
            (21, 6, 0.9),
            (21, 6, 0.8),
            (7, 6, 1.0),
        ]:
            recent = sorted(holdout["forecast_origin"].unique())[-days:]
            rows_ = holdout[holdout["forecast_origin"].isin(recent)]
            q = intervals.conformal_quantiles(
                {},
                rows_["actual"].to_numpy(),
                rows_["prediction"].to_numpy(),
                rows_["horizon_hours"].to_numpy(),
                band_hours,
            )
            q = {k: [v[0] * scale, v[1] * scale] for k, v in q.items()}
            cov, width = coverage_width(served, q)
            label = f"d{days} b{band_hours}" + (f" x{scale}" if scale != 1.0 else "")
            row[label] = f"{cov:.1%} / {width:.3f}"
        rows.append(row)
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 250, "display.max_columns", 40):
        print(table.T.to_string())
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cutoffs", required=True, help="DK2:ISO,... or DE35")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--origins", type=int, default=28)
    parser.add_argument("--out", default="/tmp/bench_calibration")
    parser.add_argument("--report-only", action="store_true", help="score the saved runs")
    args = parser.parse_args()
    if args.report_only:
        report(args.out)
        return
    os.makedirs(args.out, exist_ok=True)
    print(machine_description(), flush=True)
    from energy_assets.features.engineering import read_consumption_file
    from energy_assets.ingestion.weather_files import read_weather_file
    from energy_assets.sources import CONSUMPTION_DE35_HOUR, PRODUCTION_CONSUMPTION_SETTLEMENT

    weather = read_weather_file(WEATHER_SAMPLE_PATH)
    frames = {}
    for case in args.cutoffs.split(","):
        data, _, cutoff = case.partition(":")
        if data not in frames:
            frames[data] = (
                read_consumption_file(DK2, PRODUCTION_CONSUMPTION_SETTLEMENT)
                if data == "DK2"
                else read_consumption_file(str(SAMPLE_DATA_PATH), CONSUMPTION_DE35_HOUR)
            )
        for seed in (int(s) for s in args.seeds.split(",")):
            if data == "DE35":
                info = run_one(data, frames[data], None, DE35_CUTOFF, 7, seed, args.out)
            else:
                info = run_one(data, frames[data], weather, cutoff, args.origins, seed, args.out)
            print(json.dumps({k: v for k, v in info.items() if "quantiles" not in k}), flush=True)
    report(args.out)


if __name__ == "__main__":
    main()
