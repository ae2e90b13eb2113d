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
from energy_assets.training.promotion import Contender, decide
from energy_assets.validation.gx import ExpectationOutcome, ValidationOutcome


class _Version:
    def __init__(self, version: str) -> None:
        self.version, self.model_uri = version, f"models:/energy_consumption_forecaster/{version}"

    def __str__(self) -> str:
        return self.version


def model_metadata(candidate_score: float, champion_score: float | None) -> dict:
    """`forecasting_model`'s metadata as its writer builds it, for version 3 against champion 2."""
    champion = None if champion_score is None else Contender("2", champion_score)
    decision = decide(Contender("3", candidate_score), champion, window="the last 7 days")
    metrics = {
        "model": {"mape": candidate_score, "wape": 0.05},
        "seasonal_naive_24": {"mape": 0.11},
        "seasonal_naive_168": {"mape": 0.09},
    }
    candidate = SimpleNamespace(
        tuned=SimpleNamespace(n_trials_run=2, study=SimpleNamespace(trials=[1, 2])),
        scored=SimpleNamespace(metrics=metrics, fit_seconds=1.5),
        params={"num_leaves": 31},
    )
    consumption = pd.DataFrame({"area": ["DK1", "DK2"], "segment": ["111", "111"]})
    metadata = forecasting_model_metadata(
        plan={"window_start": "2023-01-01T00:00Z", "window_end": "2023-01-07T23:00Z"},
        consumption=consumption,
        candidate=candidate,
        version=_Version("3"),
        decision=decision,
        summary=pd.DataFrame({"metric": ["mape"], "model": [candidate_score]}),
        importance=pd.DataFrame({"feature": ["lag_24"], "gain": [1.0]}),
        workers=[{"worker": 0, "trials_run": 2}],
        mlflow_run="http://mlflow.example/#/experiments/1/runs/abc",
        pngs={},
    )
    return metadata


def _plain(metadata: dict) -> dict:
    return {k: getattr(v, "value", v) for k, v in metadata.items()}


def test_the_promotion_alert_reads_what_forecasting_model_writes():
    lost = promotion_fact(_plain(model_metadata(0.0712, 0.0650)), link=None)
    assert (lost.model_version, lost.promoted, lost.champion_version) == ("3", False, "2")
    assert (lost.candidate_score, lost.champion_score) == (0.0712, 0.0650)
    assert "champion stays version 2" in lost.reason
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
