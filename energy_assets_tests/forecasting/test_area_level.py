"""The daily level of the area totals on the real DK1 / DK2 file: it reads nothing after its
origin, it beats last week's same day on real winter days, and the area-total forecast's
next-day mean moves to the blend it is given."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy_assets.devtools import DATA_DIR
from energy_assets.features.realtime_load import read_total_load_file
from energy_assets.forecasting.area_backtest import issue_times
from energy_assets.forecasting.area_level import predict_daily_level
from energy_assets.forecasting.area_totals import (
    LoadHistory,
    ModelParams,
    day_ahead_targets,
    forecast_area_totals,
    newest_known_hour,
)

ENTSOE_FILE = DATA_DIR / "total_load_DK1_DK2_entsoe.csv.gz"
ISSUE = pd.Timestamp("2023-11-14T09:00Z")  # 10:00 in Copenhagen


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    frame = read_total_load_file(ENTSOE_FILE)
    keep = frame["datetime_utc"].between(
        pd.Timestamp("2023-08-15T00:00Z"), pd.Timestamp("2023-12-20T00:00Z")
    )
    return frame[keep].reset_index(drop=True)


def test_the_daily_level_reads_nothing_after_its_origin(table):
    origin = newest_known_hour(ISSUE)
    history = LoadHistory.from_table(table)
    honest = predict_daily_level(history.known_at(origin), ISSUE, origin)
    poisoned_table = table.copy()
    later = poisoned_table["datetime_utc"] > origin
    poisoned_table.loc[later, "total_load_mwh"] *= 50.0
    poisoned = predict_daily_level(
        LoadHistory.from_table(poisoned_table).known_at(origin), ISSUE, origin
    )
    assert honest is not None and poisoned is not None
    assert honest.mean == poisoned.mean
    # This morning's hours are read: changing the origin hour moves the level.
    moved_table = table.copy()
    moved_table.loc[moved_table["datetime_utc"] == origin, "total_load_mwh"] *= 1.5
    moved = predict_daily_level(LoadHistory.from_table(moved_table).known_at(origin), ISSUE, origin)
    assert moved is not None and moved.mean != honest.mean


def test_the_daily_level_beats_last_weeks_same_day_on_real_winter_days(table):
    history = LoadHistory.from_table(table)
    actual = table.pivot_table(index="datetime_utc", columns="area", values="total_load_mwh")
    ours, naive = [], []
    for issue in issue_times("2023-11-27", 10):
        origin = newest_known_hour(issue)
        level = predict_daily_level(history.known_at(origin), issue, origin)
        assert level is not None
        target = day_ahead_targets(issue)
        week_before = target - pd.Timedelta(days=7)
        for area, mean in level.mean.items():
            truth = actual[area].reindex(target).mean()
            ours.append(abs(mean / truth - 1))
            naive.append(abs(actual[area].reindex(week_before).mean() / truth - 1))
    assert np.mean(ours) < np.mean(naive)


def test_the_next_days_mean_moves_to_the_blend_it_is_given(table):
    fast = ModelParams(num_boost_round=30, training_days=45)
    history = LoadHistory.from_table(table)
    targets = day_ahead_targets(ISSUE)
    boosters = forecast_area_totals(
        history, ISSUE, targets, params=ModelParams(**{**fast.__dict__, "level_weight": 1.0})
    )
    ridge = forecast_area_totals(
        history,
        ISSUE,
        targets,
        params=ModelParams(**{**fast.__dict__, "level_weight": 0.0}),
        model=boosters.model,  # the same boosters: one fit
    )
    assert boosters.daily_level is None and ridge.daily_level is not None
    for area, mean in ridge.daily_level.mean.items():
        rows = ridge.table[ridge.table["area"] == area]
        assert rows["p50"].mean() == pytest.approx(mean, rel=1e-9)
        # The hourly shape is the boosters': only the level moved.
        shape = (
            rows["p50"].to_numpy()
            / boosters.table[boosters.table["area"] == area]["p50"].to_numpy()
        )
        assert np.allclose(shape, shape[0])
        assert (rows["p10"] <= rows["p50"]).all() and (rows["p50"] <= rows["p90"]).all()


def test_a_realistic_weather_forecast_keeps_the_observed_past_and_errs_after_the_origin():
    from energy_assets.forecasting.area_backtest import forecast_weather
    from energy_assets.ingestion.weather_files import read_weather_file

    observed = read_weather_file(DATA_DIR / "weather_dmi_national_hourly.csv.gz")
    origin = newest_known_hour(ISSUE)
    issued = forecast_weather(observed, origin, (1.25, 1.0), np.random.default_rng(0))
    times = pd.to_datetime(observed["datetime_utc"], utc=True)
    past, later = times <= origin, times > origin
    for column in ("temperature_c", "wind_speed_ms"):
        assert (issued.loc[past, column] == observed.loc[past, column]).all()
        error = (issued.loc[later, column] - observed.loc[later, column]).to_numpy()
        assert np.all(error != 0) or column == "wind_speed_ms"
    assert (issued["wind_speed_ms"] >= 0).all()
    # Mostly one error per Danish day: the day means' errors spread about the daily sd.
    local_day = times[later].dt.tz_convert("Europe/Copenhagen").dt.date
    daily = (
        (issued.loc[later, "temperature_c"] - observed.loc[later, "temperature_c"])
        .groupby(local_day.to_numpy())
        .mean()
    )
    assert 1.0 < daily.std() < 1.5
