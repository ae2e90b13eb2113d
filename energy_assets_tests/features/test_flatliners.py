"""Flatliners: a series stuck at one value for a day is flagged by the plausibility check (hour,
series, value), kept out of lags, training and scoring; a series accepted as flat is not; the
real data raise no false alarm."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from energy_assets.contracts import CLEAN_COLUMNS, FEATURES, PLAUSIBILITY, hour_key
from energy_assets.defs.resources import StorageResource
from energy_assets.defs.training import read_training_window
from energy_assets.features.engineering import build_features, read_consumption_file
from energy_assets.features.plausibility import judge_values, without_implausible
from energy_assets.monitoring.accuracy import score_forecasts
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35
from energy_assets.storage.parquet_store import ParquetStore
from energy_assets.validation.suites import validate_plausible_values

STUCK = ("DK1", "111")
DAY = pd.Timestamp("2023-01-10 00:00", tz="UTC")


@pytest.fixture(scope="module")
def clean(shared_slice_path) -> pd.DataFrame:
    return read_consumption_file(str(shared_slice_path), DE35)


def stuck_for_a_day(clean: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series, float]:
    """`clean` with STUCK repeating one ordinary value (its median) for the 24 hours of DAY."""
    series = (clean["area"] == STUCK[0]) & (clean["segment"] == STUCK[1])
    value = float(clean.loc[series, "energy_consumption"].median())
    day = (clean["datetime_utc"] >= DAY) & (clean["datetime_utc"] < DAY + pd.Timedelta(days=1))
    out = clean.copy()
    out.loc[series & day, "energy_consumption"] = value
    return out, series & day, value


def test_the_real_data_hold_no_flatliner(clean):
    verdict = judge_values(clean)
    assert not verdict["implausible"].any()
    assert verdict["flat_hours"].max() < PLAUSIBILITY.flat_hours


def test_a_series_stuck_for_a_day_is_flagged_and_kept_out_of_training_and_scoring(clean, tmp_path):
    stuck, rows, value = stuck_for_a_day(clean)
    start, end = DAY - pd.Timedelta(days=2), DAY + pd.Timedelta(days=2)
    history = stuck[stuck["datetime_utc"] < end]
    features = build_features(history, start, end)
    at = features.set_index(["area", "segment", "datetime_utc"])
    run = pd.date_range(DAY, periods=24, freq="h")
    flags = at.loc[[(*STUCK, t) for t in run], PLAUSIBILITY.flag_column].to_numpy()
    # From the 6th repeated hour on; the ordinary value itself is in range.
    assert not flags[: PLAUSIBILITY.flat_hours - 1].any()
    assert flags[PLAUSIBILITY.flat_hours - 1 :].all()
    assert features[PLAUSIBILITY.flag_column].sum() == 24 - PLAUSIBILITY.flat_hours + 1

    # The check names hour, series and value.
    outcome = validate_plausible_values(features)
    assert not outcome.success
    offending = outcome.results[0].unexpected_rows
    assert set(zip(offending["area"], offending["segment"], strict=True)) == {STUCK}
    assert set(offending["energy_consumption"]) == {value}
    assert pd.Timestamp(offending["datetime_utc"].min()) == DAY + pd.Timedelta(
        hours=PLAUSIBILITY.flat_hours - 1
    )

    # Kept out of the next hours' lags: they read the estimate (last week's hour at the day's
    # level), flagged on the row, not the stuck value.
    after = at.loc[(*STUCK, DAY + pd.Timedelta(hours=12)), "lag_1h"]
    estimate = at.loc[(*STUCK, DAY + pd.Timedelta(hours=11)), "implausible_estimate"]
    assert after == estimate and not np.isnan(estimate) and estimate != value

    # Kept out of training: the training window read as the retrain reads it.
    store = ParquetStore(str(tmp_path / "storage"))
    for hour, frame in features.groupby("datetime_utc"):
        store.write(FEATURES.name, hour_key(hour), frame.reset_index(drop=True))
    plan = SimpleNamespace(window_start=start, window_end=end - pd.Timedelta(hours=1))
    training = read_training_window(StorageResource(storage_url=str(tmp_path / "storage")), plan)
    flagged_hours = run[PLAUSIBILITY.flat_hours - 1 :]
    trained = training.set_index(["area", "segment", "datetime_utc"])["energy_consumption"]
    assert trained.loc[[(*STUCK, t) for t in flagged_hours]].isna().all()
    assert trained.notna().sum() == len(features) - len(flagged_hours)

    # Kept out of scoring: the accuracy reads actuals the same way.
    forecasts = features[CLEAN_COLUMNS].rename(columns={"energy_consumption": "prediction"})
    forecasts = forecasts.assign(horizon_hours=1, prediction=forecasts["prediction"] * 1.1)
    actuals = without_implausible(features)[CLEAN_COLUMNS]
    result = score_forecasts(forecasts, actuals)
    assert result.overall["n_points"] == len(features) - len(flagged_hours)
    scored = result.scored
    assert not (
        (scored["area"] == STUCK[0])
        & (scored["segment"] == STUCK[1])
        & scored["datetime_utc"].isin(flagged_hours)
    ).any()


def test_a_series_accepted_as_flat_is_not_flagged(clean):
    stuck, rows, _ = stuck_for_a_day(clean)
    assert judge_values(stuck)["implausible"][rows].sum() == 24 - PLAUSIBILITY.flat_hours + 1
    assert not judge_values(stuck, flat_ok=[STUCK])["implausible"].any()
