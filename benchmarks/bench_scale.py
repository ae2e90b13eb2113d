"""Backfills in units: wall, CPU, requests and peak RSS of the run processes for 1, 2, 3 years of
the ConsumptionIndustry shape (294 synthetic series), one run process per unit as Dagster's
multi-run backfill policy launches them (docs/decisions/0012-scale-out.md).

For each range: the hourly partitions are cut into units of `--hours-per-run` consecutive hours
(what `BackfillPolicy.multi_run(max_partitions_per_run=N)` does with a range), and each unit runs
`ingestion_backfill_job` (raw_consumption + consumption_features) in a fresh process on the deploy
configuration's instance (Postgres, one planned event per range, batched materialisations, the
`energidata_api` pool limited to 1 as in dagster.yaml). `--concurrency 2` runs two unit processes
at a time (the run queue's `max_concurrent_runs: 2` on this machine). `--policy single` runs the
whole range as one run instead (the policy before issue 26), for the comparison.

The replay API runs in this (parent) process and counts the requests; the run processes' peak RSS
(ru_maxrss) is theirs alone, the replay's copy of the data is not in it.

Usage:
    uv run python benchmarks/bench_scale.py --years 1,2,3
    uv run python benchmarks/bench_scale.py --years 1 --policy single
    uv run python benchmarks/bench_scale.py --years 1 --concurrency 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import bench_sources  # noqa: E402
from benchmarks._machine import machine_description  # noqa: E402
from benchmarks.bench_sources import EVENT_SETTINGS  # noqa: E402

START = pd.Timestamp("2023-01-01 00:00")
DATASET = "ConsumptionIndustry"
# bench_sources' Postgres instance, with the one pool that serialises the API's requests.
INSTANCE_YAML = bench_sources.INSTANCE_YAML.replace(
    "telemetry:", "concurrency:\n  pools:\n    default_limit: 1\ntelemetry:"
)
SQLITE_INSTANCE_YAML = """\
concurrency:
  pools:
    default_limit: 1
telemetry:
  enabled: false
"""


def hour_key(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%d-%H:%M")


def units(hours: pd.DatetimeIndex, per_run: int) -> list[tuple[str, str]]:
    """Consecutive (first, last) partition keys of at most `per_run` hours: the runs a multi-run
    backfill policy makes of a contiguous range."""
    return [
        (hour_key(hours[i]), hour_key(hours[min(i + per_run, len(hours)) - 1]))
        for i in range(0, len(hours), per_run)
    ]


def child(first: str, last: str) -> dict:
    """In a fresh process (a run worker): one range run of ingestion_backfill_job."""
    from dagster import DagsterInstance

    from energy_assets.defs import build_definitions
    from energy_assets.settings import Settings

    wall, cpu = time.perf_counter(), time.process_time()
    job = build_definitions(Settings.from_env()).resolve_job_def("ingestion_backfill_job")
    with DagsterInstance.get() as instance:
        job.execute_in_process(
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": first,
                "dagster/asset_partition_range_end": last,
            },
            raise_on_error=True,
        )
    return {
        "seconds": time.perf_counter() - wall,
        "cpu_seconds": time.process_time() - cpu,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_unit(first: str, last: str, env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", first, last],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        print(done.stderr[-4000:], file=sys.stderr)
        raise SystemExit(f"unit {first} → {last} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def backfill(days: int, per_run: int, concurrency: int, env: dict[str, str], server) -> dict:
    """The range of `days` from START as units of `per_run` hours, `concurrency` at a time."""
    hours = pd.date_range(START, periods=24 * days, freq="h")
    plan = units(hours, per_run)
    requests = server.request_count
    wall = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(lambda unit: run_unit(*unit, env), plan))
    seconds = time.perf_counter() - wall
    return {
        "days": days,
        "hours": len(hours),
        "runs": len(plan),
        "seconds": seconds,
        "ms_per_hour": seconds / len(hours) * 1000,
        "cpu_seconds": sum(r["cpu_seconds"] for r in results),
        "requests": server.request_count - requests,
        "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
        # Each unit's own peak, in range order: flat from the first unit to the last if nothing
        # in a run holds range-sized state.
        "unit_peak_rss_mb": [round(r["peak_rss_mb"]) for r in results],
        "unit_cpu_seconds": [round(r["cpu_seconds"], 1) for r in results],
        "unit_seconds_median": sorted(r["seconds"] for r in results)[len(results) // 2],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--years", default="1,2,3", help="ranges in years, comma separated")
    parser.add_argument("--days", help="ranges in days instead, comma separated")
    parser.add_argument("--series", type=int, default=294, help="294: the Industry shape")
    parser.add_argument("--hours-per-run", type=int, default=1488)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--policy", choices=("multi", "single"), default="multi")
    parser.add_argument("--storage", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)), flush=True)
        return 0

    from energy_assets.devtools.replay_api import ReplayServer
    from energy_assets.devtools.synth import synthesize
    from energy_assets.sources import spec_for
    from energy_assets_tests.fixtures.postgres import start_postgres

    # `kill` ends the benchmark like Ctrl-C: the finally block stops Postgres.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ranges = (
        [int(d) for d in args.days.split(",")]
        if args.days
        else [int(float(y) * 365) for y in args.years.split(",")]
    )
    print(machine_description())
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    longest = max(ranges)
    frame = synthesize(
        args.series,
        START - pd.Timedelta(days=8),
        START + pd.Timedelta(days=longest + 1),
        seed=1,
        spec=spec_for(DATASET),
    )
    postgres = start_postgres() if args.storage == "postgres" else None
    rows = []
    try:
        with tempfile.TemporaryDirectory() as root:
            data = Path(root) / "data.parquet"
            frame.to_parquet(data, index=False)
            del frame
            with ReplayServer(str(data), dataset=DATASET) as server:
                for n, days in enumerate(ranges):
                    home = Path(root) / f"home{n}"
                    home.mkdir()
                    env = {
                        **os.environ,
                        "DAGSTER_HOME": str(home),
                        "ENERGIDATA_API_URL": server.url,
                        "ENERGIDATA_DATASET": DATASET,
                        "ENERGY_PARTITIONS_START": "2022-12-01-00:00",
                        "ENERGY_STORAGE_URL": str(Path(root) / f"storage{n}"),
                        "MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow.db",
                        "PYTHONPATH": str(REPO),
                    }
                    if postgres is not None:
                        (home / "dagster.yaml").write_text(INSTANCE_YAML)
                        postgres.create_database(f"bench_scale_{n}")
                        env.update({**EVENT_SETTINGS, **postgres.dagster_env(f"bench_scale_{n}")})
                    else:
                        (home / "dagster.yaml").write_text(SQLITE_INSTANCE_YAML)
                    per_run = 24 * days if args.policy == "single" else args.hours_per_run
                    row = backfill(days, per_run, args.concurrency, env, server)
                    row.update(
                        policy=args.policy,
                        concurrency=args.concurrency,
                        load=os.getloadavg()[0],
                    )
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    finally:
        if postgres is not None:
            postgres.stop()

    print()
    print(
        f"{args.series} series, {args.storage}, policy {args.policy}"
        + (f" ({args.hours_per_run} h per run)" if args.policy == "multi" else "")
        + f", {args.concurrency} run(s) at a time"
    )
    print(
        f"{'range':>6s} {'runs':>5s} {'wall s':>8s} {'ms/hour':>8s} {'CPU s':>7s} "
        f"{'requests':>8s} {'peak RSS MB':>11s} {'load':>5s}"
    )
    for row in rows:
        print(
            f"{row['days']:5d}d {row['runs']:5d} {row['seconds']:8.1f} {row['ms_per_hour']:8.2f} "
            f"{row['cpu_seconds']:7.1f} {row['requests']:8d} {row['peak_rss_mb']:11.0f} "
            f"{row['load']:5.2f}"
        )
    if len(rows) > 1:
        peaks = [r["peak_rss_mb"] for r in rows]
        print(
            f"peak RSS spread: {(max(peaks) - min(peaks)) / min(peaks) * 100:.1f} % "
            f"(max {max(peaks):.0f} MB = {max(peaks) / 1024:.2f} GiB)"
        )
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
