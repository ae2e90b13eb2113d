"""The plausibility rule (contracts.PLAUSIBILITY, features.plausibility) on the real DE35 slice
and on generated series: a meter error is flagged, real days (Christmas, New Year, the return to
work on 2 January) are not, and a flagged value never feeds a lag or a rolling statistic: its
estimate does."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_assets.contracts import PLAUSIBILITY
from energy_assets.devtools import SAMPLE_DATA_PATH
from energy_assets.features.engineering import build_features, read_consumption_file
from energy_assets.features.plausibility import (
    ESTIMATE_COLUMN,
    judge_values,
    with_estimates,
    without_implausible,
)
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35

BAD_HOUR = pd.Timestamp("2023-01-10 12:00", tz="UTC")
HOUR = pd.Timedelta(hours=1)


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    return read_consumption_file(SAMPLE_DATA_PATH, DE35)


def _at(frame: pd.DataFrame, hour: pd.Timestamp, area: str, segment: str) -> pd.Series:
    return (frame.datetime_utc == hour) & (frame.area == area) & (frame.segment == segment)


def corrupted(clean: pd.DataFrame) -> pd.DataFrame:
    """The slice with a 100x value in DK1/441 and a zero in DK1/999 (the largest series)."""
    frame = clean.copy()
    frame.loc[_at(frame, BAD_HOUR, "DK1", "441"), "energy_consumption"] *= 100
    frame.loc[_at(frame, BAD_HOUR + HOUR, "DK1", "999"), "energy_consumption"] = 0.0
    return frame


def test_the_real_slice_has_no_implausible_value(clean):
    # 27 days of 76 series with Christmas, New Year and 2 January: nothing is flagged (the
    # nearest real hour is 4.6x outside its series' range; the rule needs 10x).
    verdict = judge_values(clean)
    assert not verdict["implausible"].any(), clean[verdict["implausible"]]
    # Every row with two days of history behind it is judged.
    judged = verdict["recent_high"].notna()
    assert judged[clean.datetime_utc >= clean.datetime_utc.min() + 2 * 24 * HOUR].all()


def test_a_100x_value_and_a_zero_in_the_largest_series_are_flagged_and_nothing_else(clean):
    frame = corrupted(clean)
    verdict = judge_values(frame)
    flagged = frame[verdict["implausible"]]
    assert sorted(zip(flagged.datetime_utc, flagged.area, flagged.segment, strict=True)) == [
        (BAD_HOUR, "DK1", "441"),
        (BAD_HOUR + HOUR, "DK1", "999"),
    ]
    # The reported range is the series' own recent one, which the normal value lies in.
    row = verdict[_at(frame, BAD_HOUR, "DK1", "441")].iloc[0]
    normal = clean.loc[_at(clean, BAD_HOUR, "DK1", "441"), "energy_consumption"].iloc[0]
    assert row.recent_low <= normal <= row.recent_high


def test_a_flagged_value_feeds_its_estimate_not_itself_to_lags_and_rolling_statistics(clean):
    frame = corrupted(clean)
    start, end = BAD_HOUR + HOUR, BAD_HOUR + 25 * HOUR
    history = frame[frame.datetime_utc >= start - 168 * HOUR]
    features = build_features(history, start, end)
    # (Two hours more than a partition reads, so that last week's step is in reach.)
    own = build_features(frame[frame.datetime_utc >= BAD_HOUR - 170 * HOUR], BAD_HOUR, start)
    flagged_row = own.loc[_at(own, BAD_HOUR, "DK1", "441")].iloc[0]
    assert flagged_row[PLAUSIBILITY.flag_column]
    # The flagged row records its estimate: the hour before, moved as last week moved.
    y = clean.set_index(["area", "segment", "datetime_utc"])["energy_consumption"]
    series = y.xs(("DK1", "441"), level=["area", "segment"])
    step = series[BAD_HOUR - 168 * HOUR] / series[BAD_HOUR - 169 * HOUR]
    expected = series[BAD_HOUR - HOUR] * min(max(step, 0.5), 2.0)
    assert flagged_row[ESTIMATE_COLUMN] == pytest.approx(expected, rel=1e-9)
    # The next hours' lags read an estimate of it made from their own week of history (last
    # week's step may lie outside it: then the hour before as it is): not the 100x value, not a
    # hole, near the true value.
    series_441 = features[(features.area == "DK1") & (features.segment == "441")]
    true_value = series[BAD_HOUR]
    for lag in (1, 24):
        read = series_441.loc[series_441.datetime_utc == BAD_HOUR + lag * HOUR, f"lag_{lag}h"]
        assert 0.8 < read.iloc[0] / true_value < 1.25
    # The week's mean is near the clean one, not 100x pulled up.
    clean_features = build_features(clean[clean.datetime_utc >= start - 168 * HOUR], start, end)
    clean_441 = clean_features[(clean_features.area == "DK1") & (clean_features.segment == "441")]
    ratio = series_441["rolling_mean_168h"].to_numpy() / clean_441["rolling_mean_168h"].to_numpy()
    assert np.allclose(ratio, 1, atol=0.01), ratio
    # The zero in the 999 reaches the next hour's lag_1h as an estimate, not as 0.
    series_999 = features[(features.area == "DK1") & (features.segment == "999")]
    read = series_999.loc[series_999.datetime_utc == BAD_HOUR + 2 * HOUR, "lag_1h"].iloc[0]
    assert 0.8 < read / y.loc[("DK1", "999", BAD_HOUR + HOUR)] < 1.25
    assert series_999[PLAUSIBILITY.flag_column].sum() == 1


def test_forecast_inputs_read_the_estimate_training_reads_a_gap(clean):
    frame = corrupted(clean)
    features = build_features(frame, BAD_HOUR, BAD_HOUR + 2 * HOUR)
    flagged = features[PLAUSIBILITY.flag_column].to_numpy()
    assert flagged.sum() == 2
    inputs = with_estimates(features)
    assert inputs.loc[flagged, "energy_consumption"].equals(features.loc[flagged, ESTIMATE_COLUMN])
    assert without_implausible(features).loc[flagged, "energy_consumption"].isna().all()


def test_model_inputs_read_flagged_values_as_missing(clean):
    frame = corrupted(clean)
    flagged = judge_values(frame)["implausible"]
    inputs = without_implausible(frame.assign(**{PLAUSIBILITY.flag_column: flagged}))
    assert inputs["energy_consumption"].isna().sum() == 2
    assert inputs.loc[~flagged, "energy_consumption"].equals(
        frame.loc[~flagged, "energy_consumption"]
    )
    # Objects stored before the rule existed have no flag: read as they are.
    assert without_implausible(frame) is frame


# ------------------------------------------------------------------ properties on generated series


def _series(levels: list[float], noise: list[float]) -> pd.DataFrame:
    """One series: a daily cycle around a level that changes once a day, with noise."""
    hours = pd.date_range("2023-01-01", periods=len(noise), freq="h", tz="UTC")
    level = np.repeat(levels, 24)[: len(noise)]
    cycle = 1 + 0.4 * np.sin(2 * np.pi * np.arange(len(noise)) / 24)
    return pd.DataFrame(
        {
            "datetime_utc": hours,
            "area": "DK1",
            "segment": "111",
            "energy_consumption": level * cycle * (1 + np.asarray(noise)),
        }
    )


series_strategy = st.tuples(
    st.lists(st.floats(1e2, 1e5), min_size=10, max_size=10).map(
        # A day's level moves at most 30% from the day before: a cold snap, a holiday.
        lambda xs: list(np.cumprod([xs[0], *np.clip(np.asarray(xs[1:]) / xs[0], 0.7, 1.3)]))
    ),
    st.lists(st.floats(-0.2, 0.2), min_size=240, max_size=240),
)


@settings(max_examples=30, deadline=None)
@given(series_strategy, st.floats(1e-3, 1e3))
def test_verdicts_do_not_depend_on_the_unit(generated, scale):
    frame = _series(*generated)
    scaled = frame.assign(energy_consumption=frame.energy_consumption * scale)
    assert judge_values(frame)["implausible"].equals(judge_values(scaled)["implausible"])


@settings(max_examples=30, deadline=None)
@given(series_strategy)
def test_a_realistic_series_is_never_flagged(generated):
    assert not judge_values(_series(*generated))["implausible"].any()


@settings(max_examples=30, deadline=None)
@given(series_strategy, st.integers(48, 239), st.sampled_from([0.0, 1e-3, 1e3, 100.0]))
def test_an_error_after_two_days_is_flagged(generated, at, factor):
    frame = _series(*generated)
    week = frame.iloc[max(0, at - PLAUSIBILITY.window_hours) : at]["energy_consumption"]
    # 100x the week's largest value (or 1/1000 of its smallest, or a zero) is an error.
    value = {0.0: 0.0, 1e-3: week.min() * 1e-3, 1e3: week.max() * 1e3, 100.0: week.max() * 100}
    frame.loc[at, "energy_consumption"] = value[factor]
    verdict = judge_values(frame)["implausible"]
    assert verdict.iloc[at]
    assert verdict.sum() == 1
