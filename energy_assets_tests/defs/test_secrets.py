"""No password leaves the process (issue 18): with a password in every URI-valued setting, the
whole graph runs (backfill, a failure with no champion yet, training, forecasts, monitoring) and
none of them appears in asset metadata, the event log, run configs, Dagster's storage (Postgres
tables and files under DAGSTER_HOME), the storage folder, or the captured output and logs.

Real components: the replay API, a real Postgres (trust auth: it accepts any password, so the
passwords are real parts of real URIs without a password file) for MLflow, Optuna and Dagster's
own storage, and for the http variant a real `mlflow server` whose URI carries user:password.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from dagster import DagsterInstance
from dagster._serdes import serialize_value

from energy_assets.defs import build_definitions
from energy_assets.devtools import SAMPLE_DATA_PATH
from energy_assets.settings import Settings
from energy_assets_tests.fixtures.topology import (
    Service,
    free_port,
    mlflow_server_command,
    wait_for_http,
)

MLFLOW_PASSWORD = "mlflow-pw-7Qx"
OPTUNA_PASSWORD = "optuna-pw-3Kd"
DAGSTER_PASSWORD = "dagster-pw-9Zr"
MLFLOW_STORE_PASSWORD = "store-pw-5Lm"  # the http server's own backend, as deploy/ has it
SECRETS = (MLFLOW_PASSWORD, OPTUNA_PASSWORD, DAGSTER_PASSWORD, MLFLOW_STORE_PASSWORD)

# The hours the rest of the graph reads (the 14-day training window to 2023-01-15T23, its
# backtest, the scored day 2023-01-16), not the whole slice: this test is about where the
# passwords go, and 407 hours run every asset and check that 655 did.
RANGE_TAGS = {
    "dagster/asset_partition_range_start": "2023-01-01-00:00",
    "dagster/asset_partition_range_end": "2023-01-17-22:00",
}
ORIGINS_TAGS = {
    "dagster/asset_partition_range_start": "2023-01-16-00:00",
    "dagster/asset_partition_range_end": "2023-01-16-02:00",
}
MODEL_CONFIG = {
    "training_end": "2023-01-15T23:00:00+00:00",
    "training_window_days": 14,
    "n_trials": 1,
    "n_folds": 1,
    "backtest_days": 2,
    "fixed_params": {"num_boost_round": 40, "max_train_rows": 20_000},
}
INSTANCE_YAML = """
storage:
  postgres:
    postgres_db:
      hostname: {env: DAGSTER_PG_HOST}
      port: {env: DAGSTER_PG_PORT}
      username: {env: DAGSTER_PG_USER}
      password: {env: DAGSTER_PG_PASSWORD}
      db_name: {env: DAGSTER_PG_DB}
"""


def _pg_url(server, database: str, password: str, driver: str = "postgresql") -> str:
    return f"{driver}://{server.user}:{password}@{server.host}:{server.port}/{database}"


@pytest.fixture(params=["postgresql", "http"])
def tracking_uri(request, postgres_server, tmp_path):
    """MLFLOW_TRACKING_URI with a password: a Postgres store, or a real MLflow server."""
    suffix = f"{request.param}_{free_port()}"
    postgres_server.create_database(f"mlflow_{suffix}")
    store = _pg_url(postgres_server, f"mlflow_{suffix}", MLFLOW_STORE_PASSWORD)
    if request.param == "postgresql":
        yield _pg_url(postgres_server, f"mlflow_{suffix}", MLFLOW_PASSWORD)
        return
    port = free_port()
    mlflow = Service(
        "mlflow",
        mlflow_server_command(port, str(tmp_path / "mlflow-artifacts")),
        tmp_path / "mlflow-server.log",
        # As in deploy/: the server's store URI (with its own password) by environment.
        {**_clean_env(), "MLFLOW_BACKEND_STORE_URI": store},
    ).start()
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", mlflow, timeout=180)
        yield f"http://forecaster:{MLFLOW_PASSWORD}@127.0.0.1:{port}"
    finally:
        mlflow.stop()


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DAGSTER_"))}


def _postgres_rows(server, database: str) -> str:
    """Every row of every table of `database`, as text."""
    import psycopg2

    connection = psycopg2.connect(
        host=server.host, port=server.port, user=server.user, dbname=database
    )
    chunks = []
    with connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        for (table,) in cursor.fetchall():
            cursor.execute(f'SELECT t::text FROM "{table}" t')
            chunks.extend(row[0] for row in cursor.fetchall())
    connection.close()
    return "\n".join(chunks)


def _files_text(folder: Path) -> str:
    return "\n".join(
        path.read_bytes().decode("utf-8", "replace") for path in folder.rglob("*") if path.is_file()
    )


def _leaks(text: str) -> list[str]:
    """Each secret found, with the text around it (so a failure shows where it leaked)."""
    found = []
    for secret in SECRETS:
        at = text.find(secret)
        if at >= 0:
            found.append(f"{secret}: …{text[max(0, at - 300) : at + 100]}…")
    return found


@pytest.mark.slow
@pytest.mark.postgres
def test_no_password_reaches_metadata_logs_or_storage(
    tracking_uri, postgres_server, replay_server, tmp_path, monkeypatch, capfd, caplog
):
    caplog.set_level(logging.DEBUG)
    dagster_db = f"dagster_{free_port()}"
    optuna_db = f"optuna_{free_port()}"
    postgres_server.create_database(dagster_db)
    postgres_server.create_database(optuna_db)
    home = tmp_path / "dagster_home"
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    environment = {
        "DAGSTER_HOME": str(home),
        **postgres_server.dagster_env(dagster_db),
        "DAGSTER_PG_PASSWORD": DAGSTER_PASSWORD,
        "ENERGIDATA_API_URL": replay_server(SAMPLE_DATA_PATH).url,
        "ENERGY_STORAGE_URL": str(tmp_path / "storage"),
        "MLFLOW_TRACKING_URI": tracking_uri,
        "ENERGY_OPTUNA_STORAGE": _pg_url(
            postgres_server, optuna_db, OPTUNA_PASSWORD, "postgresql+psycopg2"
        ),
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    # A Postgres tracking store has no artifact root of its own: MLflow uses ./mlruns.
    monkeypatch.chdir(tmp_path)
    defs = build_definitions(Settings.from_env())

    with DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"

        def run(job: str, expect_success: bool = True, **kwargs):
            result = defs.resolve_job_def(job).execute_in_process(
                instance=instance, raise_on_error=False, **kwargs
            )
            failures = [e.message for e in result.all_events if e.is_failure]
            assert result.success == expect_success, f"{job}: {failures}"
            return result

        run("ingestion_backfill_job", tags=RANGE_TAGS)
        # A failure with no champion yet names the store, without its password.
        no_champion = run(
            "forecasts_backfill_job", expect_success=False, partition_key="2023-01-16-00:00"
        )
        failure = next(e for e in no_champion.all_events if e.event_type_value == "STEP_FAILURE")
        shown = str(failure.event_specific_data.error)
        assert "No 'champion' version" in shown and ":***@127.0.0.1:" in shown, shown
        run("retrain_job", run_config={"ops": {"forecasting_model": {"config": MODEL_CONFIG}}})
        run("forecasts_backfill_job", tags=ORIGINS_TAGS)
        run("daily_monitoring_job", partition_key="2023-01-16")

        runs = instance.get_runs()
        assert len(runs) == 5
        seen = []
        for dagster_run in runs:
            seen.append(serialize_value(dagster_run))
            seen.extend(serialize_value(entry) for entry in instance.all_logs(dagster_run.run_id))
        event_log = "\n".join(seen)
        # The log holds what we look for: the model's metadata with its MLflow run.
        assert "mlflow_run" in event_log and "backtest_mape" in event_log
        assert _leaks(event_log) == [], "in the event log / metadata / run configs"

    captured = capfd.readouterr()
    output = captured.out + captured.err + caplog.text
    assert "retrain_job" in output  # Dagster's console log was captured here
    assert _leaks(output) == [], "in the process output or logs"
    assert _leaks(_postgres_rows(postgres_server, dagster_db)) == [], "in Dagster's database"
    assert _leaks(_files_text(home)) == [], "under DAGSTER_HOME"
    assert _leaks(_files_text(tmp_path / "storage")) == [], "in the asset storage"
