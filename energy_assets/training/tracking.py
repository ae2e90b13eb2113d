"""Where MLflow runs and registered models live, and runs logged through an explicit client.

Nothing here touches MLflow's process-wide state (`mlflow.set_tracking_uri`, the fluent active
run): every call goes through an `MlflowClient` built from `MlflowSettings`, so two stores can be
used side by side in one process (tests, a tuning worker next to the code server) and nothing
depends on which function ran first.

Runs carry dagster-mlflow's tag convention (`dagster_run_id`), so the run of an asset
materialisation is found the way dagster-mlflow users search for it.
"""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from energy_assets.redaction import redact, without_credentials

if TYPE_CHECKING:
    from mlflow import MlflowClient

DEFAULT_EXPERIMENT = "energy_assets"
# MLflow accepts at most this many params / metrics / tags per log_batch request.
BATCH_LIMIT = 100


def quiet_mlflow() -> None:
    """Mute MLflow chatter that says nothing to a platform user (alembic migrations on every
    sqlite open, 'no signature/input example' hints, pip-inference notes)."""
    for name in (
        "alembic",
        "mlflow.store.db.utils",
        "mlflow.utils.uv_utils",
        "mlflow.models.model",
    ):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("alembic.runtime.migration", "mlflow.utils.environment"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # MLflow writes "🏃 View run … at: <tracking URI>" to stdout when a run on a server ends,
    # password included; our metadata links the run without credentials (run_url). An explicit
    # setting of the variable is respected.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    warnings.filterwarnings("ignore", module=r"mlflow(\..*)?")


def _default_artifact_location(tracking_uri: str) -> str | None:
    """For a local sqlite store keep artifacts beside the db file (MLflow would otherwise use
    ./mlruns relative to whatever the working directory happens to be)."""
    if tracking_uri.startswith("sqlite:///"):
        db_path = Path(tracking_uri.removeprefix("sqlite:///"))
        return (db_path.parent / "mlartifacts").resolve().as_uri()
    return None


@dataclass(frozen=True)
class MlflowSettings:
    """An MLflow tracking store (+ model registry) and the experiment runs go to.

    registry_uri: None = the tracking store. artifact_location: for a newly created experiment;
    None = beside a sqlite db, or the server's default artifact root.
    """

    tracking_uri: str
    experiment_name: str = DEFAULT_EXPERIMENT
    registry_uri: str | None = None
    artifact_location: str | None = None

    @property
    def resolved_registry_uri(self) -> str:
        return self.registry_uri or self.tracking_uri

    def client(self) -> MlflowClient:
        quiet_mlflow()
        from mlflow import MlflowClient

        if self.tracking_uri.startswith("sqlite:///"):
            Path(self.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(
                parents=True, exist_ok=True
            )
        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.resolved_registry_uri)

    def experiment_id(self, client: MlflowClient | None = None) -> str:
        """The experiment's id, created on first use (safe when two workers race to create it)."""
        from mlflow.exceptions import MlflowException

        client = client or self.client()
        experiment = client.get_experiment_by_name(self.experiment_name)
        if experiment is not None:
            return experiment.experiment_id
        location = self.artifact_location or _default_artifact_location(self.tracking_uri)
        try:
            return client.create_experiment(self.experiment_name, artifact_location=location)
        except MlflowException:
            experiment = client.get_experiment_by_name(self.experiment_name)
            if experiment is None:
                raise
            return experiment.experiment_id

    def run(self, run_id: str) -> TrackedRun:
        """An existing run, to log more to it (e.g. the final model's importances on the tuning
        session's run)."""
        return TrackedRun(self, self.client(), run_id)

    def run_url(self, run_id: str) -> str:
        """A link to the run for http(s) servers, else a sentence saying how to open it."""
        experiment_id = self.client().get_run(run_id).info.experiment_id
        # Shown in the UI: never a password (a browser asks for credentials itself).
        if self.tracking_uri.startswith(("http://", "https://")):
            return server_link(without_credentials(self.tracking_uri), experiment_id, run_id)
        shown = redact(self.tracking_uri)
        return (
            f"MLflow run {run_id} (experiment '{self.experiment_name}', id {experiment_id}) in "
            f"{shown}; browse with: mlflow ui --backend-store-uri '{shown}'"
        )


def server_link(server_uri: str, experiment_id: str, run_id: str) -> str:
    """The MLflow UI's address of a run on a tracking server."""
    return f"{server_uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def loggable(params: Mapping[str, Any]) -> dict[str, Any]:
    """Param values MLflow can store: numbers, strings and booleans as they are, others as text."""
    return {k: v if isinstance(v, int | float | str | bool) else str(v) for k, v in params.items()}


def finite_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The finite numeric entries of `metrics` (MLflow rejects NaN / inf and non-numbers)."""
    out = {}
    for key, value in metrics.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            if math.isfinite(float(value)):
                out[key] = float(value)
    return out


class TrackedRun:
    """One MLflow run, logged through an explicit client (see the module docstring)."""

    def __init__(self, settings: MlflowSettings, client: MlflowClient, run_id: str) -> None:
        self.settings = settings
        self.client = client
        self.run_id = run_id

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)) for k, v in loggable(params).items()]
        for i in range(0, len(items), BATCH_LIMIT):
            self.client.log_batch(self.run_id, params=items[i : i + BATCH_LIMIT])

    def log_metrics(self, metrics: Mapping[str, Any], step: int = 0) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, v, now, step) for k, v in finite_metrics(metrics).items()]
        for i in range(0, len(items), BATCH_LIMIT):
            self.client.log_batch(self.run_id, metrics=items[i : i + BATCH_LIMIT])

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(k, str(v)) for k, v in tags.items()]
        for i in range(0, len(items), BATCH_LIMIT):
            self.client.log_batch(self.run_id, tags=items[i : i + BATCH_LIMIT])

    def log_text(self, text: str, artifact_file: str) -> None:
        self.client.log_text(self.run_id, text, artifact_file)

    def log_dict(self, dictionary: Mapping[str, Any], artifact_file: str) -> None:
        self.client.log_dict(self.run_id, dict(dictionary), artifact_file)

    def log_bytes(self, data: bytes, artifact_file: str) -> None:
        """Log `data` as the artifact file `artifact_file` (e.g. "charts/backtest.png")."""
        import tempfile

        folder, _, name = artifact_file.rpartition("/")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_bytes(data)
            self.client.log_artifact(self.run_id, str(path), folder or None)

    def log_artifact(self, local_path: str | Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(self.run_id, str(local_path), artifact_path)

    def log_artifacts(self, local_dir: str | Path, artifact_path: str | None = None) -> None:
        self.client.log_artifacts(self.run_id, str(local_dir), artifact_path)

    @property
    def artifact_uri(self) -> str:
        return self.client.get_run(self.run_id).info.artifact_uri


@contextmanager
def tracked_run(
    settings: MlflowSettings,
    run_name: str,
    *,
    parent_run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    finished_on: tuple[type[BaseException], ...] = (),
) -> Iterator[TrackedRun]:
    """A new run (nested under `parent_run_id` when given), ended when the block ends.

    Status FINISHED, or FAILED when the block raises, except for the exception types in
    `finished_on` (e.g. a pruned Optuna trial is a normal ending, not a failure).
    """
    client = settings.client()
    run_tags = {"mlflow.runName": run_name, **{k: str(v) for k, v in (tags or {}).items()}}
    if parent_run_id:
        run_tags["mlflow.parentRunId"] = parent_run_id
    run = client.create_run(settings.experiment_id(client), run_name=run_name, tags=run_tags)
    status = "FAILED"
    try:
        yield TrackedRun(settings, client, run.info.run_id)
        status = "FINISHED"
    except finished_on:
        status = "FINISHED"
        raise
    finally:
        client.set_terminated(run.info.run_id, status=status)
