"""Scoring forecasts against actuals: exact metrics, and clean degradation before publication."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from energy_assets.monitoring.accuracy import score_forecasts

ORIGIN = pd.Timestamp("2023-01-05T00:00", tz="UTC")
SERIES = [("DK1", "111"), ("DK2", "999")]


def _forecasts(horizons: int = 24) -> pd.DataFrame:
    rows = [
        {
            "area": area,
            "segment": segment,
            "forecast_origin": ORIGIN,
            "datetime_utc": ORIGIN + pd.Timedelta(hours=h),
            "horizon_hours": h,
            "prediction": 100.0,
            "model_version": "3",
        }
        for area, segment in SERIES
        for h in range(1, horizons + 1)
    ]
    return pd.DataFrame(rows)


def _actuals(forecasts: pd.DataFrame, values) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "datetime_utc": forecasts["datetime_utc"].to_numpy(),
            "area": forecasts["area"].to_numpy(),
            "segment": forecasts["segment"].to_numpy(),
            "energy_consumption": values,
        }
    )


def test_perfect_forecast_scores_zero():
    forecasts = _forecasts()
    result = score_forecasts(forecasts, _actuals(forecasts, forecasts["prediction"].to_numpy()))
    overall = dict(result.overall)
    # No p10 / p90 in these forecasts: the band cannot be scored.
    assert math.isnan(overall.pop("coverage")) and math.isnan(overall.pop("pinball"))
    assert overall == {
        "mape": 0.0,
        "wape": 0.0,
        "n_points": 48,
        "n_expected": 48,
        "scored_share": 1.0,
    }
    assert (result.per_series["mape"] == 0).all() and len(result.per_series) == 2
    assert result.per_horizon["horizon_hours"].tolist() == list(range(1, 25))


def test_known_errors_give_exact_mape_and_wape():
    forecasts = _forecasts(horizons=2)  # DK1/111 h1,h2 then DK2/999 h1,h2; prediction 100
    actuals = _actuals(forecasts, [80.0, 125.0, 200.0, 50.0])
    # |a-p|: 20, 25, 100, 50 ; |a-p|/|a|: 0.25, 0.2, 0.5, 1.0
    result = score_forecasts(forecasts, actuals)

    assert result.overall["mape"] == pytest.approx((0.25 + 0.2 + 0.5 + 1.0) / 4)
    assert result.overall["wape"] == pytest.approx(195 / 455)
    series = result.per_series.set_index(["area", "segment"])
    assert series.loc[("DK1", "111"), "mape"] == pytest.approx(0.225)
    assert series.loc[("DK1", "111"), "wape"] == pytest.approx(45 / 205)
    assert series.loc[("DK2", "999"), "wape"] == pytest.approx(150 / 250)
    horizon = result.per_horizon.set_index("horizon_hours")
    assert horizon.loc[1, "mape"] == pytest.approx((0.25 + 0.5) / 2)
    assert horizon.loc[2, "wape"] == pytest.approx(75 / 175)
    assert horizon.loc[2, "n_points"] == 2
    assert result.scored["ape"].tolist() == pytest.approx([0.25, 0.2, 0.5, 1.0])


def test_no_actuals_yet_is_an_empty_score_not_an_error():
    forecasts = _forecasts()
    empty = _actuals(forecasts, forecasts["prediction"].to_numpy()).iloc[:0]
    result = score_forecasts(forecasts, empty)
    assert result.overall["n_points"] == 0
    assert result.overall["n_expected"] == 48
    assert result.overall["scored_share"] == 0.0
    assert math.isnan(result.overall["coverage"]) and math.isnan(result.overall["pinball"])
    assert math.isnan(result.overall["mape"]) and math.isnan(result.overall["wape"])
    assert result.per_series.empty and result.per_horizon.empty and result.scored.empty


def test_partial_actuals_report_scored_share_and_score_what_is_there():
    forecasts = _forecasts()
    # Actuals published up to horizon 6 only; a NaN actual counts as unpublished too.
    actuals = _actuals(forecasts, 110.0)
    actuals = actuals[forecasts["horizon_hours"].to_numpy() <= 6].copy()
    actuals.iloc[0, actuals.columns.get_loc("energy_consumption")] = float("nan")

    result = score_forecasts(forecasts, actuals)

    assert result.overall["n_points"] == 11
    assert result.overall["scored_share"] == pytest.approx(11 / 48)
    assert result.overall["wape"] == pytest.approx(10 / 110)
    assert result.per_horizon["horizon_hours"].tolist() == [1, 2, 3, 4, 5, 6]


def _banded(forecasts: pd.DataFrame) -> pd.DataFrame:
    return forecasts.assign(p10=90.0, p50=100.0, p90=110.0)


# Actuals 80, 105 (DK1/111 h1, h2) and 200, 95 (DK2/999 h1, h2) against p10 90, p50 100, p90 110:
# inside the band: 105 and 95. Pinball per quantile (sum over points of max(q d, (q - 1) d),
# d = actual - quantile): q 0.1 -> 9 + 1.5 + 11 + 0.5 = 22; q 0.5 -> 10 + 2.5 + 50 + 2.5 = 65;
# q 0.9 -> 3 + 0.5 + 81 + 1.5 = 86; weighted by the actuals' total 480.
BANDED_ACTUALS = [80.0, 105.0, 200.0, 95.0]


def test_coverage_and_pinball_are_exact_per_series_and_horizon():
    forecasts = _banded(_forecasts(horizons=2))
    result = score_forecasts(forecasts, _actuals(forecasts, BANDED_ACTUALS))

    assert result.overall["coverage"] == pytest.approx(0.5)
    assert result.overall["pinball"] == pytest.approx((22 + 65 + 86) / 3 / 480)
    horizon = result.per_horizon.set_index("horizon_hours")
    assert horizon["coverage"].tolist() == pytest.approx([0.0, 1.0])
    assert horizon.loc[1, "pinball"] == pytest.approx((9 + 11 + 10 + 50 + 3 + 81) / 3 / 280)
    assert horizon.loc[2, "pinball"] == pytest.approx((1.5 + 0.5 + 2.5 + 2.5 + 0.5 + 1.5) / 3 / 200)
    series = result.per_series.set_index(["area", "segment"])
    assert series["coverage"].tolist() == pytest.approx([0.5, 0.5])
    assert series.loc[("DK1", "111"), "pinball"] == pytest.approx(
        (9 + 1.5 + 10 + 2.5 + 3 + 0.5) / 3 / 185
    )


def test_field_metrics_normalise_by_each_series_range_and_score_against_lag_168():
    forecasts = _banded(_forecasts(horizons=2))
    actuals = _actuals(forecasts, BANDED_ACTUALS).assign(lag_168h=[70.0, 110.0, 150.0, 100.0])
    field = score_forecasts(forecasts, actuals).field_metrics
    # P99 - P1 of two values (numpy's linear percentile) is 0.98 of their difference.
    ranges = {"DK1": 0.98 * (105 - 80), "DK2": 0.98 * (200 - 95)}
    # CRPS per point = 2/3 of its summed pinball losses (the sums in the comment above).
    crps = {"DK1": [2 * 22 / 3, 2 * 4.5 / 3], "DK2": [2 * 142 / 3, 2 * 4.5 / 3]}
    mae = {"DK1": [20.0, 5.0], "DK2": [100.0, 5.0]}
    base = {"DK1": [10.0, 5.0], "DK2": [50.0, 5.0]}

    def relative(errors, lead=None):
        picked = {k: v if lead is None else [v[lead]] for k, v in errors.items()}
        return sum(sum(v) / len(v) / ranges[k] for k, v in picked.items()) / 2

    assert field["rmae"] == pytest.approx(relative(mae))
    assert field["rcrps"] == pytest.approx(relative(crps))
    assert field["skill"] == pytest.approx(1 - relative(crps) / relative(base))
    first, second = field["by_lead_time"]
    assert first["rcrps"] == pytest.approx(relative(crps, 0))
    assert second["skill"] == pytest.approx(1 - relative(crps, 1) / relative(base, 1))
    # Beside them, the band per lead time: coverage and mean (p90 - p10) / p50.
    assert (first["coverage"], second["coverage"]) == (0.0, 1.0)
    assert first["band_width"] == pytest.approx(0.2)
    # Without the lag-168 feature there is no basecase: no skill, the rest still scored.
    plain = score_forecasts(forecasts, _actuals(forecasts, BANDED_ACTUALS)).field_metrics
    assert math.isnan(plain["skill"]) and plain["rmae"] == pytest.approx(field["rmae"])


def test_forecasts_from_before_the_quantile_columns_score_their_band():
    old = _forecasts(horizons=2).assign(prediction_lower=90.0, prediction_upper=110.0)
    new = score_forecasts(_banded(_forecasts(horizons=2)), _actuals(old, BANDED_ACTUALS)).overall
    assert score_forecasts(old, _actuals(old, BANDED_ACTUALS)).overall == pytest.approx(new)


def test_zero_actual_leaves_mape_undefined_but_wape_defined():
    forecasts = _forecasts(horizons=1)
    result = score_forecasts(forecasts, _actuals(forecasts, [0.0, 100.0]))
    assert math.isnan(result.overall["mape"])
    assert result.overall["wape"] == pytest.approx(100 / 100)


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match="prediction"):
        score_forecasts(_forecasts().drop(columns="prediction"), _actuals(_forecasts(), 1.0))


def test_duplicate_actuals_are_refused_with_the_offending_key():
    forecasts = _forecasts(horizons=1)
    actuals = _actuals(forecasts, 100.0)
    with pytest.raises(ValueError, match="duplicate actual rows"):
        score_forecasts(forecasts, pd.concat([actuals, actuals.iloc[:1]]))
