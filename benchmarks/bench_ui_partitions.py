"""UI benchmark: time for headless Chromium to render raw_consumption's partitions page.

An instance on a real local PostgreSQL (deploy/dagster.yaml's storage) holds a year of
materialised `raw_consumption` partitions (2023, 8,760 hours, written by a no-op asset under the
same key and partitions, with the shipped event-log settings, so setting up takes seconds). Then
`dagster-webserver` serves the real code location twice over that instance: with the default
ENERGY_PARTITIONS_START (the dataset's first hour, 2020-06-30: ~56,000 hourly partitions to today)
and with ENERGY_PARTITIONS_START=2023-01-01-00:00 (the lever for installations that need no
history since 2020). For each, Chromium opens /assets/raw_consumption?view=partitions cold and
then again, and we time until the page shows the materialised count and the partition list.

Usage: flock /tmp/energy-bench.lock uv run python benchmarks/bench_ui_partitions.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._machine import machine_description  # noqa: E402

YEAR = ("2023-01-01-00:00", "2023-12-31-23:00")
BIN = Path(sys.executable).parent


def materialise_year() -> None:
    """A no-op `raw_consumption` with the platform's partitions, backfilled over 2023 in one run."""
    from dagster import AssetKey, BackfillPolicy, DagsterInstance, Definitions, asset

    from benchmarks.bench_ingestion import null_io_manager
    from energy_assets.defs.partitions import Partitions
    from energy_assets.settings import Settings

    hourly = Partitions.from_settings(Settings.for_home(".dagster_home")).hourly

    @asset(
        key=AssetKey("raw_consumption"),
        partitions_def=hourly,
        backfill_policy=BackfillPolicy.single_run(),
    )
    def raw_consumption():
        return None

    job = Definitions(
        assets=[raw_consumption], resources={"io_manager": null_io_manager()}
    ).resolve_implicit_global_asset_job_def()
    with DagsterInstance.get() as instance:
        job.execute_in_process(
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": YEAR[0],
                "dagster/asset_partition_range_end": YEAR[1],
            },
        )
        count = len(instance.get_materialized_partitions(AssetKey("raw_consumption")))
    assert count == 8760, count


def render_seconds(page, url: str, newest_key: str) -> float:
    started = time.perf_counter()
    page.goto(url)
    # The partitions tab is rendered when it shows the materialised count (from the partition
    # status) and the list of partitions, newest first.
    page.get_by_text("Materialized (8760)").first.wait_for(state="visible", timeout=300_000)
    page.get_by_text(newest_key).first.wait_for(state="visible", timeout=300_000)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="warm renders after the cold one")
    parser.add_argument("--screenshot", help="folder for a PNG of each page")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from energy_assets_tests.fixtures.browser import CHROMIUM_ARGS, CHROMIUM_PATH, graphql
    from energy_assets_tests.fixtures.postgres import start_postgres
    from energy_assets_tests.fixtures.topology import free_port

    # `kill` ends the run like Ctrl-C: the finally blocks stop Postgres and the emulator.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(machine_description())
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    postgres = start_postgres()
    home = Path(tempfile.mkdtemp(prefix="ui-bench-"))
    rows = []
    try:
        postgres.create_database("ui_bench")
        config = (REPO / "deploy" / "dagster.yaml").read_text()
        # Step logs stay local here: this measures the UI, not GCS.
        config = re.sub(r"compute_logs:\n(  .*\n)+", "", config)
        (home / "dagster.yaml").write_text(config)
        env = {
            **os.environ,
            **postgres.dagster_env("ui_bench"),
            "DAGSTER_HOME": str(home),
            "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
            "DAGSTER_EVENT_BATCH_SIZE": "10000",
            "PYTHONPATH": str(REPO),
        }
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, __file__, "--materialise"], env=env, check=True, capture_output=True
        )
        print(f"setup: a year of raw_consumption recorded in {time.perf_counter() - started:.1f} s")
        for label, start in (("default (2020-06-30-22:00)", None), ("2023-01-01-00:00", YEAR[0])):
            port = free_port()
            server_env = {k: v for k, v in env.items() if k != "ENERGY_PARTITIONS_START"}
            if start:
                server_env["ENERGY_PARTITIONS_START"] = start
            log = open(home / f"webserver-{port}.log", "w")  # noqa: SIM115
            server = subprocess.Popen(
                [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port)]
                + ["-m", "energy_assets.definitions"],
                env=server_env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            base = f"http://127.0.0.1:{port}"
            try:
                deadline = time.monotonic() + 180
                while True:
                    try:
                        if requests.get(f"{base}/server_info", timeout=2).ok:
                            break
                    except requests.RequestException:
                        pass
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit(f"webserver did not start: see {log.name}")
                    time.sleep(0.5)
                graphql(base, "mutation { setNuxSeen }")
                partitions = graphql(
                    base,
                    '{ assetNodeOrError(assetKey: {path: ["raw_consumption"]}) '
                    "{ ... on AssetNode { partitionKeys } } }",
                    timeout=300,
                )["assetNodeOrError"]["partitionKeys"]
                url = f"{base}/assets/raw_consumption?view=partitions"
                with sync_playwright() as playwright:
                    browser = playwright.chromium.launch(
                        executable_path=str(CHROMIUM_PATH), headless=True, args=CHROMIUM_ARGS
                    )
                    page = browser.new_page(viewport={"width": 1440, "height": 900})
                    times = [
                        render_seconds(page, url, partitions[-1]) for _ in range(1 + args.repeat)
                    ]
                    if args.screenshot:
                        shot = Path(args.screenshot) / f"partitions-{len(partitions)}.png"
                        page.screenshot(path=str(shot), full_page=True)
                    browser.close()
            finally:
                server.terminate()
                server.wait(timeout=30)
                log.close()
            rows.append(
                {
                    "start": label,
                    "partitions": len(partitions),
                    "cold": times[0],
                    "warm": sorted(times[1:])[len(times[1:]) // 2] if times[1:] else float("nan"),
                }
            )
            print(rows[-1], flush=True)
    finally:
        postgres.stop()
        shutil.rmtree(home, ignore_errors=True)
    print()
    print("raw_consumption partitions page, a year (8,760 partitions) materialised, Postgres")
    print(f"{'ENERGY_PARTITIONS_START':28s} {'partitions':>10s} {'cold s':>7s} {'warm s':>7s}")
    for row in rows:
        print(f"{row['start']:28s} {row['partitions']:10d} {row['cold']:7.2f} {row['warm']:7.2f}")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--materialise"]:
        materialise_year()
        sys.exit(0)
    sys.exit(main())
