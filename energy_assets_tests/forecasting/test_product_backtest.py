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


def test_calibration_issues_are_the_latest_days_whose_targets_are_published_at_the_first():
    first = products.day_ahead_issued_at("2023-12-01")
    days = product_backtest.calibration_issues(products.DAY_AHEAD, first, 216, 14)
    origin = products.data_origin(first, 216)
    assert len(days) == 14 and days == sorted(days)
    assert all(products.day_ahead_targets(t)[-1] <= origin for t in days)
    # The next issue day's targets are not all published yet: nothing closer was left out.
    following = days[-1] + pd.Timedelta(days=1)
    assert products.day_ahead_targets(following)[-1] > origin


def test_conformal_band_covers_each_lead_band_of_its_calibration_errors():
    rng = np.random.default_rng(0)
    lead = np.repeat(np.arange(14, 38), 40)  # 40 vintages of leads 14..37
    spread = 0.02 + 0.002 * (lead - 14)  # errors widen with the lead
    p50 = np.full(len(lead), 100.0)
    points = pd.DataFrame(
        {"lead_hours": lead, "p50": p50, "actual": p50 * np.exp(rng.normal(0, spread))}
    )
    band = product_backtest.conformal_band(points, band_hours=6)
    assert set(band) == {str(h + 1) for h in range(14, 38)}
    calibrated = product_backtest.with_conformal_band(points.assign(p10=0.0, p90=1e9), band)
    inside = calibrated["actual"].between(calibrated["p10"], calibrated["p90"])
    by_band = inside.groupby((calibrated["lead_hours"]) // 6).mean()
    assert (by_band >= 0.8).all() and (by_band <= 0.9).all()
    width = (calibrated["p90"] - calibrated["p10"]).groupby(calibrated["lead_hours"]).first()
    assert width[37] > 1.5 * width[14]  # per band, not one pooled width
    # A lead without calibration errors keeps the band it had.
    other = product_backtest.with_conformal_band(
        pd.DataFrame({"lead_hours": [60], "p10": [90.0], "p50": [100.0], "p90": [110.0]}), band
    )
    assert other[["p10", "p90"]].iloc[0].tolist() == [90.0, 110.0]


def test_weather_error_moves_only_the_target_hours_and_grows_with_the_lead():
    from energy_assets.devtools import WEATHER_SAMPLE_PATH
    from energy_assets.ingestion.weather_files import read_weather_file

    weather = read_weather_file(WEATHER_SAMPLE_PATH)
    times = pd.to_datetime(weather["datetime_utc"], utc=True)
    weather = weather[times.between("2023-11-30", "2023-12-04")].reset_index(drop=True)
    issued = products.day_ahead_issued_at("2023-12-01")
    targets = products.day_ahead_targets(issued)
    rng = np.random.default_rng(1)
    draws = []
    for _ in range(40):
        noisy = product_backtest.WEATHER_ERROR.issued(weather, issued, targets, rng)
        moved = noisy["temperature_c"].to_numpy() - weather["temperature_c"].to_numpy()
        at = pd.to_datetime(weather["datetime_utc"], utc=True).isin(targets).to_numpy()
        assert (moved[~at] == 0).all() and (moved[at] != 0).all()
        draws.append(moved[at])
    sd = np.std(draws, axis=0)
    assert sd[-1] > 1.3 * sd[0]  # lead 37 h errs more than lead 14 h
    assert 1.5 < sd[-1] < 3.0  # 0005's assumption continued: ~2.1 °C at lead 37 h


def test_realtime_variant_is_the_area_total_forecast_scaled_by_the_segments_share(capsys):
    """DK2's settled gross consumption (one segment) reconciled to the feed's DK2 total: the
    variant's p50 is the area forecast issued from the feed's hours known then, times the
    segments' share over the newest shared week (recomputed here through the public functions)."""
    from energy_assets.devtools import BUNDLED_DATA_PATHS
    from energy_assets.features.realtime_load import read_total_load_file
    from energy_assets.forecasting import area_totals
    from energy_assets.sources import PRODUCTION_CONSUMPTION_SETTLEMENT as DK2

    consumption = read_consumption_file(BUNDLED_DATA_PATHS[DK2.dataset], DK2)
    times = consumption["datetime_utc"]
    consumption = consumption[times.between(pd.Timestamp("2022-12-20", tz="UTC"), "2023-02-13")]
    feed = read_total_load_file(BUNDLED_DATA_PATHS["ElectricityBalanceNonv"])
    feed = feed[feed["datetime_utc"] < pd.Timestamp("2023-02-13", tz="UTC")]
    result = product_backtest.product_backtest(
        consumption, products.DAY_AHEAD, "2023-02-10", 1, 216, SMALL, reference=False,
        realtime=feed,
    )  # fmt: skip
    frame, metrics = result["predictions"], result["metrics"]
    assert set(metrics["variants"]) == {product_backtest.SETTLED, product_backtest.REALTIME}
    assert metrics["variant"] == product_backtest.REALTIME
    served = frame[frame["variant"] == product_backtest.REALTIME]
    assert (served["level_source"] == "realtime").all()
    issued = products.day_ahead_issued_at("2023-02-10")
    totals = area_totals.forecast_area_totals(
        area_totals.LoadHistory.from_table(feed), issued, products.day_ahead_targets(issued),
        issue_hours_local=(10,),
    ).table  # fmt: skip
    known = feed[feed["datetime_utc"] <= area_totals.newest_known_hour(issued)]
    settled = consumption[consumption["datetime_utc"] <= products.data_origin(issued, 216)]
    share = area_totals.totals_for_segments(totals[totals["area"] == "DK2"], settled, known)
    np.testing.assert_allclose(served["p50"].to_numpy(), share["p50"].to_numpy(), rtol=1e-9)
    # The real-time level changes the forecast: the settled variant is the model's own.
    plain = frame[frame["variant"] == product_backtest.SETTLED]
    assert not np.allclose(plain["p50"].to_numpy(), served["p50"].to_numpy())


def test_cli_refuses_weather_without_the_realtime_level(capsys):
    code = main([
        "backtest", "--product", "day-ahead", "--data", str(SAMPLE_DATA_PATH), "--weather",
        "x.csv", "--cutoff", "2023-01-14T00:00", "--origins", "2", "--json", "/dev/null",
    ])  # fmt: skip
    assert code != 0
    assert "--weather with --product needs --realtime" in capsys.readouterr().err


def test_rolling_band_reads_only_vintages_published_by_each_issue():
    rng = np.random.default_rng(2)
    issues = [products.day_ahead_issued_at(f"2023-11-{d:02d}") for d in range(1, 31)]
    parts = []
    for k, issued in enumerate(issues):
        targets = products.day_ahead_targets(issued)
        spread = 0.01 if k < 15 else 0.06  # errors grow in the second half
        p50 = np.full(len(targets), 100.0)
        parts.append(
            pd.DataFrame(
                {
                    "issued_at": issued,
                    "datetime_utc": targets,
                    "p50": p50,
                    "p10": p50,
                    "p90": p50,
                    "lead_hours": (
                        (targets - issued.floor("h")) // pd.Timedelta(hours=1)
                    ).to_numpy(),
                    "actual": p50 * np.exp(rng.normal(0, spread, len(targets))),
                }
            )  # fmt: skip
        )
    vintages = pd.concat(parts, ignore_index=True)
    late = vintages[vintages["issued_at"] >= issues[20]]
    banded = product_backtest.rolling_conformal_band(vintages, late, 5, 6, 216)
    # The issue of Nov 21 may read the vintages finished by its data origin (Nov 12 09:00):
    # those issued up to Nov 10; the newest five of them.
    first = banded[banded["issued_at"] == issues[20]]
    origin = products.data_origin(issues[20], 216)
    usable = [t for t in issues if products.day_ahead_targets(t)[-1] <= origin][-5:]
    assert usable[-1] == issues[9]
    expected = product_backtest.with_conformal_band(
        late[late["issued_at"] == issues[20]],
        product_backtest.conformal_band(vintages[vintages["issued_at"].isin(usable)], 6),
    )
    pd.testing.assert_frame_equal(first, expected)
    # The last issue reads the wide-error half: its band is wider.
    last = banded[banded["issued_at"] == issues[-1]]
    assert (last["p90"] - last["p10"]).mean() > 2 * (first["p90"] - first["p10"]).mean()
