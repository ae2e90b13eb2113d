"""The forecaster with weather: the evidence rule, fallback when weather is missing, no
look-ahead, persistence. On the real DE35 slice with DMI's real national weather."""

import numpy as np
import pandas as pd
import pytest

from energy_assets.contracts import WEATHER_LEAD_HOURS
from energy_assets.devtools import SAMPLE_DATA_PATH, WEATHER_SAMPLE_PATH
from energy_assets.features.engineering import read_consumption_file
from energy_assets.ingestion.weather_files import issue_table, read_weather_file
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35
from energy_assets.training import weather_features as wf
from energy_assets.training.forecaster import GlobalLGBMForecaster

FAST = {"num_boost_round": 30, "max_train_rows": 20_000}
CUTOFF = pd.Timestamp("2023-01-10T22:00", tz="UTC")
ORIGINS = [CUTOFF + pd.Timedelta(days=i) for i in range(3)]


@pytest.fixture(scope="module")
def consumption():
    frame = read_consumption_file(str(SAMPLE_DATA_PATH), DE35)
    return frame[frame["area"] == "DK1"].reset_index(drop=True)  # 38 series: fast


@pytest.fixture(scope="module")
def weather():
    return read_weather_file(WEATHER_SAMPLE_PATH)


@pytest.fixture(scope="module")
def served(consumption, weather):
    """A forecaster whose rule is loosened so its weather model serves (the slice is short)."""
    mp = pytest.MonkeyPatch()
    mp.setattr(wf, "WEATHER_MIN_HISTORY_DAYS", 5)
    mp.setattr(wf, "WEATHER_MIN_GAIN", -10.0)  # any holdout result counts as a win
    try:
        model = GlobalLGBMForecaster(FAST).fit(
            consumption[consumption.datetime_utc <= CUTOFF], weather
        )
    finally:
        mp.undo()
    assert model.weather_model is not None, model.weather_decision
    return model


def test_on_the_27_day_slice_the_rule_keeps_the_no_weather_model(consumption, weather):
    train = consumption[consumption.datetime_utc <= CUTOFF]
    model = GlobalLGBMForecaster(FAST).fit(train, weather)
    assert model.weather_model is None
    assert model.weather_decision["weather_used"] is False
    assert "days of weather" in model.weather_decision["reason"]
    plain = GlobalLGBMForecaster(FAST).fit(train)
    got = model.predict(consumption, ORIGINS, weather)
    pd.testing.assert_frame_equal(got, plain.predict(consumption, ORIGINS))
    assert got.attrs["weather"]["weather_used"] is False


def test_the_weather_model_serves_when_weather_is_complete(served, consumption, weather):
    got = served.predict(consumption, ORIGINS, weather)
    plain = served._predict_one_model(consumption, ORIGINS)
    assert got.attrs["weather"] == {"weather_used": True, "origins_with_weather": 3}
    assert not np.allclose(got["prediction"], plain["prediction"])
    assert {f for f in wf.WEATHER_FEATURES} <= set(served.weather_model.feature_names)


def test_the_served_weather_forecast_is_the_bag_mean_mixed_with_the_no_weather_one(
    served, consumption, weather
):
    weather_model = served.weather_model
    assert 1 + len(weather_model.bag_boosters) == wf.WEATHER_BAG > 1
    assert served.weather_mix == wf.WEATHER_MIX < 1
    got = served.predict(consumption, ORIGINS, weather)
    plain = served._predict_one_model(consumption, ORIGINS)
    alone = weather_model._predict_one_model(consumption, ORIGINS, weather)
    mixed = wf.WEATHER_MIX * alone["prediction"] + (1 - wf.WEATHER_MIX) * plain["prediction"]
    np.testing.assert_allclose(got["prediction"], mixed)
    np.testing.assert_allclose(got["prediction_upper"], got["p90"])
    # Its band is the mix's own, calibrated on the mix's holdout errors (docs/decisions/0011).
    from energy_assets.training import intervals

    band = intervals.quantile_forecasts(
        got["prediction"].to_numpy(),
        weather_model.interval_quantiles,
        got["horizon_hours"].to_numpy(),
        served.horizon_hours,
    )
    np.testing.assert_allclose(got["p10"], band["p10"])
    np.testing.assert_allclose(got["p90"], band["p90"])
    assert weather_model.interval_quantiles != served.interval_quantiles
    # The bag's members differ (own rows, own seed): the mean is not one booster repeated.
    trees = {b.model_to_string() for b in [weather_model.booster, *weather_model.bag_boosters]}
    assert len(trees) == wf.WEATHER_BAG


def test_mix_forecasts_in_numbers():
    key = {
        "forecast_origin": [CUTOFF] * 2,
        "area": ["DK1"] * 2,
        "segment": ["a", "b"],
        "horizon_hours": [1, 1],
    }
    w = pd.DataFrame({**key, "prediction": [100.0, 10.0], "p10": [90.0, 9.0], "p90": [110.0, 11.0]})
    w["prediction_lower"], w["prediction_upper"], w["p50"] = w["p10"], w["p90"], w["prediction"]
    p = pd.DataFrame({**key, "prediction": [200.0, np.nan], "p10": [180.0, np.nan]})
    p["p50"], p["p90"] = p["prediction"], p["prediction"] * 1.1
    out = wf.mix_forecasts(w, p, 0.75)
    assert out["prediction"].tolist() == [125.0, 10.0]  # no plain value: the weather one stays
    assert out["prediction_lower"].tolist() == [112.5, 9.0]
    assert wf.mix_forecasts(w, p, 1.0) is w


def test_every_tried_feature_reads_nothing_after_the_origin(weather):
    start = CUTOFF - pd.Timedelta(days=10)
    n_hours = 15 * 24
    o = np.full(24, 10 * 24)
    h = np.arange(1, 25)
    s = np.zeros(24, dtype=np.int64)
    later = weather.copy()
    after = later.datetime_utc > start + pd.Timedelta(hours=10 * 24)
    later.loc[after, "temperature_c"] += 15
    later.loc[after, "wind_speed_ms"] += 5

    def build(frame):
        arrays = wf.WeatherArrays(
            wf.WeatherInput.from_frame(frame, "persistence"), start, n_hours, ["DK1"]
        )
        return wf.all_weather_columns(arrays, s, o, h)

    got, again = build(weather), build(later)
    assert set(wf.WEATHER_FEATURES) < set(got)
    for name, values in got.items():
        assert np.isfinite(values).all(), name
        np.testing.assert_array_equal(values, again[name], err_msg=name)
    with pytest.raises(ValueError, match="unknown weather feature"):
        wf.all_weather_columns(
            wf.WeatherArrays(wf.WeatherInput.from_frame(weather), start, n_hours, ["DK1"]),
            s, o, h, ("temp_tomorrow",),
        )  # fmt: skip


def test_a_weather_outage_never_stops_the_forecast(served, consumption, weather):
    plain = served._predict_one_model(consumption, ORIGINS)
    # No weather at all: every origin from the no-weather model, and it says so.
    none = served.predict(consumption, ORIGINS, None)
    pd.testing.assert_frame_equal(none, plain)
    assert none.attrs["weather"]["weather_used"] is False
    assert "no weather" in none.attrs["weather"]["reason"]
    # One hour missing after the second origin: it and the third origin (whose last 24 observed
    # hours hold the gap) fall back, the first keeps its weather.
    hole = ORIGINS[1] + pd.Timedelta(hours=5)
    partial = served.predict(consumption, ORIGINS, weather[weather.datetime_utc != hole])
    later = partial[partial.forecast_origin > ORIGINS[0]].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        later, plain[plain.forecast_origin > ORIGINS[0]].reset_index(drop=True)
    )
    first = partial[partial.forecast_origin == ORIGINS[0]]
    assert not np.allclose(
        first["prediction"], plain[plain.forecast_origin == ORIGINS[0]]["prediction"]
    )
    status = partial.attrs["weather"]
    assert status["weather_used"] is True and status["origins_with_weather"] == 1
    assert "2 origin(s) (2023-01-11T22:00Z, 2023-01-12T22:00Z)" in status["reason"]
    assert "weather (temperature_c, wind_speed_ms) missing" in status["reason"]  # the whole hour
    assert "no-weather model" in status["reason"]


def test_an_origin_missing_an_hour_of_the_day_before_its_last_24_falls_back(
    served, consumption, weather
):
    # temp_path_change_1d reads the observed 24 h before the last 24 (contracts.
    # WEATHER_LOOKBACK_HOURS = 48): a gap 30 h before the first origin takes its weather away.
    hole = ORIGINS[0] - pd.Timedelta(hours=30)
    partial = served.predict(consumption, ORIGINS, weather[weather.datetime_utc != hole])
    status = partial.attrs["weather"]
    assert status["origins_with_weather"] == len(ORIGINS) - 1
    assert f"1 origin(s) ({ORIGINS[0]:%Y-%m-%dT%H:%MZ})" in status["reason"]


def test_an_origin_missing_an_hour_of_wind_falls_back(served, consumption, weather):
    # The weather model reads wind (wind_path_*, heat_loss_path_*): an hour of the coming day
    # without wind, its temperature there, sends that origin to the no-weather model.
    # (heat_loss is derived from both: complete wherever they are.)
    assert wf.variables_used(served.weather_model.feature_names) == (
        "temperature_c",
        "wind_speed_ms",
    )
    calm = weather.copy()
    calm.loc[calm.datetime_utc == ORIGINS[2] + pd.Timedelta(hours=3), "wind_speed_ms"] = np.nan
    status = served.predict(consumption, ORIGINS, calm).attrs["weather"]
    assert status["origins_with_weather"] == len(ORIGINS) - 1
    assert f"1 origin(s) ({ORIGINS[2]:%Y-%m-%dT%H:%MZ})" in status["reason"]
    assert "weather (wind_speed_ms) missing" in status["reason"]  # it names what is missing


def test_heat_loss_in_numbers():
    got = wf.heat_loss(np.array([20.0, 8.0, -2.0, 2.0]), np.array([9.0, 4.0, 0.0, 9.0]))
    np.testing.assert_allclose(got, [0.0, 20.0, 0.0, 48.0])  # (18 - t)+ x sqrt(wind)


def test_a_weather_source_without_wind_serves_on_temperature_alone(consumption, weather):
    # A temperature-only file (a --weather FILE without wind): the weather model leaves the wind
    # inputs out instead of waiting for wind that never comes.
    mp = pytest.MonkeyPatch()
    mp.setattr(wf, "WEATHER_MIN_HISTORY_DAYS", 5)
    mp.setattr(wf, "WEATHER_MIN_GAIN", -10.0)
    temperature_only = weather[["datetime_utc", "area", "temperature_c"]]
    try:
        model = GlobalLGBMForecaster(FAST).fit(
            consumption[consumption.datetime_utc <= CUTOFF], temperature_only
        )
    finally:
        mp.undo()
    names = model.weather_model.feature_names
    assert "temp_path_change" in names
    assert not {"wind_path_mean", "heat_loss_path_mean"} & set(names)
    got = model.predict(consumption, ORIGINS, temperature_only)
    assert got.attrs["weather"]["origins_with_weather"] == len(ORIGINS)
    # Given wind as well (a model saved with the temperature inputs only, as before wind), it
    # reads what it was trained on and forecasts the same.
    pd.testing.assert_frame_equal(model.predict(consumption, ORIGINS, weather), got)


def test_a_simulated_forecast_is_the_observation_plus_an_error_growing_with_the_lead(weather):
    origins = pd.date_range("2023-02-01", periods=400, freq="h", tz="UTC")
    simulated = wf.simulated_forecast(wf.WeatherInput.from_frame(weather), origins, seed=3)
    assert simulated.mode == "issued"
    table = simulated.issues.merge(
        weather[["datetime_utc", "area", "temperature_c", "wind_speed_ms"]],
        on=["datetime_utc", "area"],
        suffixes=("", "_observed"),
    )
    assert len(table) == 400 * (WEATHER_LEAD_HOURS + 1)
    for variable, (first, last) in wf.SIMULATED_ERROR_SD.items():
        error = table[variable] - table[f"{variable}_observed"]
        spread = error.groupby(table["lead_hours"]).std()
        assert spread[0] == 0  # lead 0 is what was observed
        assert first * 0.7 < spread[1] < first * 1.3, variable
        assert last * 0.8 < spread[24] < last * 1.2, variable
        # Beyond 24 h the line goes on at its slope: at 48 h first + 47 steps of (last-first)/23.
        at_48 = first + (last - first) * 47 / 23
        assert at_48 * 0.8 < spread[48] < at_48 * 1.2, variable
    assert (table["wind_speed_ms"] >= 0).all()


def test_the_stored_leads_past_24_leave_the_simulated_day_and_the_model_arrays_as_they_were(
    weather, monkeypatch
):
    # WEATHER_LEAD_HOURS went 24 -> 48 for the products; the weather model's inputs at leads
    # 1..24 (the simulated forecast's draws, WeatherArrays) must be exactly what 24 gave.
    from energy_assets.ingestion import weather_files

    given = wf.WeatherInput.from_frame(weather)
    origins = pd.date_range("2023-02-01", periods=30, freq="7h", tz="UTC")
    longer = wf.simulated_forecast(given, origins, seed=5)
    monkeypatch.setattr(wf, "WEATHER_LEAD_HOURS", 24)
    monkeypatch.setattr(weather_files, "WEATHER_LEAD_HOURS", 24)
    shorter = wf.simulated_forecast(given, origins, seed=5)
    day = longer.issues[longer.issues["lead_hours"] <= 24].reset_index(drop=True)
    pd.testing.assert_frame_equal(day, shorter.issues)
    start = origins[0] - pd.Timedelta(days=1)
    arrays = [wf.WeatherArrays(s, start, 24 * 14, ["DK1"]) for s in (longer, shorter)]
    for variable in arrays[1].issued or {}:
        np.testing.assert_array_equal(arrays[0].issued[variable], arrays[1].issued[variable])


def test_issued_forecasts_are_read_at_the_origin_only(served, consumption, weather):
    issues = issue_table(
        weather, ORIGINS[0] - pd.Timedelta(days=8), ORIGINS[0] + pd.Timedelta(hours=1)
    )
    got = served.predict(consumption, [ORIGINS[0]], issues)
    # Changing what is observed after the origin (later issues' lead 0) changes nothing.
    later = issues["issued_utc"] > ORIGINS[0]
    changed = issues.copy()
    changed.loc[later, "temperature_c"] += 10
    changed.loc[later, "wind_speed_ms"] += 4
    again = served.predict(consumption, [ORIGINS[0]], changed)
    pd.testing.assert_frame_equal(got, again)
    assert got.attrs["weather"]["weather_used"] is True


def test_persistence_reads_nothing_after_the_origin(served, consumption, weather):
    persistence = wf.WeatherInput.from_frame(weather, "persistence")
    got = served.predict(consumption, [ORIGINS[0]], persistence)
    future = weather.copy()
    future.loc[future.datetime_utc > ORIGINS[0], "temperature_c"] = -40.0
    future.loc[future.datetime_utc > ORIGINS[0], "wind_speed_ms"] = 30.0
    again = served.predict(
        consumption, [ORIGINS[0]], wf.WeatherInput.from_frame(future, "persistence")
    )
    pd.testing.assert_frame_equal(got, again)


def test_save_and_load_keep_the_weather_model_and_decision(served, consumption, weather, tmp_path):
    loaded = GlobalLGBMForecaster.load(served.save(tmp_path / "m"))
    assert loaded.weather_decision == served.weather_decision
    pd.testing.assert_frame_equal(
        loaded.predict(consumption, ORIGINS, weather), served.predict(consumption, ORIGINS, weather)
    )


def test_a_model_saved_before_the_mix_serves_its_weather_model_alone(
    served, consumption, weather, tmp_path
):
    import json

    path = served.save(tmp_path / "old")
    meta = json.loads((path / "metadata.json").read_text())
    del meta["weather_mix"]  # as written before the mix existed
    (path / "metadata.json").write_text(json.dumps(meta))
    old = GlobalLGBMForecaster.load(path)
    assert old.weather_mix == 1.0
    got = old.predict(consumption, ORIGINS, weather)
    alone = served.weather_model._predict_one_model(consumption, ORIGINS, weather)
    np.testing.assert_allclose(got["prediction"], alone["prediction"])


def test_the_rule_in_numbers():
    short = wf.decide(200, 0.03, 0.02)
    assert short["weather_used"] is False and "200 days" in short["reason"]
    assert wf.decide(400, 0.03, 0.0296)["weather_used"] is True
    assert wf.decide(400, 0.03, 0.0298)["weather_used"] is False  # < 1 % gain
    assert wf.decide(400, None, None)["weather_used"] is False
