"""The model-input contract (contracts.MODEL_INPUTS) and its one builder (features/model_inputs)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import energy_assets
from energy_assets.contracts import (
    CALENDAR_COLUMNS,
    FEATURES,
    FORECASTS,
    MODEL_INPUT_NAMES,
    MODEL_INPUTS,
    OFF_DAY,
    WEATHER_INPUTS,
    YEAR_END_BREAK,
    ModelInput,
    SameHourLag,
)
from energy_assets.devtools import SAMPLE_DATA_PATH
from energy_assets.features.calendar import calendar_features, day_kinds
from energy_assets.features.engineering import read_consumption_file
from energy_assets.features.model_inputs import (
    SeriesGrid,
    build_model_inputs,
    model_input_frame,
)
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35
from energy_assets.training.weather_features import WEATHER_FEATURES

PACKAGE = Path(energy_assets.__file__).parent
ORIGIN = pd.Timestamp("2023-01-10T22:00", tz="UTC")


@pytest.fixture(scope="module")
def consumption():
    frame = read_consumption_file(str(SAMPLE_DATA_PATH), DE35)
    # 20 days up to the origin: more than the 14 days + 24 h the inputs read.
    return frame[frame.datetime_utc > ORIGIN - pd.Timedelta(days=20)].reset_index(drop=True)


def _all_rows(grid: SeriesGrid, origin: pd.Timestamp, horizon: int = 24):
    s, h = np.meshgrid(np.arange(len(grid.series)), np.arange(1, horizon + 1), indexing="ij")
    s, h = s.ravel(), h.ravel()
    return s, np.full(s.shape, grid.index_of(origin)), h


def test_each_model_input_name_is_written_once_in_the_package():
    # Inputs that ARE a column of another contract table keep that column's name (declared
    # there): the target hour's calendar (FEATURES, computed by features/calendar.py) and
    # horizon_hours (FORECASTS). Every other name, the year-end break's and the off day's
    # included, is spelled exactly once in the package: in contracts.py.
    sources = {p: p.read_text() for p in PACKAGE.rglob("*.py")}
    table_columns = {*FEATURES.names, *FORECASTS.names}
    shared = [name for name in MODEL_INPUT_NAMES if name in table_columns]
    assert shared == ["horizon_hours", *(c for c in CALENDAR_COLUMNS if c != "day_of_year")]
    own = [name for name in MODEL_INPUT_NAMES if name not in table_columns]
    assert len(own) == len(MODEL_INPUTS) - 7 and YEAR_END_BREAK in own
    for name in [*own, OFF_DAY]:
        pattern = re.compile(rf"\b{re.escape(name)}\b")
        hits = [(p.relative_to(PACKAGE), len(pattern.findall(s))) for p, s in sources.items()]
        hits = [(p, n) for p, n in hits if n]
        assert hits == [(Path("contracts.py"), 1)], f"{name!r} is written in {hits}"
    assert len(set(MODEL_INPUT_NAMES)) == len(MODEL_INPUT_NAMES)


def test_model_inputs_are_not_the_kwh_columns_of_consumption_features():
    # Only the calendar of the target hour is shared (computed by the same calendar_features).
    shared = set(MODEL_INPUT_NAMES) & set(FEATURES.names)
    assert shared == {c for c in CALENDAR_COLUMNS if c != "day_of_year"}


def test_weather_inputs_are_named_by_the_contract():
    assert WEATHER_FEATURES == tuple(spec.name for spec in WEATHER_INPUTS)
    assert not set(WEATHER_FEATURES) & set(MODEL_INPUT_NAMES)
    # Built from their kinds (training/weather_features.py), so each name is written once too.
    sources = {p: p.read_text() for p in PACKAGE.rglob("*.py")}
    for name in WEATHER_FEATURES:
        pattern = re.compile(rf"\b{re.escape(name)}\b")
        hits = [(p.relative_to(PACKAGE), len(pattern.findall(s))) for p, s in sources.items()]
        assert [(p, n) for p, n in hits if n] == [(Path("contracts.py"), 1)], name


def test_builder_builds_exactly_the_declared_inputs_in_order(consumption):
    grid = SeriesGrid(consumption, extra_hours=24)
    s, o, h = _all_rows(grid, ORIGIN)
    columns, level = build_model_inputs(grid, s, o, h)
    assert list(columns) == list(MODEL_INPUT_NAMES)
    assert all(len(v) == len(s) for v in columns.values()) and len(level) == len(s)
    # Every input has values for these 76 series with three weeks of history.
    for name, values in columns.items():
        assert np.isfinite(values.astype(float)).all(), name

    twice = (*MODEL_INPUTS, ModelInput(MODEL_INPUTS[-1].name, "again", SameHourLag(3, True)))
    with pytest.raises(ValueError, match="declared"):
        build_model_inputs(grid, s, o, h, twice)

    @dataclass(frozen=True)
    class Unknown:
        pass

    with pytest.raises(TypeError, match="no builder"):
        build_model_inputs(grid, s, o, h, (ModelInput("x", "?", Unknown()),))  # type: ignore[arg-type]


def test_inputs_match_a_hand_computation_for_one_series(consumption):
    grid = SeriesGrid(consumption, extra_hours=24)
    s, o, h = _all_rows(grid, ORIGIN)
    columns, level = build_model_inputs(grid, s, o, h)
    series = grid.series.index(("DK1", "111"))
    y = consumption[(consumption.area == "DK1") & (consumption.segment == "111")]
    y = y.set_index("datetime_utc")["energy_consumption"]
    row = np.flatnonzero((s == series) & (h == 5))[0]  # target = origin + 5 h
    hour = pd.Timedelta(hours=1)
    target = ORIGIN + 5 * hour
    expected_level = y[ORIGIN - 23 * hour : ORIGIN].mean()
    assert level[row] == pytest.approx(expected_level, rel=1e-12)

    def ratio(name):
        return np.exp(columns[name][row])

    assert ratio("ratio_origin") == pytest.approx(y[ORIGIN] / expected_level, rel=1e-12)
    same_hour = {d: y[target - pd.Timedelta(days=d)] for d in (1, 2, 7, 14)}
    assert ratio("ratio_same_hour_1d") == pytest.approx(same_hour[1] / expected_level, rel=1e-12)
    assert ratio("ratio_same_hour_2d") == pytest.approx(same_hour[2] / expected_level, rel=1e-12)
    assert ratio("ratio_same_hour_7d") == pytest.approx(same_hour[7] / expected_level, rel=1e-12)
    assert ratio("ratio_same_hour_14d") == pytest.approx(same_hour[14] / expected_level, rel=1e-12)
    week = [y[target - pd.Timedelta(days=d)] for d in range(1, 8)]
    assert ratio("ratio_profile_7d") == pytest.approx(np.mean(week) / expected_level, rel=1e-12)
    assert ratio("ratio_mean_168h") == pytest.approx(
        y[ORIGIN - 167 * hour : ORIGIN].mean() / expected_level, rel=1e-9
    )
    assert columns["ratio_std_24h"][row] == pytest.approx(
        y[ORIGIN - 23 * hour : ORIGIN].std(ddof=0) / expected_level, rel=1e-6
    )
    week_ago = ORIGIN - pd.Timedelta(days=7)
    assert ratio("ratio_anchor_7d") == pytest.approx(
        y[ORIGIN] * same_hour[7] / y[week_ago] / expected_level, rel=1e-12
    )
    assert columns["horizon_hours"][row] == 5
    assert columns["log_level"][row] == pytest.approx(np.log(expected_level), rel=1e-12)


def test_inputs_read_nothing_after_the_origin(consumption):
    history = consumption[consumption.datetime_utc <= ORIGIN]
    poisoned = consumption.copy()
    poisoned.loc[poisoned.datetime_utc > ORIGIN, "energy_consumption"] = 1e9
    built = []
    for frame in (history, poisoned):
        grid = SeriesGrid(frame, extra_hours=24)
        built.append(build_model_inputs(grid, *_all_rows(grid, ORIGIN)))
    (clean, clean_level), (dirty, dirty_level) = built
    np.testing.assert_array_equal(clean_level, dirty_level)
    for name in MODEL_INPUT_NAMES:
        np.testing.assert_array_equal(clean[name], dirty[name], err_msg=name)


def test_model_input_frame_has_keys_and_one_row_per_series_origin_horizon(consumption):
    origins = pd.date_range(ORIGIN - pd.Timedelta(hours=2), ORIGIN, freq="h")
    frame = model_input_frame(consumption, origins)
    assert len(frame) == 76 * 3 * 24
    assert list(frame.columns[:4]) == ["area", "segment", "forecast_origin", "datetime_utc"]
    assert list(frame.columns[4:]) == list(MODEL_INPUT_NAMES)
    assert (
        frame.datetime_utc - frame.forecast_origin == frame.horizon_hours * pd.Timedelta(hours=1)
    ).all()


def test_day_kinds_mark_the_year_end_break_and_off_days():
    hours = pd.DatetimeIndex(
        pd.to_datetime(
            ["2023-12-22 12:00", "2023-12-27 12:00", "2024-01-01 12:00", "2024-01-02 12:00",
             "2024-01-06 12:00"],
            utc=True,
        )
    )  # fmt: skip
    kinds = day_kinds(hours, calendar_features(hours))
    assert kinds[YEAR_END_BREAK].tolist() == [False, True, True, False, False]
    assert kinds[OFF_DAY].tolist() == [False, True, True, False, True]  # 6 Jan 2024: Saturday
