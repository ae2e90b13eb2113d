"""Deploy files a platform team can apply, checked as far as this machine allows.

- deploy/dagster.yaml on a real Postgres with its GCS step logs (GCS emulator);
  deploy/workspace.yaml loaded by Dagster's own workspace loader.
- Every environment variable the code reads (energy_assets/settings.py, the ${env} references
  of dagster.yaml / workspace.yaml, the event-log settings) is provided by the compose stack and
  by the Helm values; secrets only by reference; every image pinned.
- The Helm chart itself is not rendered: no `helm` binary or chart repository is reachable from
  this machine, so the values are loaded and checked structurally (README "Deploy").
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, DagsterInstance, asset, materialize

from energy_assets.settings import ENVIRONMENT_VARIABLES

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
DAGSTER_SERVICES = ("user_code", "webserver", "daemon")
# Read by Dagster itself in every process that creates or executes runs (README).
EVENT_LOG_VARIABLES = {
    "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS",
    "DAGSTER_EVENT_BATCH_SIZE",
}
# The MLflow client's retry budget when the server is down (a clear failure after it).
MLFLOW_CLIENT_VARIABLES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"}
# Read by libraries, not provided on purpose: the emulator is for tests only, and on GKE
# credentials come from Workload Identity instead of a key file.
NOT_PROVIDED_IN_HELM = {"GOOGLE_APPLICATION_CREDENTIALS"}
# Values that carry a password: only ever `${…}` (compose) or a secretKeyRef (Kubernetes).
SECRET_VARIABLES = {"DAGSTER_PG_PASSWORD", "ENERGY_OPTUNA_STORAGE", "MLFLOW_BACKEND_STORE_URI"}


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
        set(ENVIRONMENT_VARIABLES.values())
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
        assert type(instance.compute_log_manager).__name__ == "GCSComputeLogManager"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        assert instance.run_monitoring_enabled
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


def test_compose_takes_secrets_only_by_reference():
    text = (DEPLOY / "docker-compose.yaml").read_text()
    compose = yaml.safe_load(text)
    for service in compose["services"].values():
        for name, value in (service.get("environment") or {}).items():
            if name in SECRET_VARIABLES or "PASSWORD" in name:
                assert "${DAGSTER_PG_PASSWORD" in str(value), f"{name} holds a literal secret"
    # No literal password anywhere in the file: every line naming one is a reference.
    for line in text.splitlines():
        if "PASSWORD" in line and ":" in line and not line.lstrip().startswith("#"):
            assert "${" in line, line


# --------------------------------------------------------------------------- Helm


def _values() -> dict:
    return yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())


def _env_names(env: list[dict]) -> set[str]:
    return {item["name"] for item in env}


def test_helm_values_provide_every_variable_the_code_reads():
    values = _values()
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    env = deployment["env"]
    provided = _env_names(env)
    # The chart provides these itself, from the values checked below.
    by_chart = {
        "DAGSTER_PG_HOST": values["postgresql"]["postgresqlHost"],
        "DAGSTER_PG_PORT": values["postgresql"]["service"]["port"],
        "DAGSTER_PG_USER": values["postgresql"]["postgresqlUsername"],
        "DAGSTER_PG_DB": values["postgresql"]["postgresqlDatabase"],
        "DAGSTER_PG_PASSWORD": values["global"]["postgresqlSecretName"],
        "DAGSTER_COMPUTE_LOGS_BUCKET": values["computeLogManager"]["config"][
            "gcsComputeLogManager"
        ]["bucket"],
        # The chart writes the workspace from the user deployment's name and port.
        "DAGSTER_CODE_SERVER_HOST": deployment["name"],
        "DAGSTER_CODE_SERVER_PORT": deployment["port"],
    }
    assert all(by_chart.values()), by_chart
    missing = required_variables() - provided - set(by_chart) - NOT_PROVIDED_IN_HELM
    assert not missing, f"Helm user deployment lacks {sorted(missing)}"
    # Run and step pods inherit the user deployment's env.
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
    # Processes that create runs write planned events: they need the event-log settings too.
    for component in ("dagsterWebserver", "dagsterDaemon"):
        assert EVENT_LOG_VARIABLES <= _env_names(values[component]["env"]), component
    settings = {item["name"]: item.get("value") for item in env}
    assert settings["ENERGY_RETRAIN_EXECUTOR"] == "k8s"
    assert settings["ENERGY_STORAGE_URL"].startswith("gs://")


def test_helm_values_take_secrets_only_by_reference():
    values = _values()
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    for item in deployment["env"]:
        if item["name"] in SECRET_VARIABLES:
            assert "value" not in item and "secretKeyRef" in item["valueFrom"], item
    assert values["postgresql"]["enabled"] is False
    assert "postgresqlPassword" not in values["postgresql"]
    assert values.get("generatePostgresqlPasswordSecret") is False
    manifests = list(yaml.safe_load_all((DEPLOY / "helm" / "mlflow.yaml").read_text()))
    (container,) = manifests[0]["spec"]["template"]["spec"]["containers"]
    (store,) = [e for e in container["env"] if e["name"] == "MLFLOW_BACKEND_STORE_URI"]
    assert "secretKeyRef" in store["valueFrom"]
    assert any(a.startswith("--artifacts-destination=gs://") for a in container["args"])


def test_helm_values_match_the_instance_settings_of_dagster_yaml():
    """The chart renders its own dagster.yaml: the same choices as deploy/dagster.yaml."""
    values = _values()
    instance = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["computeLogManager"]["type"] == "GCSComputeLogManager"
    queued = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert (
        queued["tagConcurrencyLimits"] == instance["concurrency"]["runs"]["tag_concurrency_limits"]
    )
    retries = values["dagsterDaemon"]["runRetries"]
    assert retries["enabled"] and retries["maxRetries"] == instance["run_retries"]["max_retries"]
    assert values["dagsterDaemon"]["runMonitoring"]["enabled"] is True
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "energy_assets.definitions"]


# --------------------------------------------------------------------------- images

_IMAGE = re.compile(r"^\s*(?:FROM|image:)\s+(\S+)", re.MULTILINE)


def _images() -> list[str]:
    found = _IMAGE.findall((DEPLOY / "Dockerfile").read_text())
    found += _IMAGE.findall((DEPLOY / "docker-compose.yaml").read_text())
    found += _IMAGE.findall((DEPLOY / "helm" / "mlflow.yaml").read_text())

    def walk(node):
        if isinstance(node, dict):
            if "repository" in node and "tag" in node:
                found.append(f"{node['repository']}:{node['tag']}")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(_values())
    return found


def test_every_image_is_pinned_to_a_version():
    images = _images()
    assert len(images) >= 6, images
    for image in images:
        name, _, tag = image.rpartition(":")
        assert name and tag and "/" not in tag, f"{image} has no tag"
        assert tag != "latest", image
        assert re.search(r"\d", tag), f"{image}: tag {tag!r} is not a version"
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"pip install --no-cache-dir uv==\d", dockerfile)
    assert "uv sync --frozen" in dockerfile  # Python packages from uv.lock


def test_the_dockerfile_copies_files_that_exist():
    root = DEPLOY.parent
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            *sources, _target = line.split()[1:]
            for source in sources:
                if not source.startswith("$"):
                    assert (root / source).exists(), f"Dockerfile copies missing {source}"
