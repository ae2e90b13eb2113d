"""Deploy config against real services: the production dagster.yaml on a real Postgres, one Optuna
study shared by two worker processes over Postgres, and the Helm values / compose files parsed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, DagsterInstance, asset, materialize

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


@pytest.mark.postgres
def test_production_instance_stores_runs_and_events_in_postgres(
    postgres_server, monkeypatch, tmp_path
):
    postgres_server.create_database("dagster_test")
    monkeypatch.setenv("DAGSTER_PG_HOST", postgres_server.host)
    monkeypatch.setenv("DAGSTER_PG_PORT", str(postgres_server.port))
    monkeypatch.setenv("DAGSTER_PG_USER", postgres_server.user)
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "")
    monkeypatch.setenv("DAGSTER_PG_DB", "dagster_test")
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((DEPLOY / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    @asset
    def deploy_smoke():
        return 1

    with DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        result = materialize([deploy_smoke], instance=instance)
        assert result.success
        assert instance.get_latest_materialization_event(AssetKey("deploy_smoke")) is not None
        assert instance.get_run_by_id(result.run_id) is not None


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


def test_helm_values_use_the_k8s_run_launcher_and_external_postgres():
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    deployment = values["dagster-user-deployments"]["deployments"][0]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "energy_assets.definitions"]
    assert values["postgresql"]["enabled"] is False
    assert values["dagsterDaemon"]["runRetries"]["enabled"] is True


def test_compose_stack_takes_secrets_from_the_environment():
    text = (DEPLOY / "docker-compose.yaml").read_text()
    compose = yaml.safe_load(text)
    assert {"postgres", "mlflow", "user_code", "webserver", "daemon"} <= set(compose["services"])
    # No literal password anywhere: only ${…} references.
    for line in text.splitlines():
        if "PASSWORD" in line and ":" in line:
            assert "${" in line, line
