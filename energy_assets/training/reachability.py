"""Clear answers when a training service is down: which one, where, and what to do.

A retrain talks to two services besides storage: the MLflow tracking server
(MLFLOW_TRACKING_URI) and the Optuna study database (ENERGY_OPTUNA_STORAGE). When either
refuses connections, the libraries raise deep, generic errors (urllib3 retries, psycopg2
OperationalError wrapped by SQLAlchemy). `unreachable_service_message` recognises those and
says which service, at which address (never its password), and what to do.
"""

from __future__ import annotations

from types import TracebackType

from energy_assets.redaction import redact

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
# What to do next, by the caller: a retrain re-runs retrain_job, a forecast retries its run.
RETRAIN_NEXT = (
    "re-run retrain_job. This run registered no model version and wrote no forecasting_model "
    "object."
)


def redacted(url: str) -> str:
    """`url` without a password (postgresql://user:secret@host/db -> postgresql://user:***@host/db)."""
    return redact(url)


def exception_chain(error: BaseException) -> list[BaseException]:
    """`error`, then its cause (or context), and so on, each once."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _is_connection_failure(error: BaseException) -> bool:
    for item in exception_chain(error):
        if isinstance(item, ConnectionError | TimeoutError):
            return True
        text = str(item).lower()
        if any(marker in text for marker in _CONNECTION_MARKERS):
            return True
    return False


def _first_line(error: BaseException, limit: int = 200) -> str:
    """The error's first line, password-free (MLflow's own messages quote the tracking URI)."""
    text = str(error).strip().splitlines()
    return redact(text[0] if text else type(error).__name__)[:limit]


def _frames(traceback: TracebackType | None) -> list[str]:
    names = []
    while traceback is not None:
        names.append(str(traceback.tb_frame.f_globals.get("__name__", "")))
        traceback = traceback.tb_next
    return names


def failing_service(error: BaseException) -> str | None:
    """ "mlflow" or "optuna": whose code was talking to the database or server when `error` was
    raised; None when neither was.

    Decided by the code, not the exception's type: MLflow and Optuna both reach Postgres through
    SQLAlchemy and psycopg2, so a refused connection looks the same from either. The innermost
    frame of either library in the traceback is the one that made the call (an Optuna trial that
    logs to MLflow fails in MLflow's code).
    """
    for item in exception_chain(error):
        for module in reversed(_frames(item.__traceback__)):
            library = module.split(".")[0]
            if library in ("mlflow", "optuna"):
                return library
    # No library frame (an error re-raised without its traceback): fall back on the types.
    names = {type(item).__module__.split(".")[0] for item in exception_chain(error)}
    if "mlflow" in names:
        return "mlflow"
    if "optuna" in names:
        return "optuna"
    return None


def _mlflow_kind(mlflow_uri: str) -> str:
    """ "MLflow server" for an http(s) tracking URI, "MLflow store's database" otherwise."""
    if mlflow_uri.startswith(("http://", "https://")):
        return "MLflow server"
    return "MLflow store's database"


def mlflow_store_name(mlflow_uri: str) -> str:
    """How a person calls the tracking URI's service: a server (http) or a store (a database)."""
    kind = "server" if mlflow_uri.startswith(("http://", "https://")) else "store"
    return f"The MLflow tracking {kind} {redact(mlflow_uri)} (MLFLOW_TRACKING_URI)"


def unreachable_service_message(
    error: BaseException,
    *,
    mlflow_uri: str,
    optuna_url: str | None = None,
    then: str = RETRAIN_NEXT,
) -> str | None:
    """A one-paragraph explanation when `error` means MLflow or the Optuna database is
    unreachable; None for any other error (which should surface as it is).

    `optuna_url` None: the caller talks to MLflow only (forecasts), so a connection failure is
    MLflow's. `then`: what to do after starting the service, and what the run left behind.
    """
    if not _is_connection_failure(error):
        return None
    service = failing_service(error)
    if optuna_url is None or service == "mlflow":
        names = {type(item).__module__.split(".")[0] for item in exception_chain(error)}
        if service is None and optuna_url is not None and not names & {"requests", "urllib3"}:
            return None
        return (
            f"{mlflow_store_name(mlflow_uri)} is unreachable: {_first_line(error)}. Start the "
            f"{_mlflow_kind(mlflow_uri)} (or fix MLFLOW_TRACKING_URI) and {then}"
        )
    if service == "optuna":
        return (
            f"The Optuna study storage {redact(optuna_url)} (ENERGY_OPTUNA_STORAGE) is "
            f"unreachable: {_first_line(error)}. Start that database (or fix "
            f"ENERGY_OPTUNA_STORAGE) and {then}"
        )
    return None
