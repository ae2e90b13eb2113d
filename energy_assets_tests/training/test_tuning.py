"""Optuna tuning on backtest folds with MLflow nested runs, against a real sqlite MLflow store and a
real sqlite Optuna storage: warm start, nested trial runs, plots, resume, and a pruned trial."""

from __future__ import annotations

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from energy_assets.devtools import SAMPLE_DATA_PATH
from energy_assets.features.engineering import clean_consumption
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35
from energy_assets.training import tuning
from energy_assets.training.forecaster import DEFAULT_PARAMS
from energy_assets.training.tracking import MlflowSettings

DATA = str(SAMPLE_DATA_PATH)
# Small trees keep a trial (2 folds = 2 fits) around a second.
FAST = {"num_boost_round": 30, "max_train_rows": 20_000}
# Learning rate so small the model stays at "tomorrow = the last day's level": clearly worse.
HOPELESS = {"learning_rate": 1e-5}


@pytest.fixture(scope="module")
def consumption() -> pd.DataFrame:
    return clean_consumption(pd.read_csv(DATA), DE35)


@pytest.fixture
def tracking(mlflow_store) -> MlflowSettings:
    return mlflow_store("test_tuning")


def _children(client, experiment_id: str, parent_run_id: str):
    return client.search_runs(
        [experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'"
    )


@pytest.mark.filterwarnings("ignore:Fixed parameter learning_rate:UserWarning")
def test_study_logs_nested_trials_resumes_and_prunes(consumption, tracking, tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    common = dict(
        storage_url=storage,
        study_name="test_study",
        n_folds=2,
        tracking=tracking,
        fixed_params=FAST,
        # Prune from the third trial on, judged on fold 0 against the completed trials.
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0),
    )

    first = tuning.tune(consumption, n_trials=2, **common)

    assert first.n_trials_run == 2
    trials = first.study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2
    # Warm start: trial 0 is the shipped defaults, so tuning can only improve on them.
    assert trials[0].params["learning_rate"] == DEFAULT_PARAMS["learning_rate"]
    assert trials[0].params["num_leaves"] == DEFAULT_PARAMS["num_leaves"]
    assert first.best_value <= trials[0].value
    assert first.best_params["num_boost_round"] == FAST["num_boost_round"]

    client = tracking.client()
    experiment_id = client.get_experiment_by_name("test_tuning").experiment_id
    parent = client.get_run(first.parent_run_id)
    assert parent.data.metrics["best_mape"] == pytest.approx(first.best_value)
    # The best config against both seasonal-naive baselines on the same folds.
    for name in ("model", "seasonal_naive_24", "seasonal_naive_168"):
        assert parent.data.metrics[f"{name}.mape"] > 0
    assert parent.data.metrics["model.mape"] == pytest.approx(first.best_value)
    assert "mape_ratio_vs_seasonal_naive_168" in parent.data.metrics
    assert parent.data.params["best.learning_rate"] == str(first.best_params["learning_rate"])
    assert any(key.startswith("importance.") for key in parent.data.metrics)
    top_features = parent.data.tags["top_features"].split(",")
    assert top_features[0] == first.feature_importance["feature"].iloc[0]
    artifacts = {a.path for a in client.list_artifacts(first.parent_run_id, "plots")}
    assert {"plots/optimization_history.html", "plots/param_importances.html"} <= artifacts
    importance = {a.path for a in client.list_artifacts(first.parent_run_id, "feature_importance")}
    assert "feature_importance/feature_importance.csv" in importance

    children = _children(client, experiment_id, first.parent_run_id)
    assert len(children) == 2
    for child in children:
        assert child.data.tags["pruned"] == "false"
        assert "learning_rate" in child.data.params
        assert {"fold_0.model.mape", "fold_1.model.mape", "mape_mean"} <= set(child.data.metrics)
        history = client.get_metric_history(child.info.run_id, "fold_mape")
        assert [m.step for m in history] == [0, 1]

    # A second worker / a later run resumes the same study. Its first trial is hopeless and is
    # pruned after fold 0, being worse than the median of the completed trials there.
    optuna.load_study(study_name="test_study", storage=storage).enqueue_trial(HOPELESS)
    second = tuning.tune(consumption, n_trials=2, fit_best=False, **common)

    states = [t.state for t in second.study.trials]
    assert len(states) == 4 and second.n_trials_run == 2
    assert states[2] == TrialState.PRUNED
    assert states[3] in (TrialState.COMPLETE, TrialState.PRUNED)
    assert second.study.trials[2].params["learning_rate"] == HOPELESS["learning_rate"]
    assert list(second.study.trials[2].intermediate_values) == [0]
    assert second.best_value <= first.best_value
    assert second.parent_run_id != first.parent_run_id

    pruned_runs = _children(client, experiment_id, second.parent_run_id)
    by_trial = {run.data.tags["optuna.trial"]: run for run in pruned_runs}
    assert by_trial["2"].data.tags["pruned"] == "true"
    assert by_trial["2"].data.metrics["pruned"] == 1.0
    assert "fold_1.model.mape" not in by_trial["2"].data.metrics
    parent2 = client.get_run(second.parent_run_id).data.metrics
    assert parent2["n_trials_total"] == 4 and parent2["n_trials_pruned"] >= 1


WORKER = """
import pandas as pd
from energy_assets.training import tuning
from energy_assets.training.tracking import MlflowSettings

raw = pd.read_csv({data!r})
consumption = pd.DataFrame({{
    "datetime_utc": pd.to_datetime(raw["HourUTC"]).dt.tz_localize("UTC"),
    "area": raw["PriceArea"].astype(str),
    "segment": raw["ConsumerType_DE35"].astype(str),
    "energy_consumption": raw["TotalCon"].astype("float64"),
}})
result = tuning.tune(
    consumption, n_trials=2, storage_url={storage!r}, study_name="shared", n_folds=1,
    tracking=MlflowSettings(tracking_uri={tracking!r}, experiment_name="workers"),
    fixed_params={fast!r}, fit_best=False,
)
print(result.n_trials_run)
"""


@pytest.mark.slow
@pytest.mark.postgres
def test_two_workers_tune_one_study_in_postgres(postgres_server, tracking):
    """The deploy story: several processes share one study through Postgres."""
    import os
    import subprocess
    import sys

    postgres_server.create_database("optuna_workers")
    storage = postgres_server.url("optuna_workers")
    script = WORKER.format(data=DATA, storage=storage, tracking=tracking.tracking_uri, fast=FAST)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=300) for worker in workers]
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-3000:]
        assert out.strip().splitlines()[-1] == "2"

    study = optuna.load_study(study_name="shared", storage=storage)
    finished = [t for t in study.trials if t.state.is_finished()]
    assert len(finished) >= 4  # 2 per worker, plus a duplicate warm start at most
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in finished)
    experiment = tracking.client().get_experiment_by_name("workers")
    parents = tracking.client().search_runs(
        [experiment.experiment_id], filter_string="tags.kind = 'tuning'"
    )
    assert len(parents) == 2


def test_split_trials_and_threads_share_the_budget_and_the_cores():
    assert tuning.split_trials(5, 2) == [3, 2]
    assert tuning.split_trials(2, 2) == [1, 1]
    assert sum(tuning.split_trials(20, 3)) == 20
    with pytest.raises(ValueError):
        tuning.split_trials(4, 0)
    assert tuning.threads_per_worker(2, cores=2) == 1
    assert tuning.threads_per_worker(1, cores=2) == 2
    assert tuning.threads_per_worker(4, cores=2) == 1  # at least one
    assert tuning.available_cores() >= 1


@pytest.mark.filterwarnings("ignore:Fixed parameter learning_rate:UserWarning")
def test_workers_of_one_session_nest_under_one_parent_and_prune_across_workers(
    consumption, tracking, tmp_path
):
    """The retrain job's shape: one session, several workers, one parent run; the pruner judges
    a worker's trial against the trials other workers stored in the study."""
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    session = tuning.start_session(
        storage_url=storage,
        tracking=tracking,
        study_name="fan_out",
        n_trials=3,
        n_workers=2,
        n_folds=2,
        fixed_params=FAST,
    )
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    common = dict(storage_url=storage, tracking=tracking, pruner=pruner)
    # Worker 0 runs the warm start and one searched trial; worker 1 then tries a hopeless one.
    assert tuning.run_worker(consumption, session, n_trials=2, worker=0, **common) == 2
    optuna.load_study(study_name="fan_out", storage=storage).enqueue_trial(HOPELESS)
    assert tuning.run_worker(consumption, session, n_trials=1, worker=1, **common) == 1
    result = tuning.finish_session(session, trials_run=3, storage_url=storage, tracking=tracking)

    states = [t.state for t in result.study.trials]
    assert states[:2] == [TrialState.COMPLETE] * 2 and states[2] == TrialState.PRUNED
    client = tracking.client()
    experiment_id = client.get_experiment_by_name("test_tuning").experiment_id
    children = _children(client, experiment_id, session.parent_run_id)
    assert sorted(run.data.tags["worker"] for run in children) == ["0", "0", "1"]
    parent = client.get_run(session.parent_run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.params["n_workers"] == "2"
    assert parent.data.metrics["n_trials_pruned"] == 1
