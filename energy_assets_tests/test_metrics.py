import numpy as np
import pandas as pd
import pytest

from energy_assets.metrics import median_series_mape, pooled_mape, score, wape


def test_pooled_mape_is_a_fraction_over_all_points():
    assert pooled_mape([100, 200], [110, 180]) == pytest.approx((0.1 + 0.1) / 2)


def test_wape_weights_by_volume():
    # 10 kWh off on 100 and 0 off on 900: WAPE 1 %, MAPE 5 %.
    assert wape([100, 900], [110, 900]) == pytest.approx(0.01)
    assert pooled_mape([100, 900], [110, 900]) == pytest.approx(0.05)


def test_median_series_mape_is_robust_to_one_bad_series():
    frame = pd.DataFrame(
        {
            "area": ["DK1"] * 2 + ["DK2"] * 2 + ["DK1"] * 2,
            "segment": [111, 111, 111, 111, 999, 999],
            "actual": [100.0] * 6,
            "predicted": [101.0, 99.0, 102.0, 98.0, 300.0, 300.0],
        }
    )
    assert median_series_mape(frame, "actual", "predicted") == pytest.approx(0.02)


def test_score_returns_all_metrics():
    frame = pd.DataFrame({"area": ["DK1"], "segment": [111], "actual": [10.0], "p": [11.0]})
    result = score(frame, "p")
    assert result == {
        "mape": pytest.approx(0.1),
        "wape": pytest.approx(0.1),
        "median_series_mape": pytest.approx(0.1),
        "n_points": 1,
    }


@pytest.mark.parametrize("fn", [pooled_mape, wape])
def test_empty_and_nan_inputs_are_errors(fn):
    with pytest.raises(ValueError, match="empty"):
        fn([], [])
    with pytest.raises(ValueError, match="NaN"):
        fn([1.0, np.nan], [1.0, 1.0])
    with pytest.raises(ValueError, match="points"):
        fn([1.0, 2.0], [1.0])


def test_zero_actuals_make_mape_an_error_but_not_wape():
    with pytest.raises(ValueError, match="zero"):
        pooled_mape([0.0, 10.0], [1.0, 10.0])
    assert wape([0.0, 10.0], [1.0, 10.0]) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="zero"):
        wape([0.0], [1.0])


def test_crps_from_quantiles_is_the_absolute_error_of_a_point_forecast():
    from energy_assets.metrics import crps_from_quantiles

    actual = np.array([10.0, 20.0, 30.0])
    point = np.array([12.0, 15.0, 30.0])
    crps = crps_from_quantiles(actual, {0.1: point, 0.5: point, 0.9: point})
    assert crps == pytest.approx(np.abs(actual - point))
    # A band around the truth scores less than the same median alone.
    band = crps_from_quantiles(actual, {0.1: point - 3, 0.5: point, 0.9: point + 3})
    assert band.sum() < crps.sum()


def test_field_metrics_normalise_each_series_by_its_own_range():
    from energy_assets.metrics import field_metrics

    hours = np.arange(100)
    small = 10.0 + hours % 10  # range P99 - P1 = 8.82 (numpy's linear percentile)
    frame = pd.DataFrame(
        {
            "area": "DK1",
            "segment": np.repeat(["small", "big"], 100),
            "horizon_hours": np.tile(np.repeat([1, 2], 50), 2),
            "actual": np.concatenate([small, 1000 * small]),
        }
    )
    # The same relative error on both series: 0.5 kWh, 500 kWh.
    frame["predicted"] = frame["actual"] + np.where(frame["segment"] == "small", 0.5, 500.0)
    for col in ("p10", "p50", "p90"):
        frame[col] = frame["predicted"]
    frame["basecase"] = frame["actual"] + np.where(frame["segment"] == "small", 1.0, 1000.0)
    out = field_metrics(frame, {0.1: "p10", 0.5: "p50", 0.9: "p90"}, basecase="basecase")
    span = np.percentile(small, 99) - np.percentile(small, 1)
    assert out["rmae"] == pytest.approx(0.5 / span)
    assert out["rcrps"] == pytest.approx(0.5 / span)  # a point forecast: CRPS = MAE
    assert out["skill"] == pytest.approx(0.5)
    assert [row["horizon_hours"] for row in out["by_lead_time"]] == [1, 2]
    assert out["n_series"] == 2
