"""The fallback forecast on the real DE35 slice: its values recomputed from their definition,
and why each series the model cannot serve falls back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy_assets.features.engineering import read_consumption_file
from energy_assets.forecasting import fallback
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35

ORIGIN = pd.Timestamp("2023-01-12 05:00", tz="UTC")


@pytest.fixture(scope="module")
def clean(shared_slice_path) -> pd.DataFrame:
    return read_consumption_file(str(shared_slice_path), DE35)


def test_the_fallback_is_last_weeks_hours_at_the_latest_level(clean):
    series = tuple(clean[["area", "segment"]].iloc[0])
    rows = fallback.fallback_forecasts(clean, [series], [ORIGIN], reasons="because")
    assert len(rows) == 24 and set(rows["quality"]) == {"fallback"}
    assert set(rows["quality_reason"]) == {"because"}
    one = clean[(clean["area"] == series[0]) & (clean["segment"] == series[1])]
    y = one.set_index("datetime_utc")["energy_consumption"]
    hour = pd.Timedelta(hours=1)

    def profile(t):
        return np.mean([y[t - 168 * hour], y[t - 336 * hour]])

    last_day = [ORIGIN - k * hour for k in range(24)]
    level = sum(y[t] for t in last_day) / sum(profile(t) for t in last_day)
    level = min(max(level, 0.5), 2.0)
    expected = [profile(ORIGIN + h * hour) * level for h in range(1, 25)]
    np.testing.assert_allclose(rows["prediction"], expected, rtol=1e-12)

    # The band: this series' own fallback error, backtested by forecasting from the same hour of
    # each earlier day with the history cut there (at least 8 days of it), 10 / 90 % split-
    # conformal ranks of log(actual / forecast).
    errors = []
    for k in range(1, fallback.BAND_ORIGINS + 1):
        at = ORIGIN - k * 24 * hour
        if (at - y.index.min()) / hour + 1 < fallback.BAND_MIN_HISTORY_HOURS:
            break
        past = fallback.fallback_forecasts(one[one["datetime_utc"] <= at], [series], [at])
        errors.extend(np.log(y[past["datetime_utc"]].to_numpy() / past["prediction"].to_numpy()))
    errors = np.sort(errors)
    n = len(errors)
    assert n >= fallback.BAND_MIN_POINTS
    q10, q90 = errors[int(np.floor(0.1 * (n + 1))) - 1], errors[int(np.ceil(0.9 * (n + 1))) - 1]
    assert (q10, q90) != fallback.FALLBACK_LOG_QUANTILES["fresh"]
    np.testing.assert_allclose(rows["p10"], rows["prediction"] * np.exp(q10), rtol=1e-12)
    np.testing.assert_allclose(rows["p90"], rows["prediction"] * np.exp(q90), rtol=1e-12)

    # Too little history for its own band (a new series): the default band.
    recent = one[one["datetime_utc"] > ORIGIN - 9 * 24 * hour]
    new = fallback.fallback_forecasts(recent, [series], [ORIGIN])
    q10, q90 = fallback.FALLBACK_LOG_QUANTILES["fresh"]
    np.testing.assert_allclose(new["p10"], new["prediction"] * np.exp(q10))
    np.testing.assert_allclose(new["p90"], new["prediction"] * np.exp(q90))


def test_each_series_the_model_cannot_serve_is_named_with_why(clean):
    keys = clean[["area", "segment"]].drop_duplicates().head(4).itertuples(index=False)
    stale, new, gapped, fine = [tuple(k) for k in keys]

    frame = clean[clean["datetime_utc"] <= ORIGIN].reset_index(drop=True)
    series = pd.Series(list(zip(frame["area"], frame["segment"], strict=True)))
    hours_before = (ORIGIN - frame["datetime_utc"]) / pd.Timedelta(hours=1)
    drop = (
        ((series == stale) & (hours_before < 48))
        | ((series == new) & (hours_before > 29))
        | ((series == gapped) & (hours_before >= 50) & (hours_before < 60))
        | ~series.isin([stale, new, gapped, fine])
    )
    frame = frame[~drop.to_numpy()]
    reasons = fallback.model_servable(frame, [ORIGIN], 8 * 24)
    assert reasons[(stale, ORIGIN)] == "no recent data: the newest value is 2023-01-10T05:00Z"
    assert reasons[(new, ORIGIN)] == fallback.new_series(30, 8 * 24)
    assert reasons[(gapped, ORIGIN)].startswith("model failed for it: a gap longer than 6 h")
    assert (fine, ORIGIN) not in reasons

    served = []

    def predict(history, origins):  # a stand-in model: the series it is given, at 1.0
        served.append(set(map(tuple, history[["area", "segment"]].drop_duplicates().to_numpy())))
        rows = fallback.fallback_forecasts(history, served[-1], origins)
        return rows.assign(prediction=1.0, model_used="lightgbm").drop(
            columns=["quality", "quality_reason"]
        )

    missing = ("DK1", "never seen")
    expected = [missing, stale, new, gapped, fine]
    out = fallback.complete_forecasts(frame, expected, [ORIGIN], predict)
    assert served == [{fine}]  # the model reads only the series it serves
    by_series = out.groupby(["area", "segment"])["quality"].agg(set).to_dict()
    assert by_series == {
        fine: {"model"},
        stale: {"fallback"},
        new: {"fallback"},
        gapped: {"fallback"},
    }
    assert len(out) == 4 * 24
    assert out.attrs["unforecastable"] == [(missing, ORIGIN)]
    # Retired (no longer expected): no fallback where it has no recent data.
    retired = fallback.complete_forecasts(frame, [new, gapped, fine], [ORIGIN], predict)
    assert stale not in set(map(tuple, retired[["area", "segment"]].to_numpy()))
    assert out.attrs["fallbacks"] == {
        "model failed for it": 1,
        "new series without history": 1,
        "no recent data": 1,
    }
