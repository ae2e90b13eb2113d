"""Resources built from Settings: values from the environment are referenced (dg.EnvVar), so they
resolve where the run executes and never enter the code location's snapshot."""

from __future__ import annotations

import dagster as dg

from energy_assets.defs import build_definitions, build_resources
from energy_assets.settings import Settings
from energy_assets.sources import DEFAULT_DATASET as DATASET


def test_resource_builds_a_client_from_the_environment(replay_server, shared_slice, monkeypatch):
    server = replay_server(shared_slice)
    monkeypatch.setenv("ENERGIDATA_API_URL", server.url)
    resources = build_resources(Settings.from_env())
    with dg.build_resources({"energidata": resources["energidata"]}) as built:
        resource = built.energidata
        assert resource.api_url == server.url and resource.dataset == DATASET
        api = resource.api()
    assert api.page_size == 100_000
    assert len(api.fetch_hours("2023-01-01", "2023-01-01T02:00")) == 2 * 76


def test_defaults_are_values_and_environment_values_are_references(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://mlflow:s3cret@db.internal/mlflow")
    settings = Settings.from_env()
    resources = build_resources(settings)
    # From the environment: a reference to the variable, not its value.
    assert resources["mlflow"].tracking_uri == dg.EnvVar("MLFLOW_TRACKING_URI")
    # A default: the value itself (a folder under DAGSTER_HOME).
    assert resources["storage"].storage_url == str(tmp_path / "dagster_home" / "storage")
    assert resources["io_manager"].storage is resources["storage"]

    from dagster._core.remote_representation.external_data import RepositorySnap
    from dagster_shared.serdes import serialize_value

    repository = build_definitions(settings).get_repository_def()
    snapshot = serialize_value(RepositorySnap.from_def(repository))
    assert "MLFLOW_TRACKING_URI" in snapshot
    assert "s3cret" not in snapshot
