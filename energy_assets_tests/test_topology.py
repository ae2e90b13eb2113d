"""The production topology rehearsed with real processes, driven through the webserver's GraphQL
API as the UI drives it.

Processes (see fixtures/topology.py): PostgreSQL (Dagster's storage and MLflow's backend store),
a second PostgreSQL for the Optuna study (so it can be down while Dagster is up), the GCS
emulator (asset values, step logs, MLflow artifacts), the replay API, an `mlflow server`, the
code server (`dagster api grpc`), `dagster-webserver` and `dagster-daemon` with
deploy/dagster.yaml and deploy/workspace.yaml. Runs are queued by the QueuedRunCoordinator and
launched by the daemon through the code server (DefaultRunLauncher: one process per run).

One module-scoped topology serves both tests: the normal life of the platform, then the bad
states (a service down) with their messages.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml
from dagster import AssetKey, RunsFilter

from energy_assets_tests.fixtures.browser import (
    graphql,
    launch_asset_partition_run,
    wait_for_code_locations,
    wait_for_run,
)
from energy_assets_tests.fixtures.gcs import GcsEmulator
from energy_assets_tests.fixtures.postgres import PostgresServer, start_postgres
from energy_assets_tests.fixtures.topology import (
    DEPLOY,
    Topology,
    free_port,
    launch_asset_backfill,
    launch_job_run,
    run_failure_messages,
    sensor_ticks,
    start_sensor,
    wait_for_backfill,
    wait_for_http,
    wait_for_port,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

FIRST_HOUR = "2022-12-21-16:00"  # the bundled slice: 2022-12-21T16 -> 2023-01-17T22 UTC
SENSOR = "retrain_on_drift_or_error"
INGESTION = ["raw_consumption", "consumption_features"]
# The source reports 1.6x consumption from this hour on: after the model's training window
# (it ends 2023-01-08T23), so the drift report of a later day sees a change.
DRIFT_FROM = pd.Timestamp("2023-01-12 00:00")
LAST_HOUR = "2023-01-17 22:00"
# Tiny training: this is about the wiring; test_backtest is about accuracy.
MODEL_CONFIG = {
    "training_end": "2023-01-08T23:00:00+00:00",
    "training_window_days": 14,
    "backtest_days": 2,
    "n_trials": 2,
    "n_workers": 2,
    "n_folds": 1,
    "fixed_params": {"num_boost_round": 40, "max_train_rows": 20_000},
}


def hour_range(first: str, last: str) -> list[str]:
    hours = pd.date_range(pd.Timestamp(first), pd.Timestamp(last), freq="h")
    return [h.strftime("%Y-%m-%d-%H:%M") for h in hours]


@dataclass
class Platform:
    topology: Topology
    postgres: PostgresServer
    optuna_postgres: PostgresServer
    gcs: GcsEmulator
    replay: object
    values_bucket: str
    mlflow_url: str
    mlflow_port: int
    mlflow_backend: str
    mlflow_artifacts: str

    @property
    def base_url(self) -> str:
        return self.topology.base_url

    def instance(self):
        """The same instance the services use (Postgres, from DAGSTER_HOME), for assertions."""
        from dagster import DagsterInstance

        return DagsterInstance.from_config(str(self.topology.home))

    def objects(self, prefix: str) -> dict[str, int]:
        """Object name -> generation under values/<prefix> in the values bucket."""
        blobs = self.gcs.client().list_blobs(self.values_bucket, prefix=f"values/{prefix}")
        return {blob.name: blob.generation for blob in blobs}

    def registered_versions(self, store: str | None = None) -> int:
        """Versions of the registered model, through the server (or its backend `store`)."""
        from mlflow import MlflowClient

        uri = store or self.mlflow_url
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        return len(client.search_model_versions("name='energy_consumption_forecaster'"))


def instance_yaml() -> str:
    """deploy/dagster.yaml with limits for this 2-core machine and quick daemon loops."""
    config = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    config["concurrency"]["runs"]["max_concurrent_runs"] = 2
    config["run_coordinator"]["config"].update(
        {"max_user_code_failure_retries": 1, "user_code_failure_retry_delay": 2}
    )
    config["run_coordinator"]["config"]["dequeue_interval_seconds"] = 1
    config["run_monitoring"]["poll_interval_seconds"] = 5
    # Runs the sensor requests stay queued: the test counts them, then cancels them.
    config["concurrency"]["runs"]["tag_concurrency_limits"].append(
        {"key": "dagster/sensor_name", "value": SENSOR, "limit": 0}
    )
    return yaml.safe_dump(config)


@pytest.fixture(scope="module")
def platform(postgres_server, gcs_emulator, shared_slice, tmp_path_factory) -> Iterator[Platform]:
    from energy_assets.devtools.replay_api import ReplayServer

    home: Path = tmp_path_factory.mktemp("topology_home")
    (home / "dagster.yaml").write_text(instance_yaml())
    postgres_server.create_database("topology_dagster")
    postgres_server.create_database("topology_mlflow")
    optuna_postgres = start_postgres()
    optuna_postgres.create_database("optuna")
    for bucket in ("energy-values", "energy-step-logs", "energy-mlflow"):
        gcs_emulator.make_bucket(bucket)
    replay = ReplayServer(shared_slice).start()
    mlflow_port = free_port()
    env = {
        **os.environ,
        **postgres_server.dagster_env("topology_dagster"),
        "DAGSTER_HOME": str(home),
        "DAGSTER_CODE_SERVER_HOST": "127.0.0.1",
        "DAGSTER_CODE_SERVER_PORT": str(free_port()),
        "DAGSTER_COMPUTE_LOGS_BUCKET": "energy-step-logs",
        # The event-log settings shipped in deploy/ (docker-compose.yaml, Helm values).
        "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
        "DAGSTER_EVENT_BATCH_SIZE": "10000",
        "ENERGIDATA_API_URL": replay.url,
        "ENERGY_STORAGE_URL": "gs://energy-values/values",
        "ENERGY_PARTITIONS_START": FIRST_HOUR,
        "ENERGY_OPTUNA_STORAGE": optuna_postgres.url("optuna", "postgresql+psycopg2"),
        "ENERGY_RETRAIN_SENSOR_INTERVAL_SECONDS": "5",
        "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{mlflow_port}",
        # Fail fast when the server is down (deploy: 5 retries, factor 2, ~1 min).
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
        "STORAGE_EMULATOR_HOST": gcs_emulator.host,
        "GOOGLE_CLOUD_PROJECT": "test",
        "PYTHONUNBUFFERED": "1",
    }
    topology = Topology(home, env)
    platform = Platform(
        topology=topology,
        postgres=postgres_server,
        optuna_postgres=optuna_postgres,
        gcs=gcs_emulator,
        replay=replay,
        values_bucket="energy-values",
        mlflow_url=env["MLFLOW_TRACKING_URI"],
        mlflow_port=mlflow_port,
        mlflow_backend=postgres_server.url("topology_mlflow", "postgresql+psycopg2"),
        mlflow_artifacts="gs://energy-mlflow/artifacts",
    )
    shared = ("DAGSTER_HOME", "DAGSTER_COMPUTE_LOGS_BUCKET", *postgres_server.dagster_env(""))
    saved = {k: os.environ.get(k) for k in shared}
    try:
        # Slowest first (MLflow migrates its schema on first start); Dagster's schema once, then
        # its three services in parallel.
        mlflow = topology.start_mlflow(
            mlflow_port, platform.mlflow_backend, platform.mlflow_artifacts
        )
        topology.migrate_instance()
        code_server = topology.start_code_server()
        webserver = topology.start_webserver()
        topology.start_daemon()
        wait_for_port(topology.code_server_port, code_server, timeout=180)
        wait_for_http(f"{topology.base_url}/server_info", webserver, timeout=180)
        wait_for_code_locations(topology.base_url, timeout=180)
        wait_for_http(f"{platform.mlflow_url}/health", mlflow, timeout=240)
        # The test process reads the same instance for its assertions.
        os.environ.update({k: env[k] for k in saved})
        yield platform
    except BaseException:
        print(topology.logs())
        raise
    finally:
        topology.stop()
        replay.stop()
        optuna_postgres.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _materialisations_per_partition(instance, asset: str) -> dict[str, int]:
    """Partition key -> how many materialisation events the event log holds for it."""
    from collections import Counter

    # The API's page maximum; a test range is far smaller, and a full page would mean more.
    result = instance.fetch_materializations(AssetKey(asset), limit=10_000)
    assert not result.has_more
    return dict(Counter(r.asset_materialization.partition for r in result.records))


@pytest.mark.timeout(1800)
def test_the_platform_runs_as_separate_services(platform: Platform):
    base_url = platform.base_url
    graphql(base_url, "mutation { setNuxSeen }")
    instance = platform.instance()
    lap = _Laps()

    lap("step 1")
    # 1. Drift at the source from DRIFT_FROM on (1.6x consumption), then a multi-day backfill of
    #    raw + features over the whole slice, launched as the UI's "Launch backfill" does; the
    #    daemon is SIGKILLed in the middle of it and restarted.
    drifted = platform.replay.data.copy()
    late = drifted["HourUTC"] >= DRIFT_FROM
    drifted.loc[late, "TotalCon"] = (drifted.loc[late, "TotalCon"] * 1.6).round()
    platform.replay.set_data(drifted)
    first_range = hour_range(FIRST_HOUR, LAST_HOUR)
    backfill = launch_asset_backfill(base_url, INGESTION, first_range[0], first_range[-1])
    deadline = time.monotonic() + 180
    while not instance.get_runs_count(RunsFilter(tags={"dagster/backfill": backfill})):
        assert time.monotonic() < deadline, "the backfill launched no run"
        time.sleep(0.5)
    platform.topology.services["daemon"].kill()  # SIGKILL: no cleanup, like a lost pod
    platform.topology.start_daemon()
    assert wait_for_backfill(base_url, backfill, timeout=600) == "COMPLETED_SUCCESS", (
        platform.topology.logs()
    )
    backfill_runs = instance.get_runs(RunsFilter(tags={"dagster/backfill": backfill}))
    # The slice (655 hours) is within one backfill unit (ENERGY_BACKFILL_HOURS_PER_RUN, 1,488):
    # one run for both assets over the whole range, not resubmitted by the restarted daemon.
    assert len(backfill_runs) == 1
    assert backfill_runs[0].asset_selection == {AssetKey(a) for a in INGESTION}
    for asset in INGESTION:
        counts = _materialisations_per_partition(instance, asset)
        # Every partition written exactly once, nothing lost.
        assert {k: counts.get(k) for k in first_range} == dict.fromkeys(first_range, 1)
        assert len(platform.objects(f"{asset}/")) == len(first_range)

    lap("step 2")
    # 2. Train: prepare -> 2 tune workers (parallel processes) -> finalize, on the MLflow server.
    run_id = launch_job_run(
        base_url, "retrain_job", run_config={"ops": {"forecasting_model": {"config": MODEL_CONFIG}}}
    )
    assert wait_for_run(base_url, run_id, timeout=900) == "SUCCESS", run_failure_messages(
        base_url, run_id
    )
    model = _latest_metadata(instance, "forecasting_model")
    assert model["tuning_workers"] == 2 and model["trials_per_worker"] == "1, 1"
    assert model["champion"] is True
    assert str(model["mlflow_run"]).startswith(platform.mlflow_url)
    # The registered model's files went through the server to the GCS emulator.
    artifacts = list(platform.gcs.client().list_blobs("energy-mlflow", prefix="artifacts/"))
    assert any(blob.name.endswith("MLmodel") for blob in artifacts)

    lap("step 3")
    # 3. A forecast run reads the champion from the MLflow server.
    forecast_run = launch_asset_partition_run(base_url, "forecasts", "2023-01-08-23:00")
    assert wait_for_run(base_url, forecast_run, timeout=600) == "SUCCESS", run_failure_messages(
        base_url, forecast_run
    )
    assert _latest_metadata(instance, "forecasts")["model_version"] == model["model_version"]

    lap("step 4")
    # 4. The drift report of a day after the change.
    drift_run = launch_asset_partition_run(base_url, "drift_report", "2023-01-15")
    assert wait_for_run(base_url, drift_run, timeout=600) == "SUCCESS", run_failure_messages(
        base_url, drift_run
    )
    assert _latest_metadata(instance, "drift_report")["drift_share"] > 0.5

    lap("step 5")
    # 5. The sensor on: the daemon's real ticks request exactly one retrain for that event.
    start_sensor(base_url, SENSOR)
    deadline = time.monotonic() + 180
    while True:
        ticks = sensor_ticks(base_url, SENSOR)
        requested = [t for t in ticks if t["runIds"]]
        # Finished ticks only: the newest may still be evaluating (STARTED) on a busy machine.
        after = [
            t
            for t in ticks
            if requested and t["timestamp"] > requested[0]["timestamp"] and t["status"] != "STARTED"
        ]
        if requested and len(after) >= 2:
            break
        assert time.monotonic() < deadline, f"sensor ticks so far: {ticks}"
        time.sleep(2)
    sensor_runs = instance.get_runs(RunsFilter(tags={"dagster/sensor_name": SENSOR}))
    assert len(sensor_runs) == 1 and len(requested) == 1
    assert sensor_runs[0].job_name == "retrain_job"
    assert all(t["status"] == "SKIPPED" for t in after), [
        (t["status"], t["skipReason"]) for t in after
    ]
    # The test instance holds sensor runs in the queue (a full default search is not this
    # test's business): cancel it.
    assert sensor_runs[0].status.value == "QUEUED"
    graphql(
        base_url,
        "mutation($id: String!) { terminateRun(runId: $id) { __typename } }",
        {"id": sensor_runs[0].run_id},
    )
    assert wait_for_run(base_url, sensor_runs[0].run_id, timeout=120) == "CANCELED"
    lap("end")


class _Laps:
    """Prints how long each step of a test took (shown with -s, or with the failure report)."""

    def __init__(self) -> None:
        self.started = self.last = time.monotonic()

    def __call__(self, label: str) -> None:
        now = time.monotonic()
        if label.endswith(" 1"):
            self.started = now
        else:
            print(f"{label}: previous step {now - self.last:.1f} s, {now - self.started:.1f} s in")
        self.last = now


def _latest_metadata(instance, asset: str) -> dict:
    event = instance.get_latest_materialization_event(AssetKey(asset))
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def _wait_for_step_start(instance, run_id: str, step_prefix: str, timeout: float) -> None:
    from dagster import DagsterEventType

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = instance.all_logs(run_id, of_type=DagsterEventType.STEP_START)
        if any((r.step_key or "").startswith(step_prefix) for r in records):
            return
        run = instance.get_run_by_id(run_id)
        assert not run.is_finished, f"run {run_id} ended {run.status} before {step_prefix}"
        time.sleep(0.5)
    raise TimeoutError(f"no {step_prefix} step started in run {run_id}")


@pytest.mark.timeout(1200)
def test_bad_states_fail_the_run_with_a_clear_message_and_write_nothing(platform: Platform):
    base_url = platform.base_url
    instance = platform.instance()
    lap = _Laps()
    models_before = platform.objects("forecasting_model/")
    versions_before = platform.registered_versions()
    retrain_config = {
        "ops": {"forecasting_model": {"config": {**MODEL_CONFIG, "n_workers": 1}}},
    }

    lap("step 1")
    # 1. Optuna's Postgres is down when the run starts.
    platform.optuna_postgres.stop_server()
    try:
        run_id = launch_job_run(base_url, "retrain_job", run_config=retrain_config)
        assert wait_for_run(base_url, run_id, timeout=300) == "FAILURE"
    finally:
        platform.optuna_postgres.start_server()
    messages = run_failure_messages(base_url, run_id)
    optuna_url = platform.optuna_postgres.url("optuna", "postgresql+psycopg2")
    assert f"Optuna study storage {optuna_url} (ENERGY_OPTUNA_STORAGE) is unreachable" in messages
    assert "Start that database" in messages
    assert platform.objects("forecasting_model/") == models_before
    assert platform.registered_versions() == versions_before

    lap("step 2")
    # 2. The MLflow server dies while the tuning workers run (it stays down: the registry is
    #    then read from its Postgres backend store directly).
    run_id = launch_job_run(base_url, "retrain_job", run_config=retrain_config)
    _wait_for_step_start(instance, run_id, "forecasting_model.tune_worker", timeout=300)
    platform.topology.services["mlflow"].kill()
    assert wait_for_run(base_url, run_id, timeout=300) == "FAILURE"
    messages = run_failure_messages(base_url, run_id)
    assert f"MLflow tracking server {platform.mlflow_url} (MLFLOW_TRACKING_URI)" in messages
    assert "Start the MLflow server" in messages and "re-run retrain_job" in messages
    assert platform.objects("forecasting_model/") == models_before
    assert platform.registered_versions(store=platform.mlflow_backend) == versions_before

    lap("step 3")
    # 3. The code server is gone when the daemon launches a queued run.
    topology = platform.topology
    topology.services["daemon"].kill()
    run_id = launch_asset_partition_run(base_url, "forecasts", "2023-01-09-05:00")
    assert instance.get_run_by_id(run_id).status.value == "QUEUED"
    topology.services["code_server"].kill()
    topology.start_daemon()
    assert wait_for_run(base_url, run_id, timeout=180) == "FAILURE"
    messages = run_failure_messages(base_url, run_id)
    # Dagster's own words (the daemon fails the run before any of our code runs).
    assert "failed to reach the user code server" in messages, messages[-2000:]
    assert "Could not reach user code server" in messages
    assert not platform.objects("forecasts/date=2023-01-09/hour=05/")
    lap("end")
