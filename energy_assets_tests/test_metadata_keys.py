"""Metadata other code reads is a contract: the writers' metadata, stored as Dagster events,
read back through the readers (the retrain sensor, the alerts). A writer and a reader that
disagree on a key fail here instead of silently reading "no signal"."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
from dagster import AssetMaterialization, DagsterInstance, build_sensor_context

from energy_assets import metadata_keys as meta
from energy_assets.defs.alerts import promotion_fact
from energy_assets.defs.monitoring import accuracy_numbers, drift_numbers
from energy_assets.defs.sensors import build_retrain_sensor
from energy_assets.defs.training import forecasting_model_metadata
from energy_assets.monitoring.retrain_policy import RetrainThresholds
from energy_assets.training import steps
from energy_assets.training.promotion import Contender, decide, settled
from energy_assets.validation.gx import ExpectationOutcome, ValidationOutcome


def model_metadata(candidate_score: float, champion_score: float | None) -> dict:
    """`forecasting_model`'s metadata as its writer builds it: the tuned configuration is version
    3; against champion 2 it wins, or loses and champion 2's configuration is refit as version 4."""
    champion = None if champion_score is None else Contender(champion_score, {"a": 2}, "2")
    decision = decide(Contender(candidate_score, {"a": 3}), champion, window="the last 7 days")
    serving = "3" if decision.promoted else "4"
    challenger = None if champion is None else ("2" if decision.promoted else "3")
    plan = steps.plan_training(
        window_start="2023-01-01T00:00Z",
        window_end="2023-01-14T23:00Z",
        backtest_days=7,
        budget=steps.TuningBudget(n_trials=2),
    )
    outcome = steps.TrainingOutcome(
        candidate_version="3",
        champion_version=serving,
        model_uri=f"models:/energy_consumption_forecaster/{serving}",
        challenger_version=challenger,
        decision=decision,
        reason=settled(
            decision,
            champion_version=serving,
            challenger_version=challenger,
            training_end="2023-01-14 23:00",
        ),
        params={"num_leaves": 31},
        metrics={
            "model": {"mape": candidate_score, "wape": 0.05, "median_series_mape": 0.04},
            "seasonal_naive_24": {"mape": 0.11, "wape": 0.1, "median_series_mape": 0.1},
            "seasonal_naive_168": {"mape": 0.09, "wape": 0.08, "median_series_mape": 0.08},
        },
        fit_seconds=1.5,
        training_rows=2,
        series=2,
        trials_run=2,
        trials_per_worker=(2,),
        trials_in_study=2,
        feature_importance=(("lag_24", 1.0),),
        mlflow_run_id="abc",
    )
    return forecasting_model_metadata(
        plan, outcome, "http://mlflow.example/#/experiments/1/runs/abc"
    )


def _plain(metadata: dict) -> dict:
    return {k: getattr(v, "value", v) for k, v in metadata.items()}


def test_the_promotion_alert_reads_what_forecasting_model_writes():
    lost = promotion_fact(_plain(model_metadata(0.0712, 0.0650)), link=None)
    assert (lost.model_version, lost.promoted, lost.champion_version) == ("3", False, "4")
    assert (lost.candidate_score, lost.champion_score) == (0.0712, 0.0650)
    assert "version 2's configuration stays and is refit on the new data" in lost.reason
    assert "Version 4" in lost.reason and "version 3 is challenger" in lost.reason
    assert lost.link == "http://mlflow.example/#/experiments/1/runs/abc"
    first = promotion_fact(_plain(model_metadata(0.07, None)), link=None)
    assert first.promoted and first.champion_version == "3" and first.champion_score is None


def test_the_retrain_sensor_reads_what_drift_report_and_forecast_accuracy_write():
    drift = SimpleNamespace(drift_share=0.8, dataset_drift=True, drifted_columns=["lag_24"])
    overall = pd.Series({"mape": 0.30, "wape": 0.2, "n_points": 100, "coverage": 0.8})
    sensor = build_retrain_sensor(RetrainThresholds(max_drift_share=0.5, max_mape=0.15))
    with DagsterInstance.ephemeral() as instance:
        for asset, metadata in (
            ("drift_report", drift_numbers(drift)),
            ("forecast_accuracy", accuracy_numbers(overall)),
        ):
            instance.report_runless_asset_event(
                AssetMaterialization(asset_key=asset, partition="2023-01-05", metadata=metadata)
            )
        result = sensor.evaluate_tick(build_sensor_context(instance=instance))
    (request,) = result.run_requests
    # Both signals were read: a key renamed on either side would drop its part of the key.
    assert "drift:2023-01-05" in request.run_key and "accuracy:2023-01-05" in request.run_key


def test_the_check_alert_reads_the_offending_rows_the_validation_writes():
    failed = ExpectationOutcome(
        "expect_column_values_to_be_between", ("energy_consumption",), False, unexpected_count=3
    )
    duplicated = ExpectationOutcome(
        "expect_compound_columns_to_be_unique", ("datetime_utc", "area"), False, unexpected_count=2
    )
    metadata = ValidationOutcome("features", [failed, duplicated], rows=76).to_metadata()
    assert meta.UNEXPECTED_ROWS.read(metadata) == 5
    assert "expect_column_values_to_be_between(energy_consumption)" in (
        meta.FAILED_EXPECTATIONS.read(metadata) or ""
    )


def test_a_key_reads_its_type_and_absence():
    assert meta.DRIFT_SHARE.read({"drift_share": 1}) == 1.0
    assert meta.DRIFT_SHARE.read({}) is None
    assert meta.PROMOTED.read({"champion": False}) is False
    names = [v.name for v in vars(meta).values() if isinstance(v, meta.MetadataKey)]
    assert len(names) == len(set(names)), "two declarations share one metadata key"
