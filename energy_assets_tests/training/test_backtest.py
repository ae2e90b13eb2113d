"""Backtest, the tuned backtest steps and the backtest CLI on the shared real slice (76 series,
2022-12-21 .. 2023-01-17)."""

import json

import numpy as np
import pandas as pd
import pytest

from energy_assets.cli import main
from energy_assets.contracts import utc
from energy_assets.devtools import SAMPLE_DATA_PATH
from energy_assets.features.engineering import read_consumption_file
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35
from energy_assets.training.backtest import backtest, rolling_folds

DATA = str(SAMPLE_DATA_PATH)
CUTOFF = "2023-01-10T22:00"


@pytest.fixture(scope="module")
def consumption():
    return read_consumption_file(DATA, DE35)


def test_cli_writes_every_prediction_and_all_metrics(tmp_path, capsys):
    out = tmp_path / "bt.json"
    code = main(
        [
            "backtest",
            "--data",
            DATA,
            "--cutoff",
            CUTOFF,
            "--origins",
            "2",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    doc = json.loads(out.read_text())
    assert set(doc["metrics"]) == {"model", "seasonal_naive_24", "seasonal_naive_168"}
    point_metrics = {"mape", "wape", "median_series_mape", "n_points", "pinball"}
    assert set(doc["metrics"]["model"]) == point_metrics | {"coverage"}
    for name in ("seasonal_naive_24", "seasonal_naive_168"):
        assert set(doc["metrics"][name]) == point_metrics
    for metrics in doc["metrics"].values():
        assert metrics["n_points"] == 2 * 76 * 24
    assert len(doc["predictions"]) == 2 * 76 * 24
    first = doc["predictions"][0]
    assert set(first) == {
        "area",
        "segment",
        "forecast_origin",
        "datetime_utc",
        "horizon_hours",
        "predicted",
        "p10",
        "p50",
        "p90",
        "actual",
        "seasonal_naive_24",
        "seasonal_naive_168",
    }
    assert {p["forecast_origin"] for p in doc["predictions"]} == {
        "2023-01-10T22:00:00Z",
        "2023-01-11T22:00:00Z",
    }
    assert "seasonal_naive_168" in capsys.readouterr().out
    # Quantiles are ordered on every point, and the reported coverage is the share of actuals
    # inside [p10, p90] (every point is scored: both baselines exist after this cutoff).
    points = pd.DataFrame(doc["predictions"])
    assert (points.p10 <= points.p50).all() and (points.p50 <= points.p90).all()
    assert (points.p50 == points.predicted).all()
    inside = (points.p10 <= points.actual) & (points.actual <= points.p90)
    assert doc["metrics"]["model"]["coverage"] == pytest.approx(inside.mean())
    assert 0.6 < doc["metrics"]["model"]["coverage"] < 0.95
    _field_metrics_recomputed_from(points, doc["field_metrics"])


def _field_metrics_recomputed_from(points: pd.DataFrame, written: dict) -> None:
    """rMAE, rCRPS and skill by lead time, recomputed series by series from the written
    predictions with the formulas of docs/concepts/calibration-and-metrics.md."""
    expected = {}
    for lead in [None, *sorted(points["horizon_hours"].unique())]:
        sums = {"rmae": [], "rcrps": [], "base": []}
        for _, series in points.groupby(["area", "segment"]):
            p1, p99 = np.percentile(series["actual"], [1, 99])
            rows = series if lead is None else series[series["horizon_hours"] == lead]
            a = rows["actual"].to_numpy()
            crps = 0.0
            for q, col in ((0.1, "p10"), (0.5, "p50"), (0.9, "p90")):
                d = a - rows[col].to_numpy()
                crps = crps + np.where(d >= 0, q * d, (q - 1) * d)
            sums["rmae"].append(np.mean(np.abs(a - rows["predicted"])) / (p99 - p1))
            sums["rcrps"].append(np.mean(2 * crps / 3) / (p99 - p1))
            sums["base"].append(np.mean(np.abs(a - rows["seasonal_naive_168"])) / (p99 - p1))
        rmae, rcrps, base = (float(np.mean(v)) for v in sums.values())
        expected[lead] = {"rmae": rmae, "rcrps": rcrps, "skill": 1 - rcrps / base}
    assert len(written["by_lead_time"]) == 24
    for name in ("rmae", "rcrps", "skill"):
        assert written[name] == pytest.approx(expected[None][name], rel=1e-9)
        for row in written["by_lead_time"]:
            assert row[name] == pytest.approx(expected[row["horizon_hours"]][name], rel=1e-9)
    # The model beats the lag-168 basecase on this slice, and its error grows with lead time.
    assert written["skill"] > 0
    leads = written["by_lead_time"]
    assert leads[0]["rmae"] < leads[-1]["rmae"]


def test_naive_baselines_follow_their_definition(consumption):
    result = backtest(consumption, CUTOFF, 1, params={"num_boost_round": 5, "max_train_rows": 5000})
    p = result.predictions
    values = consumption.set_index(["area", "segment", "datetime_utc"])["energy_consumption"]
    row = p[(p.area == "DK1") & (p.segment == "111") & (p.horizon_hours == 5)].iloc[0]
    target = pd.Timestamp("2023-01-11T03:00", tz="UTC")
    assert row.datetime_utc == target
    assert row.seasonal_naive_24 == values[("DK1", "111", target - pd.Timedelta(hours=24))]
    assert row.seasonal_naive_168 == values[("DK1", "111", target - pd.Timedelta(hours=168))]
    assert row.actual == values[("DK1", "111", target)]


def test_model_beats_both_seasonal_naives_on_the_real_slice(consumption):
    """The accuracy claim, with the shipped parameters, on 7 daily origins."""
    result = backtest(consumption, CUTOFF, 7)
    m = result.metrics
    assert m["model"]["n_points"] == 7 * 76 * 24
    assert m["model"]["mape"] < 0.9 * m["seasonal_naive_168"]["mape"]
    assert m["model"]["mape"] < 0.6 * m["seasonal_naive_24"]["mape"]
    assert m["model"]["wape"] < m["seasonal_naive_168"]["wape"]
    assert m["model"]["median_series_mape"] < m["seasonal_naive_168"]["median_series_mape"]


def test_rolling_folds_are_the_last_non_overlapping_days(consumption):
    folds = rolling_folds(consumption, n_folds=3)
    assert [f.cutoff for f in folds] == [
        pd.Timestamp("2023-01-14T22:00", tz="UTC"),
        pd.Timestamp("2023-01-15T22:00", tz="UTC"),
        pd.Timestamp("2023-01-16T22:00", tz="UTC"),
    ]
    assert all(len(f.origins) == 1 and f.origins[0] == f.cutoff for f in folds)
    two_day = rolling_folds(consumption, n_folds=2, fold_days=2)
    assert two_day[0].origins[-1] < two_day[1].cutoff
    with pytest.raises(ValueError, match="under 8 days"):
        rolling_folds(consumption, n_folds=20)


def test_trials_tune_on_folds_before_the_cutoff_then_score(consumption, mlflow_store, tmp_path):
    import optuna

    from energy_assets.training import steps

    small = {"num_boost_round": 40, "max_train_rows": 20_000}
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    services = steps.TrainingServices(storage, mlflow_store("test_backtest"))
    plan = steps.plan_training(
        window_start=consumption["datetime_utc"].min(),
        window_end=utc(CUTOFF) + pd.Timedelta(days=1),
        backtest_days=1,
        budget=steps.TuningBudget(n_trials=2, fixed_params=small),
    )
    plan = steps.open_tuning(plan, services)
    result = steps.tuned_backtest(plan, consumption, services)
    assert result.metrics["model"]["n_points"] == 76 * 24
    study = optuna.load_study(study_name="energy_consumption_forecaster", storage=storage)
    assert len(study.trials) == 2
    assert all(t.state.is_finished() for t in study.trials)
    # Tuned on folds before the cutoff: the backtest's origin stays unseen.
    assert plan.cutoff == utc(CUTOFF) and result.origins == [utc(CUTOFF)]
    assert result.params["num_boost_round"] == small["num_boost_round"]
