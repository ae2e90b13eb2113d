"""Split-conformal calibration of the p10..p90 band (training/intervals.py)."""

import numpy as np
import pandas as pd
import pytest

from energy_assets.training import intervals


def _points(horizons, n_origins, spread, seed=0):
    """Forecasts of 100 kWh whose actuals are 100 * exp(noise), noise ~ N(0, spread(h))."""
    rng = np.random.default_rng(seed)
    h = np.tile(np.asarray(horizons), n_origins)
    origin = np.repeat(
        pd.date_range("2024-01-01", periods=n_origins, freq="D", tz="UTC"), len(horizons)
    )
    noise = rng.normal(0.0, 1.0, len(h)) * np.array([spread(k) for k in h])
    return pd.DataFrame(
        {
            "forecast_origin": origin,
            "horizon_hours": h,
            "prediction": 100.0,
            "actual": 100 * np.exp(noise),
        }
    )


def test_bands_pool_consecutive_lead_times_whatever_they_are():
    # A product issued before its data: lead times 217..264, wider errors further out.
    leads = range(217, 265)
    points = _points(leads, 60, lambda k: 0.01 * (k - 200))
    q = intervals.calibrated({}, points, days=60)
    assert sorted(map(int, q)) == list(leads)
    # Bands of HORIZON_BAND_HOURS consecutive leads (217..222 is (216 // 6) = band 36) share offsets.
    assert q["217"] == q["222"] and q["223"] == q["228"] and q["217"] != q["223"]
    assert q["217"][1] < q["259"][1] and q["217"][0] > q["259"][0]
    # The band of leads 217..222 holds 6 x 60 residuals: its offsets are their split-conformal
    # 10 / 90 % quantiles (ranks floor(0.1 (n + 1)) and ceil(0.9 (n + 1)) of n = 360).
    band = points[points.horizon_hours <= 222]
    rel = np.sort(np.log(band.actual / band.prediction))
    assert q["217"] == pytest.approx([rel[36 - 1], rel[325 - 1]])


def test_the_band_covers_80_percent_of_new_errors_like_the_recent_ones():
    history = _points(range(1, 25), 21, lambda k: 0.03)
    q = intervals.calibrated({"1": [-0.001, 0.001]}, history, days=14)
    new = _points(range(1, 25), 200, lambda k: 0.03, seed=1)
    band = intervals.quantile_forecasts(
        new.prediction.to_numpy(), q, new.horizon_hours.to_numpy(), 24
    )
    inside = (band["p10"] <= new.actual) & (new.actual <= band["p90"])
    assert 0.77 <= inside.mean() <= 0.86


def test_only_the_last_days_count_and_thin_bands_keep_their_quantiles():
    calm = _points(range(1, 25), 14, lambda k: 0.01)
    stormy = _points(range(1, 25), 7, lambda k: 0.1, seed=2)
    stormy["forecast_origin"] += pd.Timedelta(days=14)
    q = intervals.calibrated({}, pd.concat([calm, stormy]), days=7)
    assert q["1"][1] > 0.05  # the stormy week's spread, not the calm fortnight's
    # 3 residuals per band are too few: the horizon keeps what it had.
    few = _points(range(1, 25), 3, lambda k: 0.1)
    assert intervals.calibrated({"5": [-0.2, 0.3]}, few, days=3)["5"] == [-0.2, 0.3]
