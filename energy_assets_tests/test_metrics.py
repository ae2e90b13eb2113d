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
