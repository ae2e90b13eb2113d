"""Demo benchmark: `energy-assets demo` end to end in a fresh DAGSTER_HOME, as a new user runs it.

Prints the machine, the load average, Dagster's own per-partition floor measured in the same run
(a no-op pair of hourly assets backfilled as one run on a sqlite instance: what every hour of the
demo's backfills costs before any of our code runs), then the demo's wall and CPU time and each
run's seconds. Run it on a quiet machine; on a shared one, under `flock /tmp/energy-bench.lock`.
Usage: uv run python benchmarks/bench_demo.py [demo arguments, e.g. --trials 3]
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._machine import machine_description  # noqa: E402

FLOOR_HOURS = 200


def dagster_floor_ms_per_hour(home: str) -> float:
    """Milliseconds per hour of a one-run backfill of two no-op hourly assets (sqlite), with the
    planned-event setting the demo runs with."""
    import warnings

    import dagster as dg

    from energy_assets.devtools.demo import PLANNED_EVENTS_VARIABLE

    os.environ.setdefault(PLANNED_EVENTS_VARIABLE, "true")

    # BackfillPolicy.single_run() is still marked beta in Dagster 1.13; the warning is noise here.
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    hourly = dg.HourlyPartitionsDefinition(start_date="2026-01-01-00:00")
    policy = dg.BackfillPolicy.single_run()

    @dg.asset(partitions_def=hourly, backfill_policy=policy)
    def upstream() -> None:
        return None

    @dg.asset(partitions_def=hourly, backfill_policy=policy, deps=[upstream])
    def downstream() -> None:
        return None

    class Nothing(dg.IOManager):
        def handle_output(self, context, obj) -> None:
            pass

        def load_input(self, context) -> None:
            return None

    defs = dg.Definitions(
        assets=[upstream, downstream],
        jobs=[dg.define_asset_job("floor", [upstream, downstream])],
        resources={"io_manager": Nothing()},
    )
    last = f"2026-01-{1 + (FLOOR_HOURS - 1) // 24:02d}-{(FLOOR_HOURS - 1) % 24:02d}:00"
    with dg.DagsterInstance.from_config(home) as instance:
        started = time.perf_counter()
        result = defs.resolve_job_def("floor").execute_in_process(
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": "2026-01-01-00:00",
                "dagster/asset_partition_range_end": last,
            },
            run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
        )
        seconds = time.perf_counter() - started
    assert result.success
    return seconds / FLOOR_HOURS * 1000


def main(demo_args: list[str]) -> int:
    print(machine_description())
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as floor_home, tempfile.TemporaryDirectory() as home:
        floor = dagster_floor_ms_per_hour(floor_home)
        print(f"Dagster floor: {floor:.0f} ms per hour of two no-op hourly assets (one run)")
        summary = Path(home) / "summary.json"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "energy_assets.cli", "demo", "--json", str(summary), *demo_args],
            env={**os.environ, "DAGSTER_HOME": str(Path(home) / "dagster_home")},
            cwd=home,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = json.loads(summary.read_text()) if summary.exists() else {}
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:])
        return done.returncode
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(done.stdout)
    for run in result.get("runs", []):
        print(f"  {run['job']:26s} {run['partitions']:38s} {run['seconds']:6.1f} s")
    print(
        f"demo: {wall:.1f} s wall, {cpu:.1f} s CPU (process and children); "
        f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"Dagster floor {floor:.0f} ms per hour"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
