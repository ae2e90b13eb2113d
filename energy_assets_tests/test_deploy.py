"""Deploy config against real services: the production dagster.yaml on a real Postgres, one Optuna
study shared by two worker processes over Postgres, and the Helm values / compose files parsed."""

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
        # Runs whose worker died are failed by the daemon, not left STARTED.
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_max_runtime_seconds > 0
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
    assert not any(published.values())  # Postgres and MLflow stay on the compose network


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
    postgres_server, monkeypatch, tmp_path
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
    job_file = tmp_path / "sleepy.py"
    job_file.write_text(SLEEPY_JOB)
    pid_file = tmp_path / "worker.pid"
    monkeypatch.setenv("PID_FILE", str(pid_file))
    bin_dir = Path(sys.executable).parent
    worker = subprocess.Popen(
        [str(bin_dir / "dagster"), "job", "execute", "-f", str(job_file), "-j", "sleepy"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    daemon = None
    try:
        deadline = time.monotonic() + 120
        while not (pid_file.exists() and pid_file.read_text()):
            assert worker.poll() is None and time.monotonic() < deadline, "the run never started"
            time.sleep(0.2)
        os.kill(worker.pid, signal.SIGKILL)
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
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
