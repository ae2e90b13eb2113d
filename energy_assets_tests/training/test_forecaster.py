"""GlobalLGBMForecaster on the shared real slice: contract, no leakage, determinism, bad input."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from energy_assets.contracts import FORECASTER_OUTPUT_COLUMNS as FORECAST_COLUMNS
from energy_assets.contracts import MODEL_CATEGORICAL_INPUTS, MODEL_INPUT_NAMES
from energy_assets.devtools import SAMPLE_DATA_PATH
from energy_assets.features.engineering import read_consumption_file
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35
from energy_assets.training.forecaster import (
    DEFAULT_PARAMS,
    GlobalLGBMForecaster,
    suggest_params,
)

DATA = str(SAMPLE_DATA_PATH)
FAST = {"num_boost_round": 30, "max_train_rows": 20_000}
CUTOFF = pd.Timestamp("2023-01-10T22:00", tz="UTC")


@pytest.fixture(scope="module")
def consumption():
    return read_consumption_file(DATA, DE35)


@pytest.fixture(scope="module")
def model(consumption):
    return GlobalLGBMForecaster(FAST).fit(consumption[consumption.datetime_utc <= CUTOFF])


def test_forecasts_contract(model, consumption):
    out = model.predict(consumption[consumption.datetime_utc <= CUTOFF])
    assert list(out.columns[: len(FORECAST_COLUMNS)]) == list(FORECAST_COLUMNS)
    assert len(out) == 76 * 24
    assert (out.forecast_origin == CUTOFF).all()
    assert sorted(out.horizon_hours.unique()) == list(range(1, 25))
    assert (out.datetime_utc - out.forecast_origin == pd.to_timedelta(out.horizon_hours, "h")).all()
    assert str(out.datetime_utc.dt.tz) == "UTC"
    assert (out.prediction >= 0).all() and out.prediction.notna().all()
    assert (out.prediction_lower <= out.prediction).all()
    assert (out.prediction <= out.prediction_upper).all()
    # The quantiles: p10 / p90 are the band's edges, p50 the point forecast.
    assert (out.p10 <= out.p50).all() and (out.p50 <= out.p90).all() and (out.p10 < out.p90).any()
    assert out.p10.equals(out.prediction_lower) and out.p90.equals(out.prediction_upper)
    assert out.p50.equals(out.prediction)
    assert model.training_end == CUTOFF
    assert len(model.series) == 76 and ("DK1", "111") in model.series
    assert set(model.feature_importance().columns) == {"feature", "gain"}
    assert {"area", "segment", "horizon_hours"} <= set(model.feature_names)


def test_many_origins_equal_one_at_a_time(model, consumption):
    origins = [CUTOFF + pd.Timedelta(days=i) for i in range(3)]
    together = model.predict(consumption, origins)
    assert len(together) == 3 * 76 * 24
    for origin in origins:
        alone = model.predict(consumption[consumption.datetime_utc <= origin])
        got = together[together.forecast_origin == origin].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, alone)


def test_no_leakage_values_after_the_origin_are_never_read(model, consumption):
    origins = [CUTOFF, CUTOFF + pd.Timedelta(days=2)]
    clean_prediction = model.predict(consumption, origins)
    rng = np.random.default_rng(1)
    for origin in origins:
        poisoned = consumption.copy()
        after = poisoned.datetime_utc > origin
        poisoned.loc[after, "energy_consumption"] = rng.uniform(0, 1e9, int(after.sum()))
        got = model.predict(poisoned, origins)
        # Predictions for origins <= the poisoned hour are bit-identical.
        mine = got.forecast_origin <= origin
        pd.testing.assert_frame_equal(
            got[mine].reset_index(drop=True),
            clean_prediction[clean_prediction.forecast_origin <= origin].reset_index(drop=True),
            check_exact=True,
        )


def test_training_is_deterministic_with_a_seed(consumption):
    train = consumption[consumption.datetime_utc <= CUTOFF]
    a = GlobalLGBMForecaster(FAST, random_state=3).fit(train).predict(train)
    b = GlobalLGBMForecaster(FAST, random_state=3).fit(train).predict(train)
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_save_load_round_trip_in_a_fresh_process(model, consumption, tmp_path):
    history = consumption[consumption.datetime_utc <= CUTOFF]
    history.to_parquet(tmp_path / "history.parquet")
    model.save(tmp_path / "model")
    script = textwrap.dedent(
        f"""
        import pandas as pd
        from energy_assets.training.forecaster import GlobalLGBMForecaster
        model = GlobalLGBMForecaster.load({str(tmp_path / "model")!r})
        history = pd.read_parquet({str(tmp_path / "history.parquet")!r})
        model.predict(history).to_parquet({str(tmp_path / "out.parquet")!r})
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "out.parquet"), model.predict(history), check_exact=True
    )


def _series(frame, area, segment):
    return (frame.area == area) & (frame.segment == segment)


def test_short_gap_is_filled_long_gap_names_series_and_hour(model, consumption):
    history = consumption[consumption.datetime_utc <= CUTOFF]
    hole = _series(history, "DK1", "111") & history.datetime_utc.between(
        CUTOFF - pd.Timedelta(hours=30), CUTOFF - pd.Timedelta(hours=28)
    )
    out = model.predict(history[~hole])  # 3 missing hours: forward-filled
    assert out.prediction.notna().all()
    nan_values = history.copy()
    nan_values.loc[hole, "energy_consumption"] = np.nan  # NaNs behave like missing hours
    assert model.predict(nan_values).prediction.notna().all()

    long_hole = _series(history, "DK2", "320") & history.datetime_utc.between(
        CUTOFF - pd.Timedelta(hours=50), CUTOFF - pd.Timedelta(hours=30)
    )
    with pytest.raises(ValueError, match=r"\('DK2', '320'\).*2023-01-08 20:00"):
        model.predict(history[~long_hole])


def test_duplicate_rows_are_an_error(model, consumption):
    history = consumption[consumption.datetime_utc <= CUTOFF]
    with pytest.raises(ValueError, match="duplicate rows for series"):
        model.predict(pd.concat([history, history.tail(1)]))


def test_new_unseen_and_constant_series(model, consumption):
    history = consumption[consumption.datetime_utc <= CUTOFF]
    hours = pd.date_range(CUTOFF - pd.Timedelta(days=20), CUTOFF, freq="h")
    constant = pd.DataFrame(
        {"datetime_utc": hours, "area": "DK1", "segment": "123456", "energy_consumption": 500.0}
    )
    young_hours = hours[-72:]  # 3 days: not enough for the model -> seasonal naive fallback
    young = pd.DataFrame(
        {
            "datetime_utc": young_hours,
            "area": "DK3",
            "segment": "111",
            "energy_consumption": np.arange(len(young_hours), dtype=float) % 24 + 100,
        }
    )
    out = model.predict(pd.concat([history, constant, young], ignore_index=True))
    const = out[_series(out, "DK1", "123456")]
    assert len(const) == 24 and (const.model_used == "lightgbm").all()
    assert const.prediction.between(400, 600).all()
    new = out[_series(out, "DK3", "111")]
    assert (new.model_used == "seasonal_naive").all()
    expected = young.energy_consumption.to_numpy()[-24:]
    np.testing.assert_allclose(new.prediction.to_numpy(), expected)
    assert (out[~_series(out, "DK3", "111")].model_used == "lightgbm").all()


def test_origin_outside_history_is_an_error(model, consumption):
    with pytest.raises(ValueError, match="not an hour inside the history"):
        model.predict(consumption, CUTOFF + pd.Timedelta(days=30))


def test_search_space_gives_valid_params():
    optuna = pytest.importorskip("optuna")
    trial = optuna.trial.FixedTrial(
        {
            "objective": "l1",
            "learning_rate": 0.05,
            "num_boost_round": 100,
            "num_leaves": 31,
            "min_data_in_leaf": 50,
            "feature_fraction": 0.8,
            "bagging_fraction": 0.8,
            "lambda_l2": 1.0,
            "cat_smooth": 10.0,
            "max_train_rows": 100_000,
            "recency_halflife_days": 7,
            "shape_blend": "auto",
        }
    )
    params = suggest_params(trial)
    assert set(params) <= set(DEFAULT_PARAMS) | {"bagging_freq"}


def test_series_inactive_at_the_origin_are_left_out(model, consumption):
    history = consumption[consumption.datetime_utc <= CUTOFF]
    ended = _series(history, "DK1", "111") & (history.datetime_utc > CUTOFF - pd.Timedelta(days=2))
    later = pd.DataFrame(
        {
            "datetime_utc": [CUTOFF + pd.Timedelta(hours=5)],
            "area": ["DK2"],
            "segment": ["777"],
            "energy_consumption": [10.0],
        }
    )
    out = model.predict(pd.concat([history[~ended], later], ignore_index=True), CUTOFF)
    assert len(out) == 75 * 24
    assert not _series(out, "DK1", "111").any() and not _series(out, "DK2", "777").any()
    assert out.prediction.notna().all()


def _with_shape_blend(model, weight, history, origins):
    saved = model.shape_blend
    model.shape_blend = weight
    try:
        return model.predict(history, origins)
    finally:
        model.shape_blend = saved


def test_weekly_shape_blend_rescales_last_week_to_the_trees_level(model, consumption):
    # Origin Tue 2023-01-10 22:00 UTC: the next day (Wed 11 Jan, local) and the same day a week
    # earlier are both working days, so every path is blended.
    trees = _with_shape_blend(model, 0.0, consumption, [CUTOFF])
    weekly = _with_shape_blend(model, 1.0, consumption, [CUTOFF])
    half = _with_shape_blend(model, 0.5, consumption, [CUTOFF])
    week_ago = consumption.assign(datetime_utc=consumption.datetime_utc + pd.Timedelta(days=7))
    joined = trees.merge(week_ago, on=["area", "segment", "datetime_utc"], how="left")
    assert joined.energy_consumption.notna().all()
    per_path = joined.groupby(["area", "segment"])
    expected = (
        joined.energy_consumption
        * per_path.prediction.transform("mean")
        / per_path.energy_consumption.transform("mean")
    )
    np.testing.assert_allclose(weekly.prediction, expected, rtol=1e-9)
    np.testing.assert_allclose(half.prediction, np.sqrt(trees.prediction * expected), rtol=1e-9)
    assert not np.allclose(trees.prediction, weekly.prediction)


def test_weekly_shape_blend_skips_a_week_ago_holiday(model, consumption):
    # Origin 2023-01-01 23:00 UTC forecasts Mon 2 Jan (a working day); a week earlier was
    # Boxing Day (2. juledag), so last week's shape is not comparable and the trees stand alone.
    origin = pd.Timestamp("2023-01-01T23:00", tz="UTC")
    history = consumption[consumption.datetime_utc <= origin]
    trees = _with_shape_blend(model, 0.0, history, [origin])
    blended = _with_shape_blend(model, 1.0, history, [origin])
    pd.testing.assert_frame_equal(blended, trees, check_exact=True)


def test_weekly_shape_blend_reads_nothing_after_the_origin(model, consumption):
    clean = _with_shape_blend(model, 0.75, consumption, [CUTOFF])
    poisoned = consumption.copy()
    after = poisoned.datetime_utc > CUTOFF
    poisoned.loc[after, "energy_consumption"] = 1e9
    got = _with_shape_blend(model, 0.75, poisoned, [CUTOFF])
    pd.testing.assert_frame_equal(got, clean, check_exact=True)


def test_auto_shape_blend_picks_the_holdout_best(model, consumption):
    # The module model trained with the default "auto" on 20 days: a 7-day holdout was scored.
    holdout = model.shape_blend_holdout
    assert set(holdout) == {"0.0", "0.25", "0.5", "0.75"}
    assert all(0 < mape < 1 for mape in holdout.values())
    assert model.shape_blend == float(min(holdout, key=holdout.get))

    fixed = GlobalLGBMForecaster({**FAST, "shape_blend": 0.25}).fit(
        consumption[consumption.datetime_utc <= CUTOFF]
    )
    assert fixed.shape_blend == 0.25 and fixed.shape_blend_holdout == {}

    # Under two weeks of data leave no room for a holdout: the trees alone, said so.
    short = GlobalLGBMForecaster(FAST).fit(
        consumption[consumption.datetime_utc <= pd.Timestamp("2023-01-02T22:00", tz="UTC")]
    )
    assert short.shape_blend == 0.0 and short.shape_blend_holdout == {}


def test_prediction_intervals_cover_about_80_percent_out_of_sample(consumption):
    # Default configuration (holdout-calibrated intervals), 7 days after the cutoff: 12,768
    # points the model never saw. In-sample quantiles alone covered 76 % here.
    model = GlobalLGBMForecaster().fit(consumption[consumption.datetime_utc <= CUTOFF])
    origins = [CUTOFF + pd.Timedelta(days=i) for i in range(7)]
    points = model.predict(consumption, origins).merge(
        consumption, on=["area", "segment", "datetime_utc"]
    )
    assert len(points) == 7 * 24 * 76
    inside = (points.prediction_lower <= points.energy_consumption) & (
        points.energy_consumption <= points.prediction_upper
    )
    assert 0.77 <= inside.mean() <= 0.9


def test_a_model_saved_in_an_older_format_is_refused_with_retrain(model, tmp_path):
    # Format /2 named its inputs lag_1d, profile_7d, ... (now contracts.MODEL_INPUTS' names).
    path = model.save(tmp_path / "model")
    meta = json.loads((path / "metadata.json").read_text())
    meta["format"] = "energy_assets.GlobalLGBMForecaster/2"
    (path / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"GlobalLGBMForecaster/2.*renamed.*retrain it") as caught:
        GlobalLGBMForecaster.load(path)
    assert "\n" not in str(caught.value)


def test_the_model_consumes_the_declared_inputs_in_order(model):
    assert model.feature_names == [*MODEL_INPUT_NAMES, *MODEL_CATEGORICAL_INPUTS]


def test_the_band_is_calibrated_on_out_of_sample_errors_of_the_last_days():
    from energy_assets.devtools import DATA_DIR
    from energy_assets.sources import PRODUCTION_CONSUMPTION_SETTLEMENT as PCS
    from energy_assets.training.forecaster import CALIBRATION_HOLDOUT_DAYS

    dk2 = read_consumption_file(str(DATA_DIR / "ProductionConsumptionSettlement_DK2.csv.gz"), PCS)
    end = pd.Timestamp("2023-05-01T00:00", tz="UTC")
    window = dk2[(dk2.datetime_utc > end - pd.Timedelta(days=300)) & (dk2.datetime_utc <= end)]
    model = GlobalLGBMForecaster({**FAST, "calibration_days": 14}).fit(window)
    holdout = model._calibration
    # The last 21 daily origins, forecast by a model that never saw their targets.
    assert holdout.origins[-1] == end - pd.Timedelta(days=1)
    assert len(holdout.origins) == CALIBRATION_HOLDOUT_DAYS
    assert holdout.points.datetime_utc.min() == holdout.origins[0] + pd.Timedelta(hours=1)
    # p90 / p10 per band of 6 lead times: the conformal ranks of the last 14 origins' log errors.
    recent = holdout.points[holdout.points.forecast_origin >= holdout.origins[-14]]
    for first in (1, 7, 13, 19):
        band = recent[recent.horizon_hours.between(first, first + 5)]
        rel = np.sort(np.log(band.actual / band.prediction))
        n = len(rel)
        expected = [rel[int(np.floor(0.1 * (n + 1))) - 1], rel[int(np.ceil(0.9 * (n + 1))) - 1]]
        for h in range(first, first + 6):
            assert model.interval_quantiles[str(h)] == pytest.approx(expected)
    # Off, the fit keeps its in-sample / holdout mix: narrower on these years of one series.
    plain = GlobalLGBMForecaster({**FAST, "calibration_days": 0}).fit(window)
    assert plain._calibration is None
    width = {
        m: m.interval_quantiles["12"][1] - m.interval_quantiles["12"][0] for m in (model, plain)
    }
    assert width[plain] < width[model]


def test_a_short_window_keeps_the_fits_own_band(model):
    # 20 days of training: a 21-day holdout would be most of it (docs/decisions/0011).
    assert model._calibration is None
