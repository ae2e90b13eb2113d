"""Clear answers when a training service is down: which one, where, and what to do.

A retrain talks to two services besides storage: the MLflow tracking server
(MLFLOW_TRACKING_URI) and the Optuna study database (ENERGY_OPTUNA_STORAGE). When either
refuses connections, the libraries raise deep, generic errors (urllib3 retries, psycopg2
OperationalError wrapped by SQLAlchemy). `unreachable_service_message` recognises those and
says which service, at which address (never its password), and what to do.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

_CONNECTION_MARKERS = (
    "connection refused",
    "max retries exceeded",
    "failed to establish a new connection",
    "could not connect to server",
    "connection to server at",
    "name or service not known",
    "temporary failure in name resolution",
    "server closed the connection unexpectedly",
    "timed out",
)


def redacted(url: str) -> str:
    """`url` without a password (postgresql://user:secret@host/db -> postgresql://user:***@host/db)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _is_connection_failure(error: BaseException) -> bool:
    for item in _chain(error):
        if isinstance(item, ConnectionError | TimeoutError):
            return True
        text = str(item).lower()
        if any(marker in text for marker in _CONNECTION_MARKERS):
            return True
    return False


def _first_line(error: BaseException, limit: int = 200) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:limit]


def unreachable_service_message(
    error: BaseException, *, mlflow_uri: str, optuna_url: str
) -> str | None:
    """A one-paragraph explanation when `error` means MLflow or the Optuna database is
    unreachable; None for any other error (which should surface as it is)."""
    if not _is_connection_failure(error):
        return None
    names = {type(item).__module__.split(".")[0] for item in _chain(error)}
    if "mlflow" in names or "requests" in names or "urllib3" in names:
        return (
            f"The MLflow tracking server {redacted(mlflow_uri)} (MLFLOW_TRACKING_URI) is "
            f"unreachable: {_first_line(error)}. Start the MLflow server (or fix "
            "MLFLOW_TRACKING_URI) and re-run retrain_job. This run registered no model version "
            "and wrote no forecasting_model object."
        )
    if "sqlalchemy" in names or "psycopg2" in names or "optuna" in names:
        return (
            f"The Optuna study storage {redacted(optuna_url)} (ENERGY_OPTUNA_STORAGE) is "
            f"unreachable: {_first_line(error)}. Start that database (or fix "
            "ENERGY_OPTUNA_STORAGE) and re-run retrain_job. This run registered no model "
            "version and wrote no forecasting_model object."
        )
    return None
