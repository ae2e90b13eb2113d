"""The area-total forecaster on the real DK1 / DK2 totals: it never reads an hour published
after its issue time (the leakage test moves the feed's lag too), a real-time outage falls back
to the longer-lag variant and says so (or, too long, to the settled model), DST days have 23 and
25 hours, and the backtest CLI runs on a small slice against Energinet's own forecast."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from energy_assets.cli import main
from energy_assets.devtools import DATA_DIR
from energy_assets.features.realtime_load import read_total_load_file
from energy_assets.forecasting.area_totals import (
    MAX_FEED_GAP_HOURS,
    LoadHistory,
    ModelParams,
    area_totals_for_product,
    day_ahead_targets,
    forecast_area_totals,
    intraday_targets,
    newest_known_hour,
)

ENTSOE_FILE = DATA_DIR / "total_load_DK1_DK2_entsoe.csv.gz"
ISSUE = pd.Timestamp("2023-11-14T09:00Z")  # 10:00 in Copenhagen
# Small and quick: the wiring and the time rules, not accuracy (the backtest measures that).
FAST = ModelParams(num_boost_round=30, training_days=45)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    frame = read_total_load_file(ENTSOE_FILE)
    keep = frame["datetime_utc"].between(
        pd.Timestamp("2023-08-15T00:00Z"), pd.Timestamp("2023-11-20T00:00Z")
    )
    return frame[keep].reset_index(drop=True)


def _after(table: pd.DataFrame, hour: pd.Timestamp, factor: float) -> pd.DataFrame:
    changed = table.copy()
    later = changed["datetime_utc"] > hour
    changed.loc[later, "total_load_mwh"] *= factor
    return changed


@pytest.mark.parametrize("lag_hours", [1, 5])
def test_a_forecast_never_reads_an_hour_published_after_its_issue_time(table, lag_hours):
    newest = newest_known_hour(ISSUE, lag_hours)
    assert newest == ISSUE - pd.Timedelta(hours=lag_hours + 1)
    targets = day_ahead_targets(ISSUE)
    honest = forecast_area_totals(
        LoadHistory.from_table(table), ISSUE, targets, lag_hours=lag_hours, params=FAST
    )
    # Every hour after the newest published one changed 50-fold: nothing may move.
    poisoned = forecast_area_totals(
        LoadHistory.from_table(_after(table, newest, 50.0)),
        ISSUE,
        targets,
        lag_hours=lag_hours,
        params=FAST,
    )
    pd.testing.assert_frame_equal(honest.table, poisoned.table)
    assert (honest.table["data_origin"] == newest).all()
    # ... while changing the newest published hour itself does move the forecast.
    moved = forecast_area_totals(
        LoadHistory.from_table(_after(table, newest - pd.Timedelta(hours=1), 1.3)),
        ISSUE,
        targets,
        lag_hours=lag_hours,
        params=FAST,
    )
    assert not np.allclose(moved.table["p50"], honest.table["p50"])
    assert honest.quality == "model" and honest.reason is None


def test_the_day_ahead_forecast_covers_the_next_danish_day_with_ordered_quantiles(table):
    result = forecast_area_totals(
        LoadHistory.from_table(table), ISSUE, day_ahead_targets(ISSUE), params=FAST
    )
    frame = result.table
    assert len(frame) == 2 * 24 and set(frame["area"]) == {"DK1", "DK2"}
    assert frame["datetime_utc"].min() == pd.Timestamp("2023-11-14T23:00Z")  # 00:00 local
    assert frame["lead_hours"].between(14, 37).all()
    assert ((frame["p10"] <= frame["p50"]) & (frame["p50"] <= frame["p90"])).all()
    assert (frame["level_source"] == "realtime").all() and not frame["weather_used"].any()
    # A plausible level: within 25 % of the actual load of those hours.
    actual = table.set_index(["datetime_utc", "area"])["total_load_mwh"]
    truth = actual.reindex(pd.MultiIndex.from_frame(frame[["datetime_utc", "area"]])).to_numpy()
    assert np.all(np.abs(frame["p50"].to_numpy() / truth - 1) < 0.25)


def test_dst_days_have_23_and_25_hours_and_intraday_runs_to_the_end_of_tomorrow():
    assert len(day_ahead_targets("2024-03-30T09:00Z")) == 23
    assert len(day_ahead_targets("2023-10-28T08:00Z")) == 25
    hours = intraday_targets("2023-11-14T15:00Z")
    assert hours[0] == pd.Timestamp("2023-11-14T15:00Z")
    assert hours[-1] == pd.Timestamp("2023-11-15T22:00Z")  # 23:00 local tomorrow


def test_an_outage_falls_back_to_the_longer_lag_variant_and_says_so(table):
    newest = newest_known_hour(ISSUE)
    gap = 5
    cut = table[
        ~(
            (table["datetime_utc"] > newest - pd.Timedelta(hours=gap))
            & (table["datetime_utc"] <= newest)
            & (table["area"] == "DK2")
        )
    ]
    result = forecast_area_totals(
        LoadHistory.from_table(cut), ISSUE, day_ahead_targets(ISSUE), params=FAST
    )
    assert result.available and result.quality == "fallback"
    assert "outage" in result.reason and f"{gap} h later than due" in result.reason
    assert result.lag_hours == 1 + gap
    assert (result.table["quality"] == "fallback").all()
    assert (result.table["quality_reason"] == result.reason).all()
    assert (result.table["data_origin"] == newest - pd.Timedelta(hours=gap)).all()
    assert len(result.table) == 48


def test_a_long_outage_hands_over_to_the_settled_model(table):
    newest = newest_known_hour(ISSUE)
    gone = table[table["datetime_utc"] <= newest - pd.Timedelta(hours=MAX_FEED_GAP_HOURS + 1)]
    result = forecast_area_totals(
        LoadHistory.from_table(gone), ISSUE, day_ahead_targets(ISSUE), params=FAST
    )
    assert not result.available and result.table.empty
    assert "settled-data model" in result.reason and result.quality == "fallback"


def test_backtest_cli_scores_the_area_totals_against_energinet(tmp_path, capsys):
    out = tmp_path / "bt.json"
    code = main(
        ["backtest", "--data", str(ENTSOE_FILE), "--dataset", "ElectricityBalanceNonv",
         "--product", "day-ahead", "--cutoff", "2023-11-20T00:00", "--origins", "2",
         "--json", str(out)]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "mape_energinet" in printed and "ratio_to_energinet" in printed
    document = json.loads(out.read_text())
    assert len(document["predictions"]) == 2 * 2 * 24
    months = {(m["month"], m["area"]) for m in document["metrics_by_month"]}
    assert months == {("2023-11", "DK1"), ("2023-11", "DK2")}
    for row in document["metrics_by_month"]:
        assert 0 < row["mape"] < 0.1 and 0 < row["mape_energinet"] < 0.1


def test_backtest_cli_says_in_one_line_when_the_file_ends_too_soon(tmp_path, capsys):
    code = main(
        ["backtest", "--data", str(ENTSOE_FILE), "--dataset", "ElectricityBalanceNonv",
         "--product", "day-ahead", "--cutoff", "2024-06-29T00:00", "--origins", "5",
         "--json", str(tmp_path / "bt.json")]
    )  # fmt: skip
    assert code == 2
    assert "give fewer --origins" in capsys.readouterr().err


def test_the_intraday_product_forecasts_from_now_to_the_end_of_tomorrow(table):
    issued = pd.Timestamp("2023-11-14T15:00Z")
    result = area_totals_for_product(table, issued, "intraday", params=FAST)
    frame = result.table
    assert frame["datetime_utc"].min() == issued and frame["lead_hours"].min() == 0
    assert len(frame) == 2 * len(intraday_targets(issued))
    assert (frame["data_origin"] == newest_known_hour(issued)).all()
    with pytest.raises(ValueError, match="not one of"):
        area_totals_for_product(table, issued, "weekly")


def test_totals_for_segments_scale_the_feed_by_the_segments_measured_share():
    # Real data that overlap: the DE35 slice's segments and the feed's TotalLoad, 2023-01-01..17.
    from energy_assets.devtools import SAMPLE_DATA_PATH
    from energy_assets.features.engineering import read_consumption_file
    from energy_assets.forecasting.area_totals import totals_for_segments
    from energy_assets.sources import spec_for

    settled = read_consumption_file(SAMPLE_DATA_PATH, spec_for("ConsumptionDE35Hour"))
    settled = settled[settled["datetime_utc"] <= pd.Timestamp("2023-01-10T00:00Z")]
    feed = read_total_load_file(ENTSOE_FILE)
    feed = feed[feed["datetime_utc"] <= pd.Timestamp("2023-01-12T00:00Z")]
    targets = feed[feed["datetime_utc"] > pd.Timestamp("2023-01-11T00:00Z")]
    totals = targets[["area", "datetime_utc"]].assign(
        p10=targets["total_load_mwh"] * 0.95,
        p50=targets["total_load_mwh"],
        p90=targets["total_load_mwh"] * 1.05,
    )
    scaled = totals_for_segments(totals, settled, feed)

    for area in ("DK1", "DK2"):
        # The share by hand: the last 168 hours where both exist, segments (kWh) over feed (MWh).
        sums = settled[settled["area"] == area].groupby("datetime_utc")["energy_consumption"].sum()
        load = feed[feed["area"] == area].set_index("datetime_utc")["total_load_mwh"]
        hours = sums.index.intersection(load.index).sort_values()[-168:]
        share = sums[hours].sum() / load[hours].sum()
        assert 500 < share < 1200  # kWh of segments per MWh of total load: most of the load
        mine = scaled[scaled["area"] == area].sort_values("datetime_utc")
        theirs = totals[totals["area"] == area].sort_values("datetime_utc")
        for column in ("p10", "p50", "p90"):
            np.testing.assert_allclose(mine[column], theirs[column] * share, rtol=1e-9)

    with pytest.raises(ValueError, match="DK2"):
        totals_for_segments(totals, settled[settled["area"] == "DK1"], feed)
