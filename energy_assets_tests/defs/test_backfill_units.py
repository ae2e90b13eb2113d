"""A backfill longer than one unit runs as several runs, each unit once, by Dagster's own daemon.

The instance is the repo's dagster.yaml (sqlite, the queued run coordinator with 2 concurrent
runs, the `energidata_api` pool limited to 1, run retries on), `dagster-daemon run` loads the
code location as `dagster dev` does and launches every run as its own process (the
DefaultRunLauncher). ENERGY_BACKFILL_HOURS_PER_RUN=36 makes a 3-day range two units.

One unit's run worker is SIGKILLed while its first request hangs (the replay API holds it), and
reported failed as the run monitor does when a run pod dies on Kubernetes; run retries then
re-run that unit alone, and the backfill completes with every hour written once.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml
from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from energy_assets.defs import build_definitions
from energy_assets.settings import Settings

# Five run processes (a raw and a features run per unit, and the killed unit's retry), each loading
# the code location; three units were seven processes, ~3 min on an idle 2-core machine, ~9 on one
# at load average 20. Two units are the fewest that are "more than one".
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FIRST_HOUR = "2022-12-21-16:00"  # the bundled slice's first hour
BACKFILL = pd.date_range("2022-12-29 00:00", periods=72, freq="h")
UNIT_HOURS = 36
ASSETS = ("raw_consumption", "consumption_features")
CHECKS = {
    "raw_consumption": {"raw_consumption_gx_suite"},
    "consumption_features": {
        "consumption_features_gx_suite",
        "consumption_features_plausible_values",
    },
}
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def keys(hours) -> list[str]:
    return [h.strftime("%Y-%m-%d-%H:%M") for h in hours]


def wait_for(what: str, condition, timeout: float, daemon: subprocess.Popen, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if daemon.poll() is not None:
            pytest.fail(
                f"dagster-daemon exited while waiting for {what}:\n{log.read_text()[-3000:]}"
            )
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}:\n{log.read_text()[-3000:]}")


def worker_pid(instance: DagsterInstance, run_id: str) -> int | None:
    """The run worker's pid, from the engine event its executor logs ("Executing steps in
    process (pid: N)")."""
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        found = re.search(r"in process \(pid: (\d+)\)", entry.user_message or "")
        if found:
            return int(found.group(1))
    return None


def step_started(instance: DagsterInstance, run_id: str, step: str) -> bool:
    return any(
        entry.step_key == step
        for entry in instance.all_logs(run_id, of_type=DagsterEventType.STEP_START)
    )


def test_a_backfill_of_two_units_runs_each_unit_once_and_reruns_a_killed_unit_alone(
    tmp_path, replay_server, shared_slice
):
    home = tmp_path / "home"
    home.mkdir()
    config = yaml.safe_load((REPO / "dagster.yaml").read_text())
    # Quick daemon loops for a test: the killed run's pool slot is freed within seconds.
    config["run_monitoring"].update(poll_interval_seconds=2, free_slots_after_run_end_seconds=1)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    # The first request (the first unit's raw fetch) hangs long enough to kill its run worker.
    server = replay_server(shared_slice)
    server.faults.slow_next(1, seconds=60)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ENERGIDATA_API_URL": server.url,
        "ENERGY_STORAGE_URL": str(tmp_path / "storage"),
        "ENERGY_PARTITIONS_START": FIRST_HOUR,
        "ENERGY_BACKFILL_HOURS_PER_RUN": str(UNIT_HOURS),
        "MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow.db",
    }
    log = home / "daemon.log"
    with open(log, "w") as out:
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-m", "energy_assets.definitions"],
            cwd=str(REPO),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        with DagsterInstance.from_config(str(home)) as instance:
            backfill_id = _launch_backfill(instance, env)
            runs = lambda: instance.get_runs(RunsFilter(tags={"dagster/backfill": backfill_id}))  # noqa: E731

            # Kill the run whose raw fetch is hanging (one raw step at a time: the pool).
            def hanging_run():
                if server.request_count < 1:
                    return None
                for run in runs():
                    if run.status == DagsterRunStatus.STARTED and step_started(
                        instance, run.run_id, "raw_consumption"
                    ):
                        return run
                return None

            killed = wait_for("a unit's raw fetch", hanging_run, 240, daemon, log)
            pid = wait_for(
                "its worker pid", lambda: worker_pid(instance, killed.run_id), 30, daemon, log
            )
            os.kill(pid, signal.SIGKILL)
            instance.report_run_failed(killed, "run worker killed (SIGKILL), as a lost pod")

            def finished():
                backfill = instance.get_backfill(backfill_id)
                return backfill.status.value if backfill.status.value != "REQUESTED" else None

            status = wait_for("the backfill to finish", finished, 1000, daemon, log)
            assert status == "COMPLETED_SUCCESS", log.read_text()[-3000:]

            all_runs = runs()
            hours = keys(BACKFILL)
            # More than one run, none longer than a unit.
            assert len(all_runs) > 1
            for run in all_runs:
                span = pd.date_range(run.tags[RANGE_START], run.tags[RANGE_END], freq="h")
                assert 1 <= len(span) <= UNIT_HOURS, (run.run_id, span)

            # The killed unit wrote nothing and was re-run alone: one retry of its run, with its
            # range, and no other run was repeated.
            assert not list(
                instance.all_logs(killed.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
            )
            retries = [r for r in all_runs if r.parent_run_id == killed.run_id]
            assert len(retries) == 1
            retry = retries[0]
            assert retry.status == DagsterRunStatus.SUCCESS
            assert (retry.tags[RANGE_START], retry.tags[RANGE_END]) == (
                killed.tags[RANGE_START],
                killed.tags[RANGE_END],
            )
            ranges = Counter(
                (r.tags[RANGE_START], r.tags[RANGE_END], frozenset(r.asset_selection or ()))
                for r in all_runs
            )
            assert [span for span, n in ranges.items() if n > 1] == [
                (
                    killed.tags[RANGE_START],
                    killed.tags[RANGE_END],
                    frozenset(killed.asset_selection),
                )
            ]

            # Every hour of both assets written exactly once, and each check evaluated per hour.
            written: Counter = Counter()
            evaluated: dict[tuple[str, str], set[str]] = {}
            for run in all_runs:
                for entry in instance.all_logs(run.run_id):
                    event = entry.dagster_event
                    if event is None:
                        continue
                    if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
                        materialization = event.step_materialization_data.materialization
                        written[
                            (materialization.asset_key.to_user_string(), materialization.partition)
                        ] += 1
                    elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
                        evaluation = event.event_specific_data
                        if evaluation.partition is not None:
                            key = (evaluation.asset_key.to_user_string(), evaluation.check_name)
                            evaluated.setdefault(key, set()).add(evaluation.partition)
            assert written == Counter({(asset, hour): 1 for asset in ASSETS for hour in hours})
            for asset, checks in CHECKS.items():
                for check in checks:
                    assert evaluated.get((asset, check)) == set(hours), (asset, check)
            for asset in ASSETS:
                assert set(hours) <= instance.get_materialized_partitions(AssetKey(asset))
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()


def _launch_backfill(instance: DagsterInstance, env: dict[str, str]) -> str:
    """An asset backfill of both assets over BACKFILL (a range per asset), as the UI's "Launch
    backfill" submits it."""
    from dagster._core.definitions.selector import (
        PartitionRangeSelector,
        PartitionsByAssetSelector,
        PartitionsSelector,
    )
    from dagster._core.execution.backfill import PartitionBackfill
    from dagster._core.utils import make_new_backfill_id

    settings = Settings.from_env(env)
    hours = keys(BACKFILL)
    backfill = PartitionBackfill.from_partitions_by_assets(
        backfill_id=make_new_backfill_id(),
        asset_graph=build_definitions(settings).resolve_asset_graph(),
        backfill_timestamp=time.time(),
        tags={},
        dynamic_partitions_store=instance,
        partitions_by_assets=[
            PartitionsByAssetSelector(
                asset_key=AssetKey(asset),
                partitions=PartitionsSelector(
                    ranges=[PartitionRangeSelector(start=hours[0], end=hours[-1])]
                ),
            )
            for asset in ASSETS
        ],
        title=None,
        description=None,
        run_config=None,
    )
    instance.add_backfill(backfill)
    return backfill.backfill_id
