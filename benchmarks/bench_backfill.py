"""Backfill benchmark: Dagster's event-log options side by side, on sqlite and on Postgres.

For each instance storage (sqlite: the repo's dagster.yaml; Postgres: deploy/dagster.yaml, with
its GCS compute logs, on a real local server) and each event-log option, one child process runs
the single-run backfill of raw_consumption + consumption_features over `--days` of hourly
partitions (76 synthetic series: replay API -> GCS emulator), then the floor: a no-op pair of
hourly assets backfilled the same way on the same instance. Every configuration then checks that
the instance recorded every partition as materialised (an option that lost events would fail).

Event-log options (environment variables read by the installed Dagster, see the README):
- default: every event written on its own; one ASSET_MATERIALIZATION_PLANNED per partition.
- batch: DAGSTER_EVENT_BATCH_SIZE=N: a multi-partition output's materialisations are written
  N at a time (Postgres: one INSERT ... RETURNING plus one index transaction per batch; the
  sqlite storage has no batch write and stores them one by one anyway).
- subset: DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true: one planned event per asset
  carrying the range as a partition subset, instead of one per partition.
- subset+batch: both.

`--floor-checks` adds a third run per configuration: the floor's assets each carrying one passing
asset check, as the platform's assets do (Dagster's own cost of a checked asset in a range run).

Usage (the lead re-runs it on a quiet machine; hold the lock so helpers do not overlap):
    flock /tmp/energy-bench.lock uv run python benchmarks/bench_backfill.py            # a year
    uv run python benchmarks/bench_backfill.py --days 30 --storage postgres --events subset+batch
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._machine import machine_description  # noqa: E402

SERIES = 76
START = pd.Timestamp("2023-01-01 00:00")
# Sqlite's figure for a year before this issue (README, bench_ingestion.py): the 4x target's base.
PREVIOUS_SQLITE_YEAR_SECONDS = 254.2
BATCH_SIZE = 10_000
EVENT_OPTIONS: dict[str, dict[str, str]] = {
    "default": {},
    "batch": {"DAGSTER_EVENT_BATCH_SIZE": str(BATCH_SIZE)},
    "subset": {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true"},
    "subset+batch": {
        "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
        "DAGSTER_EVENT_BATCH_SIZE": str(BATCH_SIZE),
    },
}
EVENT_VARIABLES = ("DAGSTER_EVENT_BATCH_SIZE", "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS")


def hour_key(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%d-%H:%M")


def run_child(days: int, profile: str | None = None, floor_checks: bool = False) -> dict:
    """In a child process: the platform backfill, then the floor (and with `floor_checks` the
    floor whose assets carry one check each), on DagsterInstance.get()."""
    from dagster import AssetKey, DagsterInstance

    from benchmarks.bench_ingestion import noop_floor_definitions, run_range
    from energy_assets.defs import build_definitions
    from energy_assets.settings import Settings

    hours = pd.date_range(START, periods=24 * days, freq="h")
    first, last = hour_key(hours[0]), hour_key(hours[-1])
    job = build_definitions(Settings.from_env()).resolve_job_def("ingestion_backfill_job")
    floor_job = noop_floor_definitions().resolve_implicit_global_asset_job_def()
    with DagsterInstance.get() as instance:
        # CPU seconds of this process too: on a busy machine wall time mostly measures the
        # neighbours, CPU time what this configuration costs (Postgres' own work not included).
        cpu = time.process_time()
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            seconds, _ = profiler.runcall(run_range, job, instance, first, last)
            profiler.dump_stats(profile)
        else:
            seconds, _ = run_range(job, instance, first, last)
        cpu_seconds = time.process_time() - cpu
        cpu = time.process_time()
        floor_seconds, _ = run_range(floor_job, instance, first, last)
        floor_cpu_seconds = time.process_time() - cpu
        names = ["raw_consumption", "consumption_features", "noop_raw", "noop_features"]
        checked_seconds = None
        if floor_checks:
            checked_job = noop_floor_definitions(
                checks=True
            ).resolve_implicit_global_asset_job_def()
            checked_seconds, _ = run_range(checked_job, instance, first, last)
            names += ["noop_checked_raw", "noop_checked_features"]
        recorded = {
            name: len(instance.get_materialized_partitions(AssetKey(name))) for name in names
        }
    return {
        "seconds": seconds,
        "floor_seconds": floor_seconds,
        "cpu_seconds": cpu_seconds,
        "floor_cpu_seconds": floor_cpu_seconds,
        "floor_checks_seconds": checked_seconds,
        "partitions": len(hours),
        "recorded": recorded,
    }


def instance_home(storage: str, root: Path) -> Path:
    home = Path(tempfile.mkdtemp(prefix=f"home-{storage}-", dir=root))
    source = REPO / ("deploy/dagster.yaml" if storage == "postgres" else "dagster.yaml")
    shutil.copy(source, home / "dagster.yaml")
    return home


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--storage", default="sqlite,postgres", help="sqlite,postgres")
    parser.add_argument("--events", default=",".join(EVENT_OPTIONS), help=",".join(EVENT_OPTIONS))
    parser.add_argument(
        "--configs",
        help="explicit storage/events pairs instead of the cross product, e.g. "
        "sqlite/default,postgres/subset+batch",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile", help="cProfile the platform run of each child into FILE.N")
    parser.add_argument(
        "--floor-checks",
        action="store_true",
        help="also the floor whose no-op assets carry one passing check each (like ours)",
    )
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.days, args.profile, args.floor_checks)), flush=True)
        return 0

    storages = [s for s in args.storage.split(",") if s]
    options = [e for e in args.events.split(",") if e]
    pairs = [(s, o) for s in storages for o in options]
    if args.configs:
        pairs = [tuple(pair.split("/", 1)) for pair in args.configs.split(",") if pair]
        storages = sorted({s for s, _ in pairs})
        options = sorted({o for _, o in pairs})
    unknown = set(options) - set(EVENT_OPTIONS) or set(storages) - {"sqlite", "postgres"}
    if unknown:
        parser.error(f"unknown choice(s): {sorted(unknown)}")

    from energy_assets.devtools.replay_api import ReplayServer
    from energy_assets.devtools.synth import synthesize
    from energy_assets_tests.fixtures.gcs import start_emulator
    from energy_assets_tests.fixtures.postgres import start_postgres

    # `kill` ends the run like Ctrl-C: the finally blocks stop Postgres and the emulator.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(machine_description())
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    data = synthesize(
        SERIES, START - pd.Timedelta(days=8), START + pd.Timedelta(days=args.days + 1), seed=1
    )
    emulator = start_emulator()
    postgres = start_postgres() if "postgres" in storages else None
    rows: list[dict] = []
    try:
        with tempfile.TemporaryDirectory() as root, ReplayServer(data) as server:
            bucket = emulator.make_bucket("energy-bench")
            emulator.make_bucket("energy-bench-logs")
            base_env = {k: v for k, v in os.environ.items() if k not in EVENT_VARIABLES}
            base_env.update(
                {
                    "STORAGE_EMULATOR_HOST": emulator.host,
                    "GOOGLE_CLOUD_PROJECT": "bench",
                    "ENERGIDATA_API_URL": server.url,
                    "DAGSTER_COMPUTE_LOGS_BUCKET": "energy-bench-logs",
                    "PYTHONPATH": str(REPO),
                }
            )
            for n, (storage, option) in enumerate(pairs):
                home = instance_home(storage, Path(root))
                env = {
                    **base_env,
                    **EVENT_OPTIONS[option],
                    "DAGSTER_HOME": str(home),
                    "ENERGY_STORAGE_URL": f"gs://{bucket.name}/run{n}",
                    "MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow.db",
                }
                if storage == "postgres":
                    assert postgres is not None
                    database = f"bench_{n}"
                    postgres.create_database(database)
                    env.update(postgres.dagster_env(database))
                started = time.perf_counter()
                done = subprocess.run(
                    [sys.executable, __file__, "--child", "--days", str(args.days)]
                    + (["--profile", f"{args.profile}.{n}"] if args.profile else [])
                    + (["--floor-checks"] if args.floor_checks else []),
                    env=env,
                    capture_output=True,
                    text=True,
                )
                if done.returncode != 0:
                    print(done.stderr[-4000:], file=sys.stderr)
                    raise SystemExit(f"{storage}/{option} failed")
                result = json.loads(done.stdout.strip().splitlines()[-1])
                expected = result["partitions"]
                lost = {k: v for k, v in result["recorded"].items() if v != expected}
                if lost:
                    raise SystemExit(
                        f"{storage}/{option}: partitions recorded {lost} != {expected}"
                    )
                row = {
                    "storage": storage,
                    "events": option,
                    **result,
                    "process_seconds": time.perf_counter() - started,
                    "load": os.getloadavg()[0],
                }
                rows.append(row)
                print(json.dumps({k: v for k, v in row.items() if k != "recorded"}), flush=True)
    finally:
        emulator.stop()
        if postgres is not None:
            postgres.stop()

    print()
    print(
        f"{args.days} days = {rows[0]['partitions']} hourly partitions × 2 assets, one run each; "
        "floor = no-op assets, same instance"
    )
    header = (
        f"{'storage':9s} {'event options':13s} {'wall s':>8s} {'floor s':>8s} "
        f"{'floor ms/partition':>19s} {'× floor':>8s} {'cpu s':>7s} {'floor cpu s':>11s} "
        f"{'load':>5s}"
    )
    print(header)
    for row in rows:
        per_partition = row["floor_seconds"] / row["partitions"] * 1000
        print(
            f"{row['storage']:9s} {row['events']:13s} {row['seconds']:8.1f} "
            f"{row['floor_seconds']:8.1f} {per_partition:19.2f} "
            f"{row['seconds'] / row['floor_seconds']:8.2f} {row['cpu_seconds']:7.1f} "
            f"{row['floor_cpu_seconds']:11.1f} {row['load']:5.2f}"
        )
    for row in rows:
        if row.get("floor_checks_seconds") is not None:
            print(
                f"{row['storage']}/{row['events']}: floor with one check per asset "
                f"{row['floor_checks_seconds']:.1f} s "
                f"({row['floor_checks_seconds'] - row['floor_seconds']:+.1f} s: Dagster's own "
                "bookkeeping of the checks)"
            )
    baseline = next(
        (r for r in rows if r["storage"] == "sqlite" and r["events"] == "default"), None
    )
    if baseline:
        for row in rows:
            if row is not baseline:
                print(
                    f"{row['storage']}/{row['events']}: {baseline['seconds'] / row['seconds']:.1f}× "
                    f"faster than sqlite/default in this run (wall), "
                    f"{baseline['cpu_seconds'] / row['cpu_seconds']:.1f}× in CPU"
                )
    if args.days == 365:
        best = min(rows, key=lambda r: r["seconds"])
        print(
            f"fastest: {best['storage']}/{best['events']} {best['seconds']:.1f} s = "
            f"{PREVIOUS_SQLITE_YEAR_SECONDS / best['seconds']:.1f}× faster than the "
            f"{PREVIOUS_SQLITE_YEAR_SECONDS} s sqlite year measured before this issue"
        )
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
