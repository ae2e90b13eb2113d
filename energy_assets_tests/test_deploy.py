"""Deploy files a platform team can apply, checked as far as this machine allows.

- deploy/dagster.yaml on a real Postgres with its GCS step logs (GCS emulator);
  deploy/workspace.yaml loaded by Dagster's own workspace loader.
- Every environment variable the code reads (energy_assets/settings.py, the ${env} references
  of dagster.yaml / workspace.yaml, the event-log settings) is provided by the compose stack and
  by the Helm values; secrets only by reference; every image pinned.
- The Helm chart itself is not rendered: no `helm` binary or chart repository is reachable from
  this machine, so the values are loaded and checked structurally (docs/how-to/deploy.md).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, asset, materialize

from energy_assets.settings import ENVIRONMENT_VARIABLES
from energy_assets_tests.helpers import stop_process

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
DAGSTER_SERVICES = ("user_code", "webserver", "daemon")
# Read by Dagster itself in every process that creates or executes runs (docs/how-to/deploy.md).
EVENT_LOG_VARIABLES = {
    "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS",
    "DAGSTER_EVENT_BATCH_SIZE",
}
# The MLflow client's retry budget when the server is down (a clear failure after it).
MLFLOW_CLIENT_VARIABLES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"}
# Read by libraries, not provided on purpose: the emulator is for tests only, and on GKE
# credentials come from Workload Identity instead of a key file.
NOT_PROVIDED_IN_HELM = {"GOOGLE_APPLICATION_CREDENTIALS"}
# Read only by the forecast API (`energy-assets serve`), which runs as its own service.
API_VARIABLES = {
    "ENERGY_API_TOKENS",
    "ENERGY_API_TOKEN_FILE",
    "ENERGY_API_MAX_FORECAST_AGE_SECONDS",
    "ENERGY_API_CACHE_SECONDS",
}
# Values that carry a password: only ever `${…}` (compose) or a secretKeyRef (Kubernetes).
SECRET_VARIABLES = {
    "DAGSTER_PG_PASSWORD",
    "ENERGY_OPTUNA_STORAGE",
    "MLFLOW_BACKEND_STORE_URI",
    "ENERGY_ALERT_WEBHOOK_URL",  # a Slack webhook URL's path is its credential
    "ENERGY_ALERT_SMTP_PASSWORD",
    "ENERGY_API_TOKENS",
}


def _env_references(path: Path) -> set[str]:
    """Names under `env:` keys of a Dagster YAML file (StringSource/IntSource from the env)."""
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "env" and isinstance(value, str):
                    found.add(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load(path.read_text()))
    return found


def required_variables() -> set[str]:
    return (
        set(ENVIRONMENT_VARIABLES.values()) - API_VARIABLES
        | _env_references(DEPLOY / "dagster.yaml")
        | _env_references(DEPLOY / "workspace.yaml")
        | EVENT_LOG_VARIABLES
        | MLFLOW_CLIENT_VARIABLES
        | {"GOOGLE_APPLICATION_CREDENTIALS"}
    )


def _pg_env(postgres_server, database: str, monkeypatch) -> None:
    for name, value in postgres_server.dagster_env(database).items():
        monkeypatch.setenv(name, value)


@pytest.mark.postgres
def test_production_instance_stores_runs_events_and_step_logs(
    postgres_server, gcs_emulator, monkeypatch, tmp_path
):
    postgres_server.create_database("dagster_test")
    _pg_env(postgres_server, "dagster_test", monkeypatch)
    bucket = gcs_emulator.make_bucket()
    monkeypatch.setenv("DAGSTER_COMPUTE_LOGS_BUCKET", bucket.name)
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((DEPLOY / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    @asset
    def deploy_smoke():
        print("hello from a step")
        return 1

    with DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        # Runs whose worker died are failed by the daemon, not left STARTED.
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_max_runtime_seconds > 0
        assert type(instance.compute_log_manager).__name__ == "GCSComputeLogManager"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        result = materialize([deploy_smoke], instance=instance)
        assert result.success
        assert instance.get_latest_materialization_event(AssetKey("deploy_smoke")) is not None
        assert instance.get_run_by_id(result.run_id) is not None
    # The step's stdout was uploaded to the bucket for the UI.
    names = [blob.name for blob in gcs_emulator.client().list_blobs(bucket.name)]
    assert any(name.startswith("dagster-compute-logs/") for name in names), names


def test_the_workspace_finds_the_code_server_by_host_and_port(monkeypatch):
    from dagster._core.workspace.load import location_origins_from_yaml_paths

    monkeypatch.setenv("DAGSTER_CODE_SERVER_HOST", "user_code")
    monkeypatch.setenv("DAGSTER_CODE_SERVER_PORT", "4000")
    (origin,) = location_origins_from_yaml_paths([str(DEPLOY / "workspace.yaml")])
    assert (origin.host, origin.port, origin.location_name) == ("user_code", 4000, "energy_assets")


WORKER = textwrap.dedent(
    """
    import sys, optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name="shared", storage=sys.argv[1])
    study.optimize(lambda t: (t.suggest_float("x", -5, 5) - 1) ** 2, n_trials=int(sys.argv[2]))
    """
)


@pytest.mark.postgres
def test_two_workers_tune_one_optuna_study_over_postgres(postgres_server):
    import optuna

    postgres_server.create_database("optuna_test")
    url = postgres_server.url("optuna_test", driver="postgresql+psycopg2")
    optuna.create_study(study_name="shared", storage=url, direction="minimize")
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, url, "6"], stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for worker in workers:
        assert worker.wait(timeout=120) == 0, worker.stderr.read().decode()
    study = optuna.load_study(study_name="shared", storage=url)
    assert len(study.trials) == 12
    assert len({t.number for t in study.trials}) == 12


# --------------------------------------------------------------------------- compose


def _compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text())


def test_compose_provides_every_variable_the_code_reads():
    compose = _compose()
    required = required_variables()
    for name in DAGSTER_SERVICES:
        environment = compose["services"][name]["environment"]
        missing = required - set(environment)
        assert not missing, f"compose service {name} lacks {sorted(missing)}"
    # The MLflow server: Postgres backend (by reference) and GCS artifacts.
    mlflow = compose["services"]["mlflow"]
    assert mlflow["environment"]["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql")
    assert "--artifacts-destination gs://" in mlflow["command"]
    env = compose["services"]["user_code"]["environment"]
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert env["ENERGY_OPTUNA_STORAGE"].startswith("postgresql")
    assert env["DAGSTER_CODE_SERVER_HOST"] == "user_code"


def test_compose_migrates_the_instance_once_before_its_users_start():
    # On an empty database, services that each create Dagster's schema race (a fresh-clone run of
    # the topology test lost it: DuplicateObject). One migrate step goes first.
    services = _compose()["services"]
    migrate = services["migrate"]
    assert migrate["command"] == "dagster instance migrate"
    assert migrate["environment"] == services["daemon"]["environment"]  # the same instance
    assert migrate["depends_on"]["postgres"] == {"condition": "service_healthy"}
    for name in DAGSTER_SERVICES:
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }, name


def test_compose_takes_secrets_only_by_reference():
    text = (DEPLOY / "docker-compose.yaml").read_text()
    compose = yaml.safe_load(text)
    for service in compose["services"].values():
        for name, value in (service.get("environment") or {}).items():
            if name in SECRET_VARIABLES or "PASSWORD" in name:
                # A reference: to Postgres's password, or to the variable of its own name.
                references = ("${DAGSTER_PG_PASSWORD", "${" + name)
                assert any(r in str(value) for r in references), f"{name} holds a literal secret"
    # No literal password anywhere in the file: every line naming one is a reference.
    for line in text.splitlines():
        if "PASSWORD" in line and ":" in line and not line.lstrip().startswith("#"):
            assert "${" in line, line


def _helm_env() -> dict[str, dict]:
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    return {entry["name"]: entry for entry in deployment["env"]}


def test_helm_provides_every_variable_the_code_reads_secrets_by_reference():
    env = _helm_env()
    missing = set(ENVIRONMENT_VARIABLES.values()) - set(env) - NOT_PROVIDED_IN_HELM - API_VARIABLES
    assert not missing, f"the Helm user deployment lacks {sorted(missing)}"
    for name in SECRET_VARIABLES & set(env):
        assert "value" not in env[name], f"{name} holds a literal secret"
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "energy-assets-secrets", name


def _compose_default(value: str) -> str:
    """A compose string with every ${VAR:-default} replaced by its default (nothing set)."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_compose_publishes_the_unauthenticated_ui_on_loopback_only():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text())
    published = {
        name: [_compose_default(str(port)) for port in service.get("ports", [])]
        for name, service in compose["services"].items()
    }
    assert published.pop("webserver") == ["127.0.0.1:3000:3000"]
    assert published.pop("mlflow") == ["127.0.0.1:5000:5000"]  # its UI has no login either
    assert published.pop("forecast_api") == ["127.0.0.1:8000:8000"]  # tokens, and loopback too
    assert not any(published.values())  # Postgres and the code server stay on the network


def test_the_forecast_api_is_deployed_read_only_with_tokens_by_reference():
    """compose and the cluster manifest: `energy-assets serve` on 0.0.0.0 (so tokens are
    required), its settings provided, tokens by reference, read-only credentials, readiness on
    /readyz, resources stated."""
    api = _compose()["services"]["forecast_api"]
    assert api["command"] == "energy-assets serve --host 0.0.0.0 --port 8000"
    env = api["environment"]
    assert set(API_VARIABLES) <= set(env) and env["ENERGY_API_TOKENS"].startswith(
        "${ENERGY_API_TOKENS:?"
    )
    assert env["ENERGY_STORAGE_URL"].startswith("gs://")
    assert api["read_only"] is True and all(v.endswith(":ro") for v in api["volumes"])
    assert "reader" in env["GOOGLE_APPLICATION_CREDENTIALS"]
    assert "/readyz" in " ".join(api["healthcheck"]["test"])
    assert not {"DAGSTER_PG_PASSWORD", "MLFLOW_TRACKING_URI", "ENERGY_OPTUNA_STORAGE"} & set(env)

    documents = list(yaml.safe_load_all((DEPLOY / "helm" / "forecast-api.yaml").read_text()))
    kinds = {d["kind"]: d for d in documents}
    assert set(kinds) == {"ServiceAccount", "Deployment", "Service"}
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == kinds["ServiceAccount"]["metadata"]["name"]
    assert (
        "reader"
        in kinds["ServiceAccount"]["metadata"]["annotations"]["iam.gke.io/gcp-service-account"]
    )
    (container,) = pod["containers"]
    assert (
        container["command"] == ["energy-assets", "serve"] and "--host=0.0.0.0" in container["args"]
    )
    env = {e["name"]: e for e in container["env"]}
    assert env["ENERGY_API_TOKENS"]["valueFrom"]["secretKeyRef"]["name"] == "energy-assets-api"
    assert "value" not in env["ENERGY_API_TOKENS"]
    assert "/readyz" in " ".join(container["readinessProbe"]["exec"]["command"])
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    port = container["ports"][0]["containerPort"]
    assert kinds["Service"]["spec"]["ports"][0]["targetPort"] == port == 8000


SLEEPY_JOB = textwrap.dedent(
    """
    import os, sys, time
    import dagster as dg

    @dg.op
    def hold_the_worker():
        with open(os.environ["PID_FILE"], "w") as fh:
            fh.write(str(os.getpid()))
        time.sleep(600)

    @dg.job
    def sleepy():
        hold_the_worker()
    """
)


def _production_home(postgres_server, database: str, tmp_path: Path, monkeypatch) -> Path:
    postgres_server.create_database(database)
    monkeypatch.setenv("DAGSTER_PG_HOST", postgres_server.host)
    monkeypatch.setenv("DAGSTER_PG_PORT", str(postgres_server.port))
    monkeypatch.setenv("DAGSTER_PG_USER", postgres_server.user)
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "")
    monkeypatch.setenv("DAGSTER_PG_DB", database)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@pytest.mark.slow
@pytest.mark.postgres
def test_a_run_whose_worker_is_sigkilled_is_failed_by_run_monitoring(
    postgres_server, gcs_emulator, monkeypatch, tmp_path
):
    """The production instance's run monitoring, with the daemon running: a run worker killed
    by SIGKILL leaves its run STARTED until the daemon marks it FAILURE (after the maximum
    runtime, lowered here from hours to seconds so the test can wait for it)."""
    config = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    monitoring = config.get("run_monitoring") or {}
    assert monitoring.get("enabled") is True and monitoring.get("max_runtime_seconds", 0) > 0
    monitoring.update(max_runtime_seconds=5, poll_interval_seconds=1)
    home = _production_home(postgres_server, "dagster_monitoring", tmp_path, monkeypatch)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    # The production instance uploads step logs to GCS (the emulator here).
    monkeypatch.setenv("DAGSTER_COMPUTE_LOGS_BUCKET", gcs_emulator.make_bucket().name)
    job_file = tmp_path / "sleepy.py"
    job_file.write_text(SLEEPY_JOB)
    pid_file = tmp_path / "worker.pid"
    monkeypatch.setenv("PID_FILE", str(pid_file))
    bin_dir = Path(sys.executable).parent
    worker_log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [str(bin_dir / "dagster"), "job", "execute", "-f", str(job_file), "-j", "sleepy"],
        stdout=subprocess.DEVNULL,
        stderr=worker_log.open("w"),
        start_new_session=True,  # the worker and its step process: one group, killed together
    )
    daemon = None
    try:
        deadline = time.monotonic() + 120
        while not (pid_file.exists() and pid_file.read_text()):
            assert worker.poll() is None and time.monotonic() < deadline, (
                f"the run never started:\n{worker_log.read_text()[-3000:]}"
            )
            time.sleep(0.2)
        # A lost node: the worker and its step process go at once (killing only the worker
        # would leave its step sleeping on, past the test).
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        with DagsterInstance.get() as instance:
            (run,) = instance.get_runs()
            assert run.status == DagsterRunStatus.STARTED  # nobody is left to say otherwise
            daemon = subprocess.Popen(
                [str(bin_dir / "dagster-daemon"), "run", "-f", str(job_file)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 180
            # STARTED, then CANCELING while the daemon tries to stop it, then FAILURE.
            while not instance.get_run_by_id(run.run_id).is_finished:
                assert daemon.poll() is None, "the daemon exited"
                status = instance.get_run_by_id(run.run_id).status
                assert time.monotonic() < deadline, f"the killed run is still {status}"
                time.sleep(1)
            assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE
    finally:
        for process in (worker, daemon):
            if process is not None:
                stop_process(process, timeout=30)
