"""Forecast products: their calendar, no look-ahead across the publication lag, and segments
that add up to their area, on the real shared slice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy_assets.contracts import DANISH_TZ, DAY_AHEAD_FORECASTS, MODEL_INPUTS, hour_text
from energy_assets.devtools import SAMPLE_DATA_PATH
from energy_assets.features.engineering import read_consumption_file
from energy_assets.features.model_inputs import SeriesGrid, build_model_inputs
from energy_assets.forecasting import products, reconcile
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35

SMALL = {"num_boost_round": 40, "max_train_rows": 20_000, "shape_blend": 0.0}
ISSUE_DAY = "2023-01-20"  # its data origin (216 h before) leaves 6.5 days of the slice after it


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return read_consumption_file(SAMPLE_DATA_PATH, DE35)


@pytest.fixture(scope="module")
def model_for(history):
    """A product model per lag, trained on what was published at the issue time."""
    models = {}

    def get(lag: int):
        if lag not in models:
            origin = products.data_origin(products.day_ahead_issued_at(ISSUE_DAY), lag)
            known = history[history["datetime_utc"] <= origin]
            models[lag] = products.train_product_forecaster(known, lag, SMALL)
        return models[lag]

    return get


def poisoned_after(history: pd.DataFrame, cut: pd.Timestamp) -> pd.DataFrame:
    """`history` with every value after `cut` replaced by nonsense: a forecast that reads any of
    them changes."""
    out = history.copy()
    late = out["datetime_utc"] > cut
    out.loc[late, "energy_consumption"] = 1e9 * (1 + np.arange(int(late.sum())) % 7)
    return out


@pytest.mark.parametrize(
    ("issue_day", "hours"), [("2026-03-28", 23), ("2026-06-10", 24), ("2026-10-24", 25)]
)
def test_day_ahead_targets_are_every_hour_of_the_next_danish_day(issue_day, hours):
    issued_at = products.day_ahead_issued_at(issue_day)
    assert issued_at.tz_convert(DANISH_TZ).strftime("%Y-%m-%d %H:%M") == f"{issue_day} 10:00"
    targets = products.day_ahead_targets(issued_at)
    assert len(targets) == hours
    local = targets.tz_convert(DANISH_TZ)
    assert local[0].strftime("%H:%M") == "00:00" and local[-1].strftime("%H:%M") == "23:00"
    assert (local.date == (pd.Timestamp(issue_day) + pd.Timedelta(days=1)).date()).all()


def test_intraday_targets_run_from_the_issue_hour_to_the_end_of_tomorrow():
    issued_at = pd.Timestamp("2026-10-24 21:00", tz="UTC")  # 23:00 local on the 24th
    targets = products.intraday_targets(issued_at)
    assert targets[0] == issued_at
    assert targets[-1] == pd.Timestamp("2026-10-25 22:00", tz="UTC")  # 23:00 CET on the 25th
    assert len(targets) == 1 + 25  # this hour and the 25-hour day after it
    shortest, longest = products.product_horizons(216)
    first = pd.Timestamp("2026-10-24 00:00", tz=DANISH_TZ).tz_convert("UTC")
    reach = products.intraday_targets(first) - products.data_origin(first, 216)
    assert reach.min() / pd.Timedelta(hours=1) >= shortest
    assert reach.max() / pd.Timedelta(hours=1) <= longest


@pytest.mark.parametrize("lag", [216, 240])
def test_no_input_reads_a_value_published_after_the_issue_time(history, model_for, lag):
    """Move the publication lag: whatever it is, poisoning every value not yet published at the
    issue time changes neither the model inputs nor the issued forecast."""
    issued_at = products.day_ahead_issued_at(ISSUE_DAY)
    cut = products.data_origin(issued_at, lag)
    assert cut == issued_at - pd.Timedelta(hours=lag)
    poisoned = poisoned_after(history, cut)
    # The builder: every (series, horizon) row a product model reads at this origin.
    shortest, longest = products.product_horizons(lag)
    clean_grid = SeriesGrid(history, extra_hours=longest)
    bad_grid = SeriesGrid(poisoned, extra_hours=longest)
    s, h = (
        a.ravel()
        for a in np.meshgrid(
            np.arange(len(clean_grid.series)), np.arange(shortest, longest + 1), indexing="ij"
        )
    )
    o = np.full(s.shape, clean_grid.index_of(cut))
    clean_inputs, clean_level = build_model_inputs(clean_grid, s, o, h)
    bad_inputs, bad_level = build_model_inputs(bad_grid, s, o, h)
    np.testing.assert_array_equal(clean_level, bad_level)
    for spec in MODEL_INPUTS:
        np.testing.assert_array_equal(clean_inputs[spec.name], bad_inputs[spec.name], spec.name)
    # The product: the same vintage from the clean and the poisoned history.
    model = model_for(lag)
    targets = products.day_ahead_targets(issued_at)
    clean = products.issue_forecast(model, history, issued_at, targets, lag, "v")
    from_poisoned = products.issue_forecast(model, poisoned, issued_at, targets, lag, "v")
    pd.testing.assert_frame_equal(clean, from_poisoned)
    assert (clean["data_origin"] == cut).all()
    # And the poison is real: a forecast that is allowed to read it (one more hour) changes.
    leaky = products.issue_forecast(
        model, poisoned, issued_at + pd.Timedelta(hours=1), targets, lag, "v"
    )
    assert not np.allclose(leaky["prediction"], clean["prediction"])


def test_a_model_refuses_targets_outside_the_horizons_it_was_trained_for(history, model_for):
    issued_at = products.day_ahead_issued_at(ISSUE_DAY)
    targets = products.day_ahead_targets(issued_at)
    with pytest.raises(ValueError, match="trained for a 216 h lag"):
        products.issue_forecast(model_for(216), history, issued_at, targets, 240, "v")


def area_totals_for(segments: pd.DataFrame) -> pd.DataFrame:
    """An area total unlike the segments' sum (as a real-time total would be): 5 % above it
    in DK1, 3 % below it in DK2, a band around it."""
    summed = segments.groupby(["area", "datetime_utc"], as_index=False)["prediction"].sum()
    factor = np.where(summed["area"] == "DK1", 1.05, 0.97)
    p50 = summed["prediction"] * factor
    return summed.assign(p10=0.95 * p50, p50=p50, p90=1.05 * p50).drop(columns="prediction")


@pytest.mark.parametrize("product", products.PRODUCTS)
@pytest.mark.parametrize("method", sorted(reconcile.METHODS))
def test_segments_of_an_area_add_up_to_the_areas_forecast(history, model_for, product, method):
    issued_at = products.day_ahead_issued_at(ISSUE_DAY)
    targets = products.targets_for(product, issued_at)
    model = model_for(216)
    # Without a real-time total the area total is the segments' sum (bottom-up).
    settled = products.issue_forecast(model, history, issued_at, targets, 216, "v")
    assert set(settled["level_source"]) == {"settled"}
    totals = area_totals_for(settled)
    bottom_up = reconcile.bottom_up(settled)
    summed = settled.groupby(["area", "datetime_utc"])["prediction"].sum().to_numpy()
    np.testing.assert_allclose(bottom_up["prediction"].to_numpy(), summed)
    # With one, the segments are reconciled to it at every target hour.
    reconciled = products.issue_forecast(
        model, history, issued_at, targets, 216, "v", area_totals=totals, reconciliation=method
    )
    assert set(reconciled["level_source"]) == {"realtime"}
    assert not DAY_AHEAD_FORECASTS.invalid_rows(reconciled).any()
    sums = reconciled.groupby(["area", "datetime_utc"], as_index=False)["p50"].sum()
    check = sums.merge(totals, on=["area", "datetime_utc"], suffixes=("", "_total"))
    assert len(check) == len(totals) == len(targets) * settled["area"].nunique()
    np.testing.assert_allclose(check["p50"], check["p50_total"], rtol=1e-9)
    assert (
        (reconciled["p10"] <= reconciled["p50"]) & (reconciled["p50"] <= reconciled["p90"])
    ).all()


def test_totals_that_miss_a_target_hour_are_refused(history, model_for):
    issued_at = products.day_ahead_issued_at(ISSUE_DAY)
    targets = products.day_ahead_targets(issued_at)
    settled = products.issue_forecast(model_for(216), history, issued_at, targets, 216, "v")
    totals = area_totals_for(settled).iloc[1:]
    with pytest.raises(ValueError, match="no area total for"):
        reconcile.reconcile(settled, totals)


def test_a_vintage_is_scored_by_lead_time_once_its_actuals_are_published(
    history, model_for, tmp_path
):
    from energy_assets.defs.monitoring import product_accuracy
    from energy_assets.defs.resources import StorageResource
    from energy_assets.features.engineering import build_features
    from energy_assets.monitoring.accuracy import score_product

    # Issued on the 15th: its targets (the 16th) are inside the slice, so they have actuals. (The
    # model saw data to the 11th: this test is about the scoring, the backtest about accuracy.)
    scored_day = "2023-01-15"
    issued_at = products.day_ahead_issued_at(scored_day)
    targets = products.day_ahead_targets(issued_at)
    vintage = products.issue_forecast(model_for(216), history, issued_at, targets, 216, "v")
    result = score_product(vintage, history)
    assert list(result.per_horizon["horizon_hours"]) == list(range(14, 38))
    joined = vintage.merge(history, on=["area", "segment", "datetime_utc"])
    ape = (joined["prediction"] - joined["energy_consumption"]).abs() / joined["energy_consumption"]
    assert result.overall["mape"] == pytest.approx(ape.mean())
    # The forecast_accuracy asset's helper reads the stored vintage and the published actuals.
    storage = StorageResource(storage_url=str(tmp_path / "storage"))
    store = storage.store()
    store.write("day_ahead_forecasts", scored_day, vintage)
    day = pd.Timestamp(scored_day, tz="UTC")
    features = build_features(history, targets[0], targets[-1] + pd.Timedelta(hours=1))
    for hour, rows in features.groupby("datetime_utc"):
        store.write("consumption_features", hour.strftime("%Y-%m-%d-%H:%M"), rows)
    scored = product_accuracy(storage, day, day + pd.Timedelta(days=1))
    assert scored["day_ahead_forecasts_points"] == len(vintage)
    assert scored["day_ahead_forecasts_mape"] == pytest.approx(ape.mean())
    assert "lead_hours" in scored["day_ahead_forecasts_by_lead"].value
    by_quality = scored["day_ahead_forecasts_by_quality"].value
    assert "quality" in by_quality and "model" in by_quality and "fallback" not in by_quality


def test_a_series_without_recent_data_gets_a_labelled_fallback_in_the_day_ahead(history, model_for):
    """A series whose last two published days are missing is still in the vintage, every target
    hour, labelled fallback with the reason and a real band; the other series are unchanged."""
    issued_at = products.day_ahead_issued_at(ISSUE_DAY)
    targets = products.day_ahead_targets(issued_at)
    origin = products.data_origin(issued_at, 216)
    expected = sorted(set(zip(history["area"], history["segment"], strict=True)))
    silent = expected[5]
    is_silent = (history["area"] == silent[0]) & (history["segment"] == silent[1])
    cut = history[~(is_silent & (history["datetime_utc"] > origin - pd.Timedelta(days=2)))]
    model = model_for(216)
    clean = products.issue_forecast(model, history, issued_at, targets, 216, "v")
    assert set(clean["quality"]) == {"model"}
    vintage = products.issue_forecast(model, cut, issued_at, targets, 216, "v", expected=expected)
    assert not DAY_AHEAD_FORECASTS.invalid_rows(vintage).any()
    assert vintage.groupby(["area", "segment"])["datetime_utc"].nunique().eq(len(targets)).all()
    assert vintage.groupby(["area", "segment"]).ngroups == len(expected)
    mine = (vintage["area"] == silent[0]) & (vintage["segment"] == silent[1])
    fallback = vintage[mine]
    assert set(fallback["quality"]) == {"fallback"}
    newest = hour_text(origin - pd.Timedelta(days=2))
    assert set(fallback["quality_reason"]) == {f"no recent data: the newest value is {newest}"}
    assert (fallback["p10"] < fallback["p50"]).all() and (fallback["p50"] < fallback["p90"]).all()
    assert (fallback["data_origin"] == origin).all() and (fallback["issued_at"] == issued_at).all()
    assert vintage.attrs["fallbacks"] == {"no recent data": 1}
    # The fallback is a forecast of its own, near the series' level (not a model row's copy).
    level = history.loc[is_silent & (history["datetime_utc"] <= origin), "energy_consumption"]
    assert 0.5 < fallback["p50"].mean() / level.tail(14 * 24).mean() < 2
    others = vintage[~mine].reset_index(drop=True)
    expected_others = clean[
        ~((clean["area"] == silent[0]) & (clean["segment"] == silent[1]))
    ].reset_index(drop=True)
    pd.testing.assert_frame_equal(others, expected_others)
    assert set(others["quality"]) == {"model"}
    # With a real-time area total the fallback rows take part in the reconciliation: the total
    # covers that series too, so the segments, fallback included, add up to it.
    totals = area_totals_for(clean)
    reconciled = products.issue_forecast(
        model, cut, issued_at, targets, 216, "v", area_totals=totals, expected=expected
    )
    sums = reconciled.groupby(["area", "datetime_utc"], as_index=False)["p50"].sum()
    check = sums.merge(totals, on=["area", "datetime_utc"], suffixes=("", "_total"))
    np.testing.assert_allclose(check["p50"], check["p50_total"], rtol=1e-9)
    moved = reconciled[(reconciled["area"] == silent[0]) & (reconciled["segment"] == silent[1])]
    assert set(moved["quality"]) == {"fallback"}
    assert not np.allclose(moved["p50"].to_numpy(), fallback["p50"].to_numpy())


def _issued_weather(first: str, last: str, max_lead: int) -> pd.DataFrame:
    """A WEATHER table whose value names its issue and lead: temperature = issue index * 1000 +
    lead (so the test sees which forecast was read), national (DK)."""
    issues = pd.date_range(first, last, freq="h", tz="UTC")
    leads = np.arange(max_lead + 1)
    frame = pd.DataFrame(
        {
            "issued_utc": np.repeat(issues, len(leads)),
            "area": "DK",
            "lead_hours": np.tile(leads, len(issues)),
        }
    )
    frame["datetime_utc"] = frame["issued_utc"] + pd.to_timedelta(frame["lead_hours"], unit="h")
    index = (frame["issued_utc"] - issues[0]) // pd.Timedelta(hours=1)
    frame["temperature_c"] = index * 1000.0 + frame["lead_hours"]
    frame["wind_speed_ms"] = 5.0
    return frame


def test_weather_as_issued_reads_the_newest_forecast_at_or_before_the_issue_hour():
    issued = products.day_ahead_issued_at("2023-12-01")  # 09:00 UTC; targets lead 14..37
    targets = products.day_ahead_targets(issued)
    table = _issued_weather("2023-11-28", "2023-12-01 20:00", max_lead=48)
    at_issue = ((issued - pd.Timestamp("2023-11-28", tz="UTC")) // pd.Timedelta(hours=1)) * 1000
    frame, missing = products.weather_as_issued(table, issued, targets)
    assert len(missing) == 0
    ahead = frame.set_index("datetime_utc").loc[targets, "temperature_c"]
    lead = ((targets - issued) // pd.Timedelta(hours=1)).to_numpy()
    np.testing.assert_array_equal(ahead.to_numpy(), at_issue + lead)  # issued at the issue hour
    past = frame[frame["datetime_utc"] <= issued]
    assert (past["temperature_c"] % 1000 == 0).all()  # up to the issue hour: observed (lead 0)
    # Leakage: whatever was issued after the issue hour changes nothing.
    later = pd.to_datetime(table["issued_utc"], utc=True) > issued
    poisoned = table.assign(temperature_c=np.where(later, 1e9, table["temperature_c"]))
    again, _ = products.weather_as_issued(poisoned, issued, targets)
    pd.testing.assert_frame_equal(again, frame)
    # No forecast at the issue hour (an outage): the hour before's, one lead further, serves.
    gap = table[pd.to_datetime(table["issued_utc"], utc=True) != issued]
    frame, missing = products.weather_as_issued(gap, issued, targets)
    ahead = frame.set_index("datetime_utc").loc[targets, "temperature_c"]
    np.testing.assert_array_equal(ahead.to_numpy(), at_issue - 1000 + lead + 1)


def test_weather_as_issued_names_the_targets_a_24_hour_forecast_does_not_reach():
    issued = products.day_ahead_issued_at("2023-12-01")
    targets = products.day_ahead_targets(issued)
    table = _issued_weather("2023-11-28", "2023-12-01 20:00", max_lead=24)
    frame, missing = products.weather_as_issued(table, issued, targets)
    lead = (targets - issued) // pd.Timedelta(hours=1)
    assert list(missing) == list(targets[lead > 24])  # leads 25..37: 13 hours
    assert not frame["datetime_utc"].isin(missing).any()


def test_a_vintage_takes_its_band_from_the_published_track_record_only():
    """14 earlier day-ahead vintages with known errors: the band comes from those whose every
    target was published by the new vintage's data origin; a shorter record leaves it alone."""
    rng = np.random.default_rng(3)
    issues = [products.day_ahead_issued_at(f"2023-11-{d:02d}") for d in range(1, 29)]
    past, actual = [], []
    for issued in issues[:-1]:
        targets = products.day_ahead_targets(issued)
        lead = ((targets - issued.floor("h")) // pd.Timedelta(hours=1)).to_numpy()
        past.append(pd.DataFrame({
            "issued_at": issued, "area": "DK2", "segment": "total", "datetime_utc": targets,
            "lead_hours": lead, "p10": 99.0, "p50": 100.0, "p90": 101.0,
        }))  # fmt: skip
        actual.append(pd.DataFrame({
            "area": "DK2", "segment": "total", "datetime_utc": targets,
            "energy_consumption": 100.0 * np.exp(rng.normal(0, 0.05, len(targets))),
        }))  # fmt: skip
    past_frame = pd.concat(past, ignore_index=True)
    history = pd.concat(actual, ignore_index=True).drop_duplicates("datetime_utc")
    issued = issues[-1]
    targets = products.day_ahead_targets(issued)
    new = pd.DataFrame({
        "area": "DK2", "segment": "total", "datetime_utc": targets,
        "data_origin": products.data_origin(issued, 216), "p10": 99.0, "p50": 100.0, "p90": 101.0,
        "lead_hours": ((targets - issued.floor("h")) // pd.Timedelta(hours=1)).to_numpy(),
    })  # fmt: skip
    published = history[history["datetime_utc"] <= new["data_origin"].iloc[0]]
    banded, used = products.band_from_track_record(new, past_frame, published, vintages=14)
    assert used == 14
    assert (banded["p90"] - banded["p10"]).min() > 5  # ~±6 % errors: far wider than ±1
    # Poisoning what was not published by the origin changes nothing.
    poisoned = history.assign(energy_consumption=np.where(
        history["datetime_utc"] > new["data_origin"].iloc[0], 1e9, history["energy_consumption"]
    ))  # fmt: skip
    again, _ = products.band_from_track_record(new, past_frame, poisoned, vintages=14)
    pd.testing.assert_frame_equal(again, banded)
    kept, used = products.band_from_track_record(new, past_frame, published, vintages=20)
    assert used == 0 and kept["p90"].eq(101.0).all()
    # A fallback row keeps the band backtested for the fallback; only the model's rows move.
    labelled = new.assign(quality=np.where(new.index % 2 == 0, "model", "fallback"))
    mixed, used = products.band_from_track_record(labelled, past_frame, published, vintages=14)
    fallback = mixed["quality"] == "fallback"
    assert used == 14 and mixed.loc[fallback, "p90"].eq(101.0).all()
    pd.testing.assert_frame_equal(
        mixed.loc[~fallback, ["p10", "p90"]], banded.loc[~fallback, ["p10", "p90"]]
    )
