"""Scale by source spec: a year's single-run backfill and a 24-hour forecast at 76 series (DE35's
shape) and at 294 series (ConsumptionIndustry's shape: 98 municipalities x 3 branches), synthetic.

Each dataset runs in its own process (so peak memory is that dataset's), on the shipped deploy
configuration's instance: Postgres run/event storage with one planned event per range
(`DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS`) and batched materialisations
(`DAGSTER_EVENT_BATCH_SIZE`); values in a local folder (the GCS emulator's own cost is measured in
bench_backfill.py). The replay API serves the synthetic year in the dataset's own columns.

Per dataset: the backfill of raw_consumption + consumption_features over `--days` (one run, the
requests it took), then the forecaster fitted on the last 28 days of the stored features and a
24-hour forecast from the newest hour; wall and CPU seconds and the process's peak RSS after each.

Usage: uv run python benchmarks/bench_sources.py [--days 365] [--datasets A,B]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._machine import machine_description  # noqa: E402

START = pd.Timestamp("2023-01-01 00:00")
SHAPES = {"ConsumptionDE35Hour": 76, "ConsumptionIndustry": 294}
INSTANCE_YAML = """\
storage:
  postgres:
    postgres_db:
      hostname: {env: DAGSTER_PG_HOST}
      port: {env: DAGSTER_PG_PORT}
      username: {env: DAGSTER_PG_USER}
      password: {env: DAGSTER_PG_PASSWORD}
      db_name: {env: DAGSTER_PG_DB}
telemetry:
  enabled: false
"""
EVENT_SETTINGS = {
    "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
    "DAGSTER_EVENT_BATCH_SIZE": "10000",
}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(dataset: str, days: int, data_path: str) -> dict:
    """In a fresh process: backfill, then fit and a 24-hour forecast, with their costs."""
    from dagster import DagsterInstance

    from energy_assets.contracts import CLEAN_COLUMNS, FEATURES, hour_keys
    from energy_assets.defs import build_definitions
    from energy_assets.devtools.replay_api import ReplayServer
    from energy_assets.settings import Settings
    from energy_assets.storage.parquet_store import ParquetStore
    from energy_assets.training.forecaster import GlobalLGBMForecaster

    hours = pd.date_range(START, periods=24 * days, freq="h")
    first, last = (h.strftime("%Y-%m-%d-%H:%M") for h in (hours[0], hours[-1]))
    with ReplayServer(data_path, dataset=dataset) as server:
        os.environ["ENERGIDATA_API_URL"] = server.url
        settings = Settings.from_env()
        job = build_definitions(settings).resolve_job_def("ingestion_backfill_job")
        with DagsterInstance.get() as instance:
            wall, cpu = time.perf_counter(), time.process_time()
            job.execute_in_process(
                instance=instance,
                tags={
                    "dagster/asset_partition_range_start": first,
                    "dagster/asset_partition_range_end": last,
                },
                raise_on_error=True,
            )
            backfill = {
                "backfill_seconds": time.perf_counter() - wall,
                "backfill_cpu_seconds": time.process_time() - cpu,
                "api_requests": server.request_count,
                "partitions": len(hours),
                "backfill_peak_rss_mb": peak_rss_mb(),
            }
    store = ParquetStore(settings.storage_url)
    window = hour_keys(
        hours[-1] - pd.Timedelta(days=min(28, days)) + pd.Timedelta(hours=1),
        hours[-1] + pd.Timedelta(hours=1),
    )
    features = store.read_many(FEATURES.name, window)[CLEAN_COLUMNS]
    wall = time.perf_counter()
    model = GlobalLGBMForecaster().fit(features)
    fit_seconds = time.perf_counter() - wall
    wall = time.perf_counter()
    forecast = model.predict(features, origins=[features["datetime_utc"].max()])
    predict_seconds = time.perf_counter() - wall
    return {
        **backfill,
        "series": int(features[["area", "segment"]].drop_duplicates().shape[0]),
        "records": int(len(hours) * SHAPES[dataset]),
        "fit_seconds": fit_seconds,
        "predict_24h_seconds": predict_seconds,
        "forecast_rows": len(forecast),
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--datasets", default=",".join(SHAPES))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.days, args.data)), flush=True)
        return 0

    from energy_assets.devtools.synth import synthesize
    from energy_assets.sources import spec_for
    from energy_assets_tests.fixtures.postgres import start_postgres

    print(machine_description())
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    postgres = start_postgres()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as root:
            for n, dataset in enumerate(args.datasets.split(",")):
                spec = spec_for(dataset)
                frame = synthesize(
                    SHAPES[dataset],
                    START - pd.Timedelta(days=8),
                    START + pd.Timedelta(days=args.days + 1),
                    seed=1,
                    spec=spec,
                )
                data = Path(root) / f"{dataset}.parquet"
                frame.to_parquet(data, index=False)
                home = Path(root) / f"home{n}"
                home.mkdir()
                (home / "dagster.yaml").write_text(INSTANCE_YAML)
                database = f"bench_sources_{n}"
                postgres.create_database(database)
                env = {
                    **os.environ,
                    **EVENT_SETTINGS,
                    **postgres.dagster_env(database),
                    "DAGSTER_HOME": str(home),
                    "ENERGIDATA_DATASET": dataset,
                    "ENERGY_PARTITIONS_START": "2022-12-01-00:00",
                    "ENERGY_STORAGE_URL": str(Path(root) / f"storage{n}"),
                    "MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow.db",
                    "PYTHONPATH": str(REPO),
                }
                done = subprocess.run(
                    [sys.executable, __file__, "--child", dataset, "--days", str(args.days),
                     "--data", str(data)],
                    env=env, capture_output=True, text=True,
                )  # fmt: skip
                if done.returncode != 0:
                    print(done.stderr[-4000:], file=sys.stderr)
                    raise SystemExit(f"{dataset} failed")
                row = {"dataset": dataset, **json.loads(done.stdout.strip().splitlines()[-1])}
                row["load"] = os.getloadavg()[0]
                rows.append(row)
                print(json.dumps(row), flush=True)
    finally:
        postgres.stop()

    print()
    print(
        f"{'dataset (series)':36s} {'records':>10s} {'backfill s':>10s} {'CPU s':>7s} "
        f"{'requests':>8s} {'fit s':>6s} {'24h s':>6s} {'peak RSS MB':>11s}"
    )
    for row in rows:
        print(
            f"{row['dataset'] + ' (' + str(row['series']) + ')':36s} {row['records']:10,d} "
            f"{row['backfill_seconds']:10.1f} {row['backfill_cpu_seconds']:7.1f} "
            f"{row['api_requests']:8d} {row['fit_seconds']:6.2f} {row['predict_24h_seconds']:6.3f} "
            f"{row['peak_rss_mb']:11.0f}"
        )
    if len(rows) == 2:
        small, large = rows
        print(
            f"{large['series']} series against {small['series']}: backfill "
            f"{large['backfill_seconds'] / small['backfill_seconds']:.2f}x, fit "
            f"{large['fit_seconds'] / small['fit_seconds']:.2f}x, 24-hour forecast "
            f"{large['predict_24h_seconds'] / small['predict_24h_seconds']:.2f}x, peak memory "
            f"{large['peak_rss_mb'] / small['peak_rss_mb']:.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
