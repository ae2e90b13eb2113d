"""Tuning benchmark: Optuna trials per minute with 1 and with 2 worker processes on one study.

The retrain job's shape without Dagster around it: one `tuning.start_session`, then N worker
processes each calling `tuning.run_worker` on the shared study (Optuna and MLflow both on a real
local PostgreSQL, as in deploy/), each worker's LightGBM limited to its share of the cores
(`tuning.threads_per_worker`). Every configuration runs the same number of trials on the bundled
real slice with the same small trees, pruning on (MedianPruner, as shipped).

Usage (hold the lock so helpers do not overlap):
    flock /tmp/energy-bench.lock uv run python benchmarks/bench_tuning.py [--trials 8] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._machine import machine_description  # noqa: E402

FIXED = {"num_boost_round": 100, "max_train_rows": 30_000}
CUTOFF = "2023-01-10T22:00:00+00:00"


def consumption():
    import pandas as pd

    from energy_assets.contracts import utc
    from energy_assets.devtools import SAMPLE_DATA_PATH
    from energy_assets.features.engineering import clean_consumption

    frame = clean_consumption(pd.read_csv(SAMPLE_DATA_PATH), DE35)
    return frame[frame["datetime_utc"] <= utc(CUTOFF)]


def worker(spec: dict) -> dict:
    from energy_assets.training import tuning
    from energy_assets.training.tracking import MlflowSettings

    data = consumption()
    started = time.perf_counter()
    trials = tuning.run_worker(
        data,
        tuning.TuningSession.from_dict(spec["session"]),
        storage_url=spec["optuna"],
        tracking=MlflowSettings(tracking_uri=spec["mlflow"], experiment_name="bench_tuning"),
        n_trials=spec["n_trials"],
        worker=spec["worker"],
        num_threads=spec["num_threads"],
    )
    return {"trials": trials, "seconds": time.perf_counter() - started}


def run_configuration(
    n_workers: int, n_trials: int, postgres, tag: str, threads: int | None = None
) -> dict:
    from energy_assets.training import tuning
    from energy_assets.training.tracking import MlflowSettings

    postgres.create_database(f"optuna_{tag}")
    optuna_url = postgres.url(f"optuna_{tag}", "postgresql+psycopg2")
    mlflow_url = postgres.url("mlflow", "postgresql+psycopg2")
    tracking = MlflowSettings(tracking_uri=mlflow_url, experiment_name="bench_tuning")
    session = tuning.start_session(
        storage_url=optuna_url,
        tracking=tracking,
        study_name=f"bench_{tag}",
        n_trials=n_trials,
        n_workers=n_workers,
        n_folds=2,
        fixed_params=FIXED,
    )
    threads = threads or tuning.threads_per_worker(n_workers)
    specs = [
        {
            "session": session.as_dict(),
            "optuna": optuna_url,
            "mlflow": mlflow_url,
            "n_trials": share,
            "worker": i,
            "num_threads": threads,
        }
        for i, share in enumerate(tuning.split_trials(n_trials, n_workers))
    ]
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", json.dumps(spec)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        for spec in specs
    ]
    results = []
    for process in processes:
        out, _ = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"a worker failed ({process.returncode})")
        results.append(json.loads(out.strip().splitlines()[-1]))
    wall = time.perf_counter() - started
    # Trials per minute of tuning, excluding each process's start (imports, data load), which
    # the Dagster step pays once per run however many trials it runs.
    busy = max(r["seconds"] for r in results)
    result = tuning.finish_session(
        session, storage_url=optuna_url, tracking=tracking, trials_run=n_trials
    )
    states = [t.state.name for t in result.study.trials]
    return {
        "workers": n_workers,
        "threads_per_worker": threads,
        "trials": sum(r["trials"] for r in results),
        "pruned": states.count("PRUNED"),
        "wall_seconds": wall,
        "tuning_seconds": busy,
        "trials_per_minute": sum(r["trials"] for r in results) / busy * 60,
        "load": os.getloadavg()[0],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument(
        "--no-single-thread-baseline",
        dest="single_thread_baseline",
        action="store_false",
        help="skip the 1 worker × 1 thread row",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))), flush=True)
        return 0

    from energy_assets.training.tracking import quiet_mlflow
    from energy_assets_tests.fixtures.postgres import start_postgres

    quiet_mlflow()
    # `kill` ends the run like Ctrl-C: the finally blocks stop Postgres and the emulator.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(machine_description())
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    postgres = start_postgres()
    rows = []
    try:
        postgres.create_database("mlflow")
        for n_workers in [int(w) for w in args.workers.split(",")]:
            rows.append(run_configuration(n_workers, args.trials, postgres, f"w{n_workers}"))
            print(json.dumps(rows[-1]), flush=True)
        if args.single_thread_baseline:
            # One worker on one thread: separates "two processes" from "LightGBM's threads".
            rows.append(run_configuration(1, args.trials, postgres, "w1t1", threads=1))
            print(json.dumps(rows[-1]), flush=True)
    finally:
        postgres.stop()
    print()
    print(f"{args.trials} trials per configuration, 2 folds each, {FIXED}, bundled real slice")
    print(
        f"{'workers':>7s} {'threads each':>12s} {'pruned':>6s} {'tuning s':>9s} "
        f"{'trials/min':>10s} {'load':>5s}"
    )
    for row in rows:
        print(
            f"{row['workers']:7d} {row['threads_per_worker']:12d} {row['pruned']:6d} "
            f"{row['tuning_seconds']:9.1f} {row['trials_per_minute']:10.2f} {row['load']:5.2f}"
        )
    one = next((r for r in rows if r["workers"] == 1), None)
    many = [r for r in rows if r["workers"] > 1]
    single = [r for r in rows if r["workers"] == 1 and r["threads_per_worker"] == 1]
    for row in many:
        if one is not None:
            print(
                f"speed-up with {row['workers']} workers: "
                f"{row['trials_per_minute'] / one['trials_per_minute']:.2f}× against 1 worker "
                f"with all {one['threads_per_worker']} threads"
                + (
                    f", {row['trials_per_minute'] / single[0]['trials_per_minute']:.2f}× against "
                    "1 worker on 1 thread"
                    if single
                    else ""
                )
            )
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
