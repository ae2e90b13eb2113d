"""MLflow tracking through explicit clients: experiments, batched logging, run links, and no
process-wide state (two stores side by side in one process). Real sqlite MLflow stores."""

from __future__ import annotations

import shutil

import pytest

from energy_assets.training.tracking import MlflowSettings, server_link, tracked_run


@pytest.fixture
def tracking(mlflow_store) -> MlflowSettings:
    return mlflow_store("test_tracking")


def test_settings_create_the_experiment_log_in_batches_and_link_runs(tracking):
    experiment_id = tracking.experiment_id()
    assert tracking.client().get_experiment(experiment_id).name == "test_tracking"
    assert tracking.experiment_id() == experiment_id  # found, not created twice
    with tracked_run(tracking, "params", tags={"dagster_run_id": "abc"}) as run:
        run.log_params({f"p{i}": i for i in range(150)})  # > one 100-param batch
    stored = tracking.client().get_run(run.run_id)
    assert stored.info.experiment_id == experiment_id
    assert stored.info.status == "FINISHED"
    assert len(stored.data.params) == 150
    assert stored.data.tags["dagster_run_id"] == "abc"
    local = tracking.run_url(run.run_id)
    assert run.run_id in local and "mlflow ui --backend-store-uri" in local
    # No server here: check the link shape for http(s) tracking URIs.
    assert (
        server_link("http://mlflow.internal:5000/", "7", "abc")
        == "http://mlflow.internal:5000/#/experiments/7/runs/abc"
    )


def test_a_failing_block_fails_its_run_and_nested_runs_name_their_parent(tracking):
    with tracked_run(tracking, "parent") as parent:
        with (
            pytest.raises(RuntimeError),
            tracked_run(tracking, "child", parent_run_id=parent.run_id),
        ):
            raise RuntimeError("boom")
    client = tracking.client()
    (child,) = client.search_runs(
        [tracking.experiment_id()], filter_string=f"tags.mlflow.parentRunId = '{parent.run_id}'"
    )
    assert child.info.status == "FAILED"
    assert client.get_run(parent.run_id).info.status == "FINISHED"


def test_two_stores_side_by_side_in_one_process(tracking, tmp_path, migrated_mlflow_db):
    other_db = tmp_path / "other" / "mlflow.db"
    other_db.parent.mkdir()
    shutil.copy(migrated_mlflow_db, other_db)
    other = MlflowSettings(tracking_uri=f"sqlite:///{other_db}", experiment_name="other")
    with tracked_run(tracking, "here") as here, tracked_run(other, "there") as there:
        here.log_metrics({"m": 1.0})
        there.log_metrics({"m": 2.0})
    # Each run landed in its own store, whichever was used last.
    assert tracking.client().get_run(here.run_id).data.metrics == {"m": 1.0}
    assert other.client().get_run(there.run_id).data.metrics == {"m": 2.0}
    assert not other.client().search_runs(
        [other.experiment_id()], f"attributes.run_id = '{here.run_id}'"
    )
