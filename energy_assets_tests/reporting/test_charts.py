"""Charts: valid PNGs of the intended size that show what they claim (the forecast's colour is
drawn, drifted columns are red), the representative series are the right ones, and importing
the module does not import matplotlib."""

from __future__ import annotations

import base64
import io
import subprocess
import sys

import numpy as np
import optuna
import pandas as pd
import pytest
from PIL import Image

from energy_assets.reporting import charts

ORIGIN = pd.Timestamp("2023-01-10 05:00", tz="UTC")
# (area, segment): (level kWh, relative half-width of the 80% interval)
SERIES = {
    ("DK1", "111"): (1_000.0, 0.05),
    ("DK2", "122"): (50_000.0, 0.02),
    ("DK1", "999"): (200.0, 0.4),
}


def _forecasts() -> pd.DataFrame:
    rows = []
    for (area, segment), (level, half_width) in SERIES.items():
        for h in range(1, 25):
            prediction = level * (1 + 0.2 * np.sin(h / 4))
            rows.append(
                {
                    "area": area,
                    "segment": segment,
                    "forecast_origin": ORIGIN,
                    "datetime_utc": ORIGIN + pd.Timedelta(hours=h),
                    "horizon_hours": h,
                    "prediction": prediction,
                    "prediction_lower": prediction * (1 - half_width),
                    "prediction_upper": prediction * (1 + half_width),
                    "model_used": "lightgbm",
                    "model_version": "4",
                }
            )
    return pd.DataFrame(rows)


def _history() -> pd.DataFrame:
    hours = pd.date_range(ORIGIN - pd.Timedelta(days=5), ORIGIN, freq="h")
    return pd.DataFrame(
        [
            {
                "datetime_utc": hour,
                "area": area,
                "segment": segment,
                "energy_consumption": level * (1 + 0.2 * np.sin(hour.hour / 4)),
            }
            for (area, segment), (level, _) in SERIES.items()
            for hour in hours
        ]
    )


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _has_colour(png: bytes, hex_colour: str, tolerance: int = 12) -> bool:
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
    return bool((np.abs(_pixels(png).astype(int) - rgb).max(axis=2) <= tolerance).any())


def test_representative_series_are_the_largest_and_the_widest_interval():
    picked = charts.representative_series(_forecasts())

    assert [(a, c) for a, c, _ in picked] == [("DK2", "122"), ("DK1", "999")]
    assert picked[0][2] == "largest series"
    assert picked[1][2].startswith("widest 80% interval (±40%)")


def test_forecast_chart_draws_the_paths_against_the_actuals():
    png = charts.forecast_chart(_forecasts(), _history())

    assert charts.png_size(png) == (900, 330)
    assert _has_colour(png, charts.MODEL_COLOR) and _has_colour(png, charts.ACTUAL_COLOR)
    # Small enough to be copied into every partition's materialisation of a day's backfill.
    assert len(png) < 120_000


def test_markdown_image_embeds_the_png():
    png = charts.forecast_chart(_forecasts(), _history())
    markdown = charts.markdown_image(png, "forecast [newest origin]")

    assert markdown.startswith("![forecast (newest origin)](data:image/png;base64,")
    assert base64.b64decode(markdown.split(",", 1)[1].rstrip(")")) == png


def test_model_charts_backtest_importance_and_optimisation_history():
    origins = [ORIGIN, ORIGIN + pd.Timedelta(days=1)]
    points = _forecasts().rename(columns={"prediction": "predicted"})
    points = pd.concat(
        [
            points.assign(forecast_origin=o, datetime_utc=points["datetime_utc"] + (o - ORIGIN))
            for o in origins
        ]
    )
    points["actual"] = points["predicted"] * 1.05
    points["seasonal_naive_24"] = points["predicted"] * 0.8
    points["seasonal_naive_168"] = points["predicted"] * 0.9
    importance = pd.DataFrame(
        {"feature": [f"f{i}" for i in range(20)], "gain": np.arange(20.0, 0, -1)}
    )
    study = optuna.create_study()
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=4)

    made = charts.model_charts(points, importance, study.trials)

    assert set(made) == {"backtest_chart", "feature_importance_chart", "optimisation_history_chart"}
    for png in made.values():
        width, height = charts.png_size(png)
        assert 600 <= width <= 1000 and 250 <= height <= 400
    assert _has_colour(made["backtest_chart"], charts.NAIVE_COLORS["seasonal_naive_24"])
    assert "optimisation_history_chart" not in charts.model_charts(points, importance)


def test_drift_chart_is_red_only_where_a_column_drifted():
    scores = pd.DataFrame(
        {
            "column": ["energy_relative", "lag_24h", "lag_168h"],
            "stattest": "wasserstein",
            "threshold": 0.1,
            "score": [0.4, 0.02, np.nan],
            "drifted": [True, False, False],
        }
    )
    drifted = charts.drift_chart(scores, drift_share=0.5)
    calm = charts.drift_chart(scores.assign(drifted=False, score=[0.05, 0.02, np.nan]))

    assert _has_colour(drifted, charts.DRIFT_COLOR)
    assert not _has_colour(calm, charts.DRIFT_COLOR)


def test_horizon_error_chart_and_empty_inputs():
    per_horizon = pd.DataFrame({"horizon_hours": range(1, 25), "mape": 0.05, "wape": 0.04})
    assert charts.png_size(charts.horizon_error_chart(per_horizon)) == (700, 300)
    with pytest.raises(ValueError, match="no scored horizons"):
        charts.horizon_error_chart(per_horizon.iloc[:0])
    with pytest.raises(ValueError, match="no forecast rows"):
        charts.forecast_chart(_forecasts().iloc[:0], _history())


def test_horizon_coverage_chart_draws_scored_horizons_only():
    per_horizon = pd.DataFrame(
        {"horizon_hours": range(1, 25), "coverage": 0.8, "pinball": 0.025, "mape": 0.05}
    )
    assert charts.png_size(charts.horizon_coverage_chart(per_horizon)) == (700, 300)
    unbanded = per_horizon.assign(coverage=float("nan"))
    with pytest.raises(ValueError, match="no horizon with a scored p10–p90 band"):
        charts.horizon_coverage_chart(unbanded)


def test_importing_the_charts_module_does_not_import_matplotlib():
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, energy_assets.reporting.charts; print('matplotlib' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
