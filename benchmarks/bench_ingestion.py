"""Ingestion benchmark: single-run backfills through the replay API into the GCS emulator.

Prints wall time and API requests for raw_consumption + consumption_features backfilled as ONE
run over 30 days and over 1 year of hourly partitions (76 synthetic series), the same 30 days as
one run per partition (sampled, then scaled), Dagster's own floor (a no-op pair of hourly assets
backfilled the same way, in the same run of this script) and the time to load a 1-year window
back. Usage: uv run python benchmarks/bench_ingestion.py [--skip-year] [--sample 24]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._machine import machine_description  # noqa: E402

SERIES = 76
START = pd.Timestamp("2023-01-01 00:00")


def hour_key(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%d-%H:%M")


def null_io_manager():
    """An IO manager that stores nothing: what is left of a run is Dagster's own cost."""
    from dagster import IOManager, io_manager

    class NullIOManager(IOManager):
        def handle_output(self, context, obj):
            return None

        def load_input(self, context):
            return None

    @io_manager
    def null():
        return NullIOManager()

    return null


def noop_floor_definitions(checks: bool = False):
    """Two hourly assets that do nothing, shaped like raw_consumption → consumption_features.

    checks: each asset also carries one asset check that passes, yielded from the asset's body as
    the platform's GX checks are (keys `noop_checked_raw` / `noop_checked_features`): what
    Dagster's own bookkeeping costs for a checked asset.
    """
    from dagster import (
        AssetCheckResult,
        AssetCheckSpec,
        AssetIn,
        BackfillPolicy,
        Definitions,
        Output,
        asset,
    )

    from energy_assets.defs.partitions import Partitions
    from energy_assets.settings import Settings

    hourly_partitions = Partitions.from_settings(Settings.for_home(".dagster_home")).hourly
    prefix = "noop_checked" if checks else "noop"
    raw_key, features_key = f"{prefix}_raw", f"{prefix}_features"

    def noop(key: str, ins: dict | None = None):
        """A single-run-backfilled hourly asset `key` that outputs None (and passes its check)."""

        @asset(
            name=key,
            partitions_def=hourly_partitions,
            backfill_policy=BackfillPolicy.single_run(),
            ins=ins,
            check_specs=[AssetCheckSpec("noop_check", asset=key)] if checks else None,
        )
        def body(**_upstream):
            yield Output(None)
            if checks:
                yield AssetCheckResult(passed=True)

        return body

    assets = [noop(raw_key), noop(features_key, ins={"upstream": AssetIn(raw_key)})]
    return Definitions(assets=assets, resources={"io_manager": null_io_manager()})


def run_range(job, instance, first: str, last: str):
    started = time.perf_counter()
    result = job.execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        },
        raise_on_error=True,
    )
    return time.perf_counter() - started, result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-year", action="store_true", help="only the 30-day figures")
    parser.add_argument("--sample", type=int, default=24, help="partitions run one by one")
    parser.add_argument("--cli-sample", type=int, default=3, help="partitions run as CLI processes")
    args = parser.parse_args()

    from dagster import DagsterInstance, materialize

    from energy_assets.devtools.replay_api import ReplayServer
    from energy_assets.devtools.synth import synthesize
    from energy_assets_tests.fixtures.gcs import start_emulator

    print(machine_description())
    days_long = 30 if args.skip_year else 365
    data = synthesize(
        SERIES, START - pd.Timedelta(days=8), START + pd.Timedelta(days=days_long + 1), seed=1
    )
    emulator = start_emulator()
    os.environ["STORAGE_EMULATOR_HOST"] = emulator.host
    bucket = emulator.make_bucket("energy-bench")
    rows = []
    with tempfile.TemporaryDirectory() as home, ReplayServer(data) as server:
        os.environ["DAGSTER_HOME"] = home
        os.environ["ENERGIDATA_API_URL"] = server.url
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{home}/mlflow.db"
        from energy_assets.defs import build_definitions
        from energy_assets.settings import Settings

        def platform_defs(prefix: str):
            settings = Settings.from_env().with_overrides(
                storage_url=f"gs://{bucket.name}/{prefix}"
            )
            return build_definitions(settings)

        def platform_job(prefix: str):
            return platform_defs(prefix).resolve_job_def("ingestion_backfill_job")

        floor_job = noop_floor_definitions().resolve_implicit_global_asset_job_def()
        instance = DagsterInstance.local_temp(tempdir=home)
        for days in sorted({30, days_long}):
            hours = pd.date_range(START, periods=24 * days, freq="h")
            first, last = hour_key(hours[0]), hour_key(hours[-1])
            before = server.request_count
            seconds, _ = run_range(platform_job(f"range{days}"), instance, first, last)
            requests_made = server.request_count - before
            floor_seconds, _ = run_range(floor_job, instance, first, last)
            rows.append(
                {
                    "what": f"single-run backfill, {days} days ({len(hours)} partitions × 2 assets)",
                    "seconds": seconds,
                    "api_requests": requests_made,
                    "floor_seconds": floor_seconds,
                    "x_floor": seconds / floor_seconds,
                }
            )
            print(rows[-1], flush=True)

        # One run per partition, as a per-partition backfill would do: sampled, then scaled to 30 days.
        defs = platform_defs("per-partition")
        raw_and_features = [
            defs.get_assets_def("raw_consumption"),
            defs.get_assets_def("consumption_features"),
        ]
        resources = defs.resources
        sample_hours = pd.date_range(START + pd.Timedelta(days=10), periods=args.sample, freq="h")
        before = server.request_count
        started = time.perf_counter()
        for hour in sample_hours:
            materialize(
                raw_and_features,
                partition_key=hour_key(hour),
                instance=instance,
                resources=resources,
            )
        per_partition = (time.perf_counter() - started) / len(sample_hours)
        thirty_day = rows[0]
        rows.append(
            {
                "what": f"one run per partition, 30 days (measured on {args.sample}, scaled to 720)",
                "seconds": per_partition * 720,
                "api_requests": (server.request_count - before) / len(sample_hours) * 720,
                "floor_seconds": float("nan"),
                "x_floor": float("nan"),
            }
        )
        speedup = rows[-1]["seconds"] / thirty_day["seconds"]
        print(rows[-1], flush=True)

        # What a per-partition backfill launched from the UI does: each run is a fresh process
        # that loads the code location (DefaultRunLauncher). Sampled through the CLI.
        cli_hours = pd.date_range(START + pd.Timedelta(days=12), periods=args.cli_sample, freq="h")
        started = time.perf_counter()
        for hour in cli_hours:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "dagster",
                    "asset",
                    "materialize",
                    "-m",
                    "energy_assets.definitions",
                    "--select",
                    "raw_consumption,consumption_features",
                    "--partition",
                    hour_key(hour),
                ],
                check=True,
                capture_output=True,
                env={**os.environ, "ENERGY_STORAGE_URL": f"gs://{bucket.name}/cli"},
            )
        per_cli_run = (time.perf_counter() - started) / len(cli_hours)
        rows.append(
            {
                "what": f"one `dagster asset materialize` process per partition, 30 days ({args.cli_sample} sampled, scaled)",
                "seconds": per_cli_run * 720,
                "api_requests": 720,
                "floor_seconds": float("nan"),
                "x_floor": float("nan"),
            }
        )
        cli_speedup = rows[-1]["seconds"] / thirty_day["seconds"]
        print(rows[-1], flush=True)

        # Loading a long window back: one parallel read.
        from energy_assets.storage.parquet_store import ParquetStore

        store = ParquetStore(f"gs://{bucket.name}/range{days_long}", gcs_client=emulator.client())
        keys = [hour_key(h) for h in pd.date_range(START, periods=24 * days_long, freq="h")]
        started = time.perf_counter()
        window = store.read_many("consumption_features", keys)
        load_seconds = time.perf_counter() - started
    emulator.stop()

    print()
    print(f"{'what':72s} {'wall s':>8s} {'requests':>9s} {'floor s':>8s} {'× floor':>8s}")
    for row in rows:
        print(
            f"{row['what']:72s} {row['seconds']:8.1f} {row['api_requests']:9.0f} "
            f"{row['floor_seconds']:8.1f} {row['x_floor']:8.2f}"
        )
    print(
        f"single run vs one run per partition (30 days): {speedup:.0f}× faster than in-process runs, "
        f"{cli_speedup:.0f}× faster than one process per partition"
    )
    print(
        f"load a {days_long}-day window of consumption_features back from the GCS emulator: "
        f"{load_seconds:.1f} s ({len(keys)} objects, {len(window)} rows, one parallel read)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
