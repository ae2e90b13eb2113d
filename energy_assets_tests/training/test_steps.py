"""The typed training steps end to end on the shared slice, with a real sqlite MLflow store:
the demo's case (a level shift after the champion was trained) and a tuned configuration that
does win; the step values survive JSON as the step IO manager stores them."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from energy_assets import metrics
from energy_assets.contracts import CHALLENGER_ALIAS, CHAMPION_ALIAS, REGISTERED_MODEL_NAME, utc
from energy_assets.devtools import SAMPLE_DATA_PATH
from energy_assets.features.engineering import clean_consumption
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35
from energy_assets.training import model_store, steps

# Small, fast trees; the trees alone (no weekly-shape blend) so each fit is one fit.
GOOD = {"num_boost_round": 40, "max_train_rows": 20_000, "shape_blend": 0.0}
# One tree at a tiny learning rate: a flat day at the last 24 h's level. Clearly worse.
POOR = {"num_boost_round": 1, "learning_rate": 0.001, "max_train_rows": 20_000, "shape_blend": 0.0}
SHIFT_FROM = pd.Timestamp("2023-01-12 00:00", tz="UTC")
SHIFT = 1.6


@pytest.fixture(scope="module")
def shifted() -> pd.DataFrame:
    """The slice (2022-12-21 → 2023-01-17) with every series ×1.6 from 2023-01-12."""
    consumption = clean_consumption(pd.read_csv(SAMPLE_DATA_PATH), DE35)
    late = consumption["datetime_utc"] >= SHIFT_FROM
    consumption.loc[late, "energy_consumption"] *= SHIFT
    return consumption


@pytest.fixture
def services(mlflow_store, tmp_path) -> steps.TrainingServices:
    return steps.TrainingServices(f"sqlite:///{tmp_path / 'optuna.db'}", mlflow_store("steps"))


def train(consumption, services, window_end: str, fixed: dict) -> steps.TrainingOutcome:
    """One retrain without trials (the configuration: defaults + `fixed`), through the steps."""
    plan = steps.plan_training(
        window_start=consumption["datetime_utc"].min(),
        window_end=window_end,
        backtest_days=2,
        budget=steps.TuningBudget(n_trials=0, fixed_params=fixed),
    )
    plan = steps.open_tuning(plan, services)
    window = consumption[consumption["datetime_utc"] <= plan.window_end]
    results = [steps.run_share(plan, share, window, services) for share in plan.shares()]
    return steps.finalise(plan, results, window, services)


def mape_on(model, consumption, origin) -> float:
    history = consumption[consumption["datetime_utc"] <= origin]
    predicted = model.predict(history, origins=[origin])
    joined = predicted.merge(
        consumption.rename(columns={"energy_consumption": "actual"}),
        on=["datetime_utc", "area", "segment"],
    )
    assert len(joined) == 76 * 24
    return float(metrics.score(joined, "prediction")["mape"])


def test_after_a_level_shift_the_served_champion_has_seen_it(shifted, services):
    """The demo's case: the champion trained before a ×1.6 shift; the retrain's tuned
    configuration loses, and still the model that serves afterwards is trained on the shift."""
    tracking = services.tracking
    first = train(shifted, services, "2023-01-11 23:00", GOOD)
    assert first.champion_version == "1" and first.challenger_version is None
    assert first.decision.promoted and "no champion to beat" in first.reason
    before, _ = model_store.load_champion(tracking)
    assert before.training_end < SHIFT_FROM

    retrain = train(shifted, services, "2023-01-15 23:00", POOR)

    decision = retrain.decision
    assert not decision.promoted and decision.winner == "champion"
    assert decision.candidate_score > decision.champion_score + decision.margin
    # The tuned (poor) configuration is registered as challenger; the champion's configuration,
    # refit on the window with the shift, is a new version and serves.
    assert retrain.challenger_version == "2" and retrain.champion_version == "3"
    after, version = model_store.load_champion(tracking)
    assert version == "3" and after.training_end == utc("2023-01-15 23:00") > SHIFT_FROM
    assert {k: after.params[k] for k in GOOD} == GOOD
    assert model_store.alias_version(tracking, CHALLENGER_ALIAS) == "2"
    # The decision says why, truthfully, in the tags of both versions.
    assert "refit on the new data" in retrain.reason and "Version 3" in retrain.reason
    assert "version 2 is challenger" in retrain.reason and "optimistic" not in retrain.reason
    client = tracking.client()
    for number, role in (("3", "champion"), ("2", "challenger")):
        tags = client.get_model_version(REGISTERED_MODEL_NAME, number).tags
        assert tags["promotion.role"] == role and tags["promotion.reason"] == retrain.reason

    # On the shifted days after the retrain, the served model beats the one it replaced.
    origin = utc("2023-01-16 00:00")
    assert mape_on(after, shifted, origin) < mape_on(before, shifted, origin)

    # The outcome is a step value: it survives JSON as the step IO manager stores it.
    again = steps.TrainingOutcome.from_dict(json.loads(json.dumps(retrain.to_dict())))
    assert again == retrain


def test_a_configuration_better_by_more_than_the_margin_replaces_the_champion(shifted, services):
    train(shifted, services, "2023-01-08 23:00", POOR)
    retrain = train(shifted, services, "2023-01-10 23:00", GOOD)

    assert retrain.decision.promoted
    assert (
        retrain.decision.champion_score - retrain.decision.candidate_score > retrain.decision.margin
    )
    assert "replaces it" in retrain.reason
    assert retrain.champion_version == "2" and retrain.challenger_version == "1"
    client = services.tracking.client()
    assert (
        str(client.get_model_version_by_alias(REGISTERED_MODEL_NAME, CHAMPION_ALIAS).version) == "2"
    )

    # Tuning that lands on the champion's own configuration refreshes it with one fit.
    refresh = train(shifted, services, "2023-01-11 23:00", GOOD)
    assert refresh.decision.same_configuration and refresh.champion_version == "3"
    assert refresh.challenger_version is None and "own configuration" in refresh.reason
    assert model_store.alias_version(services.tracking, CHALLENGER_ALIAS) == "1"


def test_plans_and_shares_survive_json():
    plan = steps.plan_training(
        window_start="2023-01-01T00:00Z",
        window_end="2023-01-10T23:00Z",
        backtest_days=2,
        budget=steps.TuningBudget(n_trials=5, n_workers=2, fixed_params={"num_boost_round": 40}),
    )
    assert plan.cutoff == utc("2023-01-08T23:00Z") and plan.origins[-1] == utc("2023-01-09T23:00Z")
    assert steps.TrainingPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
    shares = plan.shares()
    assert [s.n_trials for s in shares] == [3, 2]
    assert [steps.TuningShare.from_dict(json.loads(json.dumps(s.to_dict()))) for s in shares] == (
        shares
    )
    with pytest.raises(ValueError, match="backtest needs a window longer"):
        steps.plan_training(
            window_start="2023-01-09T00:00Z",
            window_end="2023-01-10T23:00Z",
            backtest_days=2,
            budget=steps.TuningBudget(n_trials=0),
        )


def test_the_final_fit_takes_the_weather_and_decides_from_it(services):
    """Weather given to `finalise` reaches the served model's fit: its recorded decision reads
    the window's weather history (26 days of DMI's real weather here: too short, so no weather
    model serves), where a fit without weather says it had none."""
    from energy_assets.devtools import WEATHER_SAMPLE_PATH
    from energy_assets.ingestion.weather_files import read_weather_file

    consumption = clean_consumption(pd.read_csv(SAMPLE_DATA_PATH), DE35)
    plan = steps.plan_training(
        window_start=consumption["datetime_utc"].min(),
        window_end="2023-01-15T23:00Z",
        backtest_days=2,
        budget=steps.TuningBudget(n_trials=0, fixed_params=GOOD),
    )
    plan = steps.open_tuning(plan, services)
    window = consumption[consumption["datetime_utc"] <= plan.window_end]
    results = [steps.run_share(plan, share, window, services) for share in plan.shares()]
    weather = read_weather_file(WEATHER_SAMPLE_PATH)
    steps.finalise(plan, results, window, services, weather=weather)
    champion, _ = model_store.current_champion(services.tracking)
    decision = champion.weather_decision
    assert decision["weather_used"] is False
    assert "days of weather in the training window" in decision["reason"]
    assert not decision["reason"].startswith("only 0 days"), decision
