"""`MlflowTracking`: where MLflow runs and registered models live, as a Dagster resource.

Thin by design: it only turns configuration (MLFLOW_TRACKING_URI by default) into
`energy_assets.training.registry.MlflowSettings`, which the domain code (tuning, registry) takes,
and makes links to runs for asset metadata.

dagster-mlflow's `mlflow_tracking` is a legacy function-style `@resource` that starts an MLflow
run when the resource is built and needs the op-job hook `end_mlflow_on_run_finished` to close it,
which fits neither `ConfigurableResource` nor assets (a tuning session needs its own parent run with
nested trial runs). We keep its conventions instead: runs carry the `dagster_run_id` tag it searches
by, and parameters are logged in chunks of 100 with its `MlFlow.log_params`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import dagster as dg
from pydantic import Field

from energy_assets import config
from energy_assets.training.registry import DEFAULT_EXPERIMENT, MlflowSettings


class MlflowTracking(dg.ConfigurableResource):
    """MLflow tracking + registry location and experiment.

    tracking_uri: None = MLFLOW_TRACKING_URI, else a sqlite file under DAGSTER_HOME.
    registry_uri: None = the tracking store.
    artifact_location: for a newly created experiment; None = beside a sqlite db, or the
      server's default artifact root.
    """

    tracking_uri: str | None = Field(
        default=None, description="MLflow tracking URI; default MLFLOW_TRACKING_URI or sqlite."
    )
    experiment_name: str = Field(default=DEFAULT_EXPERIMENT)
    registry_uri: str | None = Field(default=None, description="Default: the tracking URI.")
    artifact_location: str | None = Field(default=None)

    def settings(self) -> MlflowSettings:
        return MlflowSettings(
            tracking_uri=self.resolved_tracking_uri(),
            experiment_name=self.experiment_name,
            registry_uri=self.registry_uri,
            artifact_location=self.artifact_location,
        )

    def resolved_tracking_uri(self) -> str:
        return self.tracking_uri or config.mlflow_tracking_uri()

    def setup(self) -> str:
        """Point MLflow at the store, create the experiment if missing; returns its id."""
        return self.settings().activate()

    def run_url(self, run_id: str) -> str:
        """A link to the run for http(s) servers, else a sentence saying how to open it."""
        uri = self.resolved_tracking_uri()
        experiment_id = self.settings().client().get_run(run_id).info.experiment_id
        if uri.startswith(("http://", "https://")):
            return self.link(uri, experiment_id, run_id)
        return (
            f"MLflow run {run_id} (experiment '{self.experiment_name}', id {experiment_id}) in "
            f"{uri}; browse with: mlflow ui --backend-store-uri '{uri}'"
        )

    @staticmethod
    def link(server_uri: str, experiment_id: str, run_id: str) -> str:
        """The MLflow UI's address of a run on a tracking server."""
        return f"{server_uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"

    @staticmethod
    def dagster_tags(context: Any) -> dict[str, str]:
        """Run tags linking an MLflow run to the Dagster run (dagster-mlflow's tag names)."""
        tags = {"dagster_run_id": context.run_id}
        try:
            tags["dagster_asset"] = context.asset_key.to_user_string()
        except Exception:  # ops and multi-assets have no single asset key
            pass
        if getattr(context, "has_partition_key", False):
            tags["dagster_partition"] = context.partition_key
        return tags

    @staticmethod
    def log_params(params: Mapping[str, Any]) -> None:
        """Log params to the active run in chunks of 100 (MLflow's per-request limit)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # dagster-mlflow warns that it is beta on import
            from dagster_mlflow.resources import MlFlow

        MlFlow.log_params(dict(params))
