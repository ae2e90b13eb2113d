"""Operations benchmark: the hourly loop's costs on the bundled real slice (76 series).

Prints the wall time to materialise one `forecasts` partition (champion load included), the
same with and without its chart (alternating runs in one process, medians, and the one-off cost
of importing matplotlib and drawing a first chart in a fresh process), a 7-day forecast backfill
as one run (168 origins) next to 168 one-origin runs (sampled, then scaled), and one
`drift_report`. Setup (one-run backfill of raw + features, a quickly tuned champion) is timed too
but is not the point. Usage: uv run python benchmarks/bench_operations.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._machine import machine_description  # noqa: E402
from energy_assets.devtools import SAMPLE_DATA_PATH  # noqa: E402

SLICE = SAMPLE_DATA_PATH


def main() -> int:
    from dagster import DagsterInstance

    from energy_assets.devtools.replay_api import ReplayServer

    print(machine_description())
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as home, ReplayServer(SLICE) as server:
        os.environ.update(
            DAGSTER_HOME=home,
            ENERGIDATA_API_URL=server.url,
            ENERGY_STORAGE_URL=f"{home}/storage",
            MLFLOW_TRACKING_URI=f"sqlite:///{home}/mlflow.db",
            ENERGY_OPTUNA_STORAGE=f"sqlite:///{home}/optuna.db",
        )
        from energy_assets.defs import build_definitions
        from energy_assets.settings import Settings

        defs = build_definitions(Settings.from_env())
        instance = DagsterInstance.local_temp(tempdir=home)

        def timed(label, job, **kwargs):
            started = time.perf_counter()
            result = defs.resolve_job_def(job).execute_in_process(instance=instance, **kwargs)
            seconds = time.perf_counter() - started
            assert result.success, label
            rows.append((label, seconds))
            print(f"{label:62s} {seconds:7.2f} s", flush=True)
            return seconds

        def hour_range(first, last):
            return {
                "dagster/asset_partition_range_start": first,
                "dagster/asset_partition_range_end": last,
            }

        timed(
            "setup: backfill raw + features, 655 hours, one run",
            "ingestion_backfill_job",
            tags=hour_range("2022-12-21-16:00", "2023-01-17-22:00"),
        )
        quick = {
            "training_end": "2023-01-09T23:00:00+00:00",
            "n_trials": 3,
            "n_folds": 2,
            "backtest_days": 3,
        }
        timed(
            "setup: forecasting_model (3 Optuna trials, register, promote)",
            "retrain_job",
            run_config={"ops": {"forecasting_model": {"config": quick}}},
        )
        one = timed(
            "one forecasts partition (champion load included)",
            "forecasts_backfill_job",
            partition_key="2023-01-10-00:00",
        )
        charts = {True: [], False: []}
        for repeat in range(5):
            for with_chart in (True, False) if repeat % 2 == 0 else (False, True):
                started = time.perf_counter()
                result = defs.resolve_job_def("forecasts_backfill_job").execute_in_process(
                    instance=instance,
                    partition_key="2023-01-10-00:00",
                    run_config={"ops": {"forecasts": {"config": {"charts": with_chart}}}},
                )
                assert result.success
                charts[with_chart].append(time.perf_counter() - started)
        with_chart, without = (statistics.median(charts[flag]) for flag in (True, False))
        rows.append(("one forecasts partition with its chart (median of 5)", with_chart))
        rows.append(("one forecasts partition without a chart (median of 5)", without))
        for label, seconds in rows[-2:]:
            print(f"{label:62s} {seconds:7.2f} s", flush=True)
        cold = first_chart_in_a_fresh_process()
        rows.append(("first chart in a fresh process (import matplotlib + draw)", cold))
        print(f"{rows[-1][0]:62s} {cold:7.2f} s", flush=True)
        week = timed(
            "7-day forecast backfill, one run (168 origins)",
            "forecasts_backfill_job",
            tags=hour_range("2023-01-10-00:00", "2023-01-16-23:00"),
        )
        sample = 6
        started = time.perf_counter()
        for hour in range(1, 1 + sample):
            defs.resolve_job_def("forecasts_backfill_job").execute_in_process(
                instance=instance, partition_key=f"2023-01-10-{hour:02d}:00"
            )
        per_run = (time.perf_counter() - started) / sample
        rows.append(("7 days as 168 one-origin runs (measured on 6, scaled)", per_run * 168))
        print(f"{rows[-1][0]:62s} {rows[-1][1]:7.2f} s")
        drift = timed(
            "one drift_report (+ forecast_accuracy) for a day",
            "daily_monitoring_job",
            partition_key="2023-01-12",
        )
    print()
    print(
        f"the forecast chart adds {with_chart - without:.2f} s to a warm forecasts partition "
        f"({with_chart / without:.2f}x), and {cold:.2f} s once per run process (matplotlib)"
    )
    print(
        f"one forecasts partition: {one:.2f} s; 7-day backfill: {week:.2f} s "
        f"({week / 168 * 1000:.0f} ms per origin, {per_run * 168 / week:.0f}× faster than one run per origin); "
        f"daily monitoring: {drift:.2f} s"
    )
    return 0


def first_chart_in_a_fresh_process() -> float:
    """Seconds to import matplotlib and draw one forecast chart in a new interpreter (pandas
    already imported, as it is in a run worker by then)."""
    script = """
import time
import numpy as np, pandas as pd
from energy_assets.reporting import charts
origin = pd.Timestamp("2023-01-10 05:00", tz="UTC")
rows = [dict(area=a, segment=c, forecast_origin=origin, datetime_utc=origin + pd.Timedelta(hours=h),
             horizon_hours=h, prediction=100.0 + h, prediction_lower=90.0, prediction_upper=120.0 + h,
             model_version="1") for a, c in (("DK1", 111), ("DK2", 999)) for h in range(1, 25)]
hours = pd.date_range(origin - pd.Timedelta(days=3), origin, freq="h")
history = pd.DataFrame([dict(datetime_utc=t, area=a, segment=c, energy_consumption=100.0)
                        for a, c in (("DK1", 111), ("DK2", 999)) for t in hours])
started = time.perf_counter()
charts.forecast_chart(pd.DataFrame(rows), history)
print(time.perf_counter() - started)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    return float(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    sys.exit(main())
