"""The product backtest: issued as the assets issue, scored by lead time against the naives a
desk had at issue time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_assets.cli import main
from energy_assets.devtools import SAMPLE_DATA_PATH
from energy_assets.features.engineering import read_consumption_file
from energy_assets.forecasting import product_backtest, products
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35

SMALL = {"num_boost_round": 40, "max_train_rows": 20_000, "shape_blend": 0.0}


def test_day_ahead_backtest_scores_leads_against_the_naives_known_at_issue():
    consumption = read_consumption_file(SAMPLE_DATA_PATH, DE35)
    result = product_backtest.product_backtest(
        consumption, products.DAY_AHEAD, "2023-01-14", 3, 216, SMALL, reference=False
    )
    frame, metrics = result["predictions"], result["metrics"]
    assert metrics["issues"] == 3 and set(metrics["by_lead_band"]) == {"12-23", "24-35", "36-49"}
    assert frame["lead_hours"].between(14, 37).all()
    # The week naive is the newest same hour published at the issue: 216 h lag -> two weeks back.
    row = frame.iloc[0]
    series = consumption[
        (consumption["area"] == row["area"]) & (consumption["segment"] == row["segment"])
    ].set_index("datetime_utc")["energy_consumption"]
    assert row["naive_week"] == series[row["datetime_utc"] - pd.Timedelta(days=14)]
    assert (row["datetime_utc"] - pd.Timedelta(days=14)) <= row["data_origin"]
    assert row["naive_day"] == series[row["datetime_utc"] - pd.Timedelta(days=10)]
    band = metrics["all_leads"]
    assert 0 < band["mape"] < 1 and 0 <= band["coverage"] <= 1
    assert np.isfinite(band["naive_week_mape"])


def test_cli_refuses_a_lag_below_an_hour(capsys):
    code = main([
        "backtest", "--product", "day-ahead", "--lag", "0", "--data", str(SAMPLE_DATA_PATH),
        "--cutoff", "2023-01-14T00:00", "--origins", "2", "--json", "/dev/null",
    ])  # fmt: skip
    assert code != 0
    assert "--lag must be 1 hour or more" in capsys.readouterr().err
