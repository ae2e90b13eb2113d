"""Which service is down, where, and what to do: real connection errors, no mocks."""

from __future__ import annotations

import socket

import pytest

from energy_assets.training.reachability import redacted, unreachable_service_message


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the block ends: nothing listens


def test_redacted_hides_only_the_password():
    assert (
        redacted("postgresql+psycopg2://dagster:s3cr%40t@10.0.0.5:5432/optuna")
        == "postgresql+psycopg2://dagster:***@10.0.0.5:5432/optuna"
    )
    assert redacted("http://mlflow:5000") == "http://mlflow:5000"


def test_an_unreachable_optuna_database_is_named_without_its_password():
    from energy_assets.training.tuning import open_study

    url = f"postgresql+psycopg2://dagster:hunter2@127.0.0.1:{_closed_port()}/optuna"
    with pytest.raises(Exception) as caught:
        open_study(url, "unreachable")
    message = unreachable_service_message(
        caught.value, mlflow_uri="http://127.0.0.1:1", optuna_url=url
    )
    assert message is not None
    assert "Optuna study storage postgresql+psycopg2://dagster:***@127.0.0.1" in message
    assert "(ENERGY_OPTUNA_STORAGE) is unreachable" in message
    assert "hunter2" not in message


def test_an_unreachable_mlflow_server_is_named(monkeypatch):
    from energy_assets.training.tracking import MlflowSettings

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    uri = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(Exception) as caught:
        MlflowSettings(tracking_uri=uri).experiment_id()
    message = unreachable_service_message(caught.value, mlflow_uri=uri, optuna_url="sqlite://")
    assert message is not None
    assert f"The MLflow tracking server {uri} (MLFLOW_TRACKING_URI) is unreachable" in message
    assert "re-run retrain_job" in message


def test_other_errors_pass_through():
    assert (
        unreachable_service_message(
            ValueError("a bad parameter"), mlflow_uri="http://m", optuna_url="sqlite://"
        )
        is None
    )


def test_mlflow_on_a_postgres_that_is_down_is_not_blamed_on_optuna(monkeypatch):
    """MLflow and Optuna both reach Postgres through SQLAlchemy + psycopg2: the error's type
    cannot tell them apart, the code that raised it can (issue 18: Optuna was blamed)."""
    import mlflow.store.db.utils

    from energy_assets.training.tracking import MlflowSettings

    # MLflow retries a refused engine for ~100 s (10 attempts, doubling); one attempt shows it.
    monkeypatch.setattr(mlflow.store.db.utils, "MAX_RETRY_COUNT", 0)
    uri = f"postgresql://mlflow:pg-secret-9@127.0.0.1:{_closed_port()}/mlflow"
    with pytest.raises(Exception) as caught:
        MlflowSettings(tracking_uri=uri).experiment_id()
    optuna_url = "postgresql+psycopg2://optuna:other-secret@127.0.0.1:5432/optuna"
    message = unreachable_service_message(caught.value, mlflow_uri=uri, optuna_url=optuna_url)
    assert message is not None
    assert message.startswith("The MLflow tracking store postgresql://mlflow:***@127.0.0.1:"), (
        message
    )
    assert "(MLFLOW_TRACKING_URI) is unreachable" in message
    assert "Optuna" not in message and "pg-secret-9" not in message


def test_an_unreachable_mlflow_server_with_credentials_is_named_without_them(monkeypatch):
    """MLflow's own message quotes the tracking URI, password included."""
    from energy_assets.training.model_store import load_champion
    from energy_assets.training.tracking import MlflowSettings

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    uri = f"http://forecaster:http-secret-7@127.0.0.1:{_closed_port()}"
    with pytest.raises(Exception) as caught:
        load_champion(MlflowSettings(tracking_uri=uri))
    assert "No 'champion' version" not in str(caught.value)  # not reported as missing data
    message = unreachable_service_message(
        caught.value, mlflow_uri=uri, then="retry this run; no forecast was written."
    )
    assert message is not None
    assert message.startswith("The MLflow tracking server http://forecaster:***@127.0.0.1:")
    assert "http-secret-7" not in message and message.endswith("no forecast was written.")
