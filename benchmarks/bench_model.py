"""Model benchmark: accuracy and speed of GlobalLGBMForecaster against the seasonal naives and
the course's sktime pipeline on the same backtest points, plus fit / predict time and peak memory
for 76, 1,000 and 10,000 synthetic series. Every ratio is measured in the same run.

    uv run python benchmarks/bench_model.py [--data FILE] [--cutoff ISO] [--origins 7]
        [--repeats 3] [--sizes 76,1000,10000] [--skip-course] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import warnings

import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._machine import cpu_model, machine_description  # noqa: E402
from energy_assets.devtools import SAMPLE_DATA_PATH  # noqa: E402
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35

DATA = str(SAMPLE_DATA_PATH)


def machine() -> dict:
    import lightgbm

    return {
        "description": machine_description(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "lightgbm": lightgbm.__version__,
        "load_average_1m": os.getloadavg()[0],
    }


def accuracy(args) -> dict:
    from energy_assets.features.engineering import read_consumption_file as read_api_file
    from energy_assets.metrics import score
    from energy_assets.training.backtest import backtest

    consumption = read_api_file(args.data)
    runs = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        result = backtest(consumption, args.cutoff, args.origins)
        runs.append((time.perf_counter() - started, result))
    total_s = statistics.median(r[0] for r in runs)
    result = runs[-1][1]
    out = {
        "points": result.metrics["model"]["n_points"],
        "fit_seconds": [round(r[1].fit_seconds, 2) for r in runs],
        "predict_seconds": [round(r[1].predict_seconds, 3) for r in runs],
        "end_to_end_seconds_median": round(total_s, 2),
        "metrics": result.metrics,
        # The field's units (OpenSTEF): rMAE, rCRPS, skill vs the lag-168 basecase, by lead time.
        "field_metrics": result.field_metrics,
    }
    if not args.skip_course:
        from energy_assets.devtools.course_pipeline import course_backtest

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            started = time.perf_counter()
            course, timings = course_backtest(consumption, args.cutoff, args.origins)
            course_total = time.perf_counter() - started
        points = result.predictions.merge(
            course, on=["area", "segment", "forecast_origin", "datetime_utc", "horizon_hours"]
        )
        if len(points) != len(result.predictions):
            raise RuntimeError("the course pipeline did not predict the same points")
        out["course"] = {
            **{k: round(v, 2) for k, v in timings.items()},
            "end_to_end_seconds": round(course_total, 2),
            "metrics": score(points, "course_predicted"),
        }
        out["metrics"]["course_pipeline"] = out["course"]["metrics"]
        out["speedup_end_to_end_vs_course"] = round(course_total / total_s, 1)
    model_mape = out["metrics"]["model"]["mape"]
    out["mape_reduction_vs"] = {
        name: round(1 - model_mape / m["mape"], 3)
        for name, m in out["metrics"].items()
        if name != "model"
    }
    return out


def scale_one(n_series: int) -> dict:
    """Runs in a fresh subprocess so peak RSS belongs to this size alone."""
    from energy_assets.features.engineering import clean_consumption
    from energy_assets.training.forecaster import GlobalLGBMForecaster

    try:
        from energy_assets.devtools.synth import synthesize
    except ImportError as error:  # the synth helper owns the generator
        raise SystemExit(
            "energy_assets.devtools.synth.synthesize is needed for the scale runs"
        ) from error
    # 27 days like the real slice; forecasts from its last hour.
    raw = synthesize(n_series, "2022-12-21T16:00", "2023-01-17T23:00", seed=0)
    clean = clean_consumption(raw, DE35)
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model = GlobalLGBMForecaster()
    started = time.perf_counter()
    model.fit(clean)
    fit_s = time.perf_counter() - started
    predict_s = []
    for _ in range(3):
        started = time.perf_counter()
        forecast = model.predict(clean)
        predict_s.append(time.perf_counter() - started)
    return {
        "series": n_series,
        "rows": len(clean),
        "fit_seconds": round(fit_s, 2),
        "predict_seconds_median": round(statistics.median(predict_s), 3),
        "forecast_rows": len(forecast),
        "peak_rss_mb_after_data": round(rss_data / 1024, 0),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
    }


def scale(sizes) -> list[dict]:
    rows = []
    for n in sizes:
        proc = subprocess.run(
            [sys.executable, __file__, "--scale-one", str(n)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            rows.append({"series": n, "error": proc.stderr.strip().splitlines()[-1:]})
        else:
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    return rows


def report(acc: dict, sizes: list[dict], info: dict) -> str:
    lines = [
        info["description"],
        f"machine: {info['cpu']}, {info['cores']} cores, python {info['python']}, "
        f"lightgbm {info['lightgbm']}, load {info['load_average_1m']:.1f} at start",
        f"backtest points: {acc['points']}",
        f"{'method':<22}{'MAPE':>8}{'WAPE':>8}{'med.series':>12}{'model better by':>17}",
    ]
    for name, m in acc["metrics"].items():
        better = "" if name == "model" else f"{acc['mape_reduction_vs'][name]:+.1%}"
        lines.append(
            f"{name:<22}{m['mape']:>8.2%}{m['wape']:>8.2%}{m['median_series_mape']:>12.2%}{better:>17}"
        )
    lines.append(
        f"model fit s {acc['fit_seconds']}  predict s (7 origins x 76 series) {acc['predict_seconds']}"
        f"  end-to-end median {acc['end_to_end_seconds_median']} s"
    )
    if "course" in acc:
        c = acc["course"]
        lines.append(
            f"course pipeline: fit {c['fit_seconds']} s, predict {c['predict_seconds']} s, "
            f"end-to-end {c['end_to_end_seconds']} s -> ours is {acc['speedup_end_to_end_vs_course']}x faster"
        )
    lines.append(f"{'series':>8}{'rows':>12}{'fit s':>9}{'predict s':>11}{'peak RSS MB':>13}")
    for r in sizes:
        if "error" in r:
            lines.append(f"{r['series']:>8}  error: {r['error']}")
        else:
            lines.append(
                f"{r['series']:>8}{r['rows']:>12}{r['fit_seconds']:>9}"
                f"{r['predict_seconds_median']:>11}{r['peak_rss_mb']:>13}"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=DATA)
    parser.add_argument("--cutoff", default="2023-01-10T22:00")
    parser.add_argument("--origins", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="76,1000,10000")
    parser.add_argument("--skip-course", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--json")
    parser.add_argument("--scale-one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scale_one:
        warnings.simplefilter("ignore")
        print(json.dumps(scale_one(args.scale_one)))
        return 0
    info = machine()
    acc = accuracy(args) if not args.skip_accuracy else {"points": 0, "metrics": {}}
    sizes = scale([int(s) for s in args.sizes.split(",") if s])
    text = report(acc, sizes, info) if acc["metrics"] else json.dumps(sizes, indent=1)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "accuracy": acc, "scale": sizes}, f, indent=2, default=str)
    return 0


if __name__ == "__main__":
    pd.options.mode.chained_assignment = None
    sys.exit(main())
