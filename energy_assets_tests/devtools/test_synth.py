"""Synthetic data: shape, DST-correct timestamps, realistic patterns, determinism, file formats."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_assets.devtools import synth
from energy_assets.devtools.synth import DE35_CONSUMER_TYPES, FIRST_INVENTED_CODE, synthesize
from energy_assets.ingestion.files import read_api_frame
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35


@pytest.fixture(scope="module")
def year() -> pd.DataFrame:
    return synthesize(76, "2023-01-01", "2024-01-01", seed=7)


def test_columns_types_and_the_de35_grid(year):
    assert list(year.columns) == ["HourUTC", "HourDK", "PriceArea", "ConsumerType_DE35", "TotalCon"]
    assert year.dtypes.astype(str).tolist() == [
        "datetime64[ns]", "datetime64[ns]", "object", "int64", "float64"
    ]  # fmt: skip
    assert len(year) == 76 * 8760
    series = year[["PriceArea", "ConsumerType_DE35"]].drop_duplicates()
    assert set(series["PriceArea"]) == {"DK1", "DK2"}
    assert set(series["ConsumerType_DE35"]) == set(DE35_CONSUMER_TYPES)
    assert not year.duplicated(["HourUTC", "PriceArea", "ConsumerType_DE35"]).any()
    assert year.equals(
        year.sort_values(["HourUTC", "PriceArea", "ConsumerType_DE35"], ignore_index=True)
    )


def test_values_are_positive_whole_kwh_with_a_realistic_spread(year):
    values = year["TotalCon"]
    assert values.notna().all() and (values >= 89).all() and (values <= 1_652_149).all()
    assert (values % 1 == 0).all()
    levels = year.groupby(["PriceArea", "ConsumerType_DE35"])["TotalCon"].mean()
    assert levels.max() / levels.min() > 100  # real levels span four orders of magnitude


def test_dst_transitions_keep_hourutc_unique_and_hourdk_local():
    frame = synthesize(3, "2023-03-25", "2023-10-30T12:00", seed=1)
    hours = frame.drop_duplicates("HourUTC")
    assert (
        hours["HourUTC"].is_unique and hours["HourUTC"].diff().dropna().eq(pd.Timedelta("1h")).all()
    )
    local = hours["HourUTC"].dt.tz_localize("UTC").dt.tz_convert("Europe/Copenhagen")
    assert (local.dt.tz_localize(None) == hours["HourDK"]).all()
    by_local_day = hours.groupby(hours["HourDK"].dt.date).size()
    assert by_local_day[pd.Timestamp("2023-03-26").date()] == 23
    assert by_local_day[pd.Timestamp("2023-10-29").date()] == 25
    assert pd.Timestamp("2023-03-26T02:00") not in set(hours["HourDK"])


def _series(frame: pd.DataFrame, area: str, code: int) -> pd.Series:
    one = frame[(frame["PriceArea"] == area) & (frame["ConsumerType_DE35"] == code)]
    return one.set_index("HourDK")["TotalCon"]


def test_patterns_differ_by_segment(year):
    household, industry, services = (_series(year, "DK1", c) for c in (111, 330, 431))
    hour = household.index.hour
    assert household[hour == 18].mean() > 1.3 * household[hour == 3].mean()  # evening peak
    weekend = industry.index.dayofweek >= 5
    assert industry[~weekend].mean() > 1.25 * industry[weekend].mean()
    office = (services.index.hour >= 9) & (services.index.hour <= 15)
    assert services[office].mean() > 1.5 * services[~office].mean()
    # Holidays: industry drops on Christmas Day compared with the working days around it.
    christmas = industry[industry.index.normalize() == "2023-12-25"].mean()
    workdays = industry[
        industry.index.normalize().isin(pd.to_datetime(["2023-12-19", "2023-12-20"]))
    ]
    assert christmas < 0.8 * workdays.mean()
    # Yearly cycle: households use more in January than in July.
    assert (
        household[household.index.month == 1].mean() > household[household.index.month == 7].mean()
    )


def test_more_than_76_series_get_invented_codes():
    frame = synthesize(80, "2023-01-01", "2023-01-02")
    codes = set(frame["ConsumerType_DE35"])
    assert set(DE35_CONSUMER_TYPES) <= codes
    assert sorted(codes - set(DE35_CONSUMER_TYPES)) == list(
        range(FIRST_INVENTED_CODE, FIRST_INVENTED_CODE + 4)
    )


def test_ten_thousand_series_are_quick():
    started = time.perf_counter()
    frame = synthesize(10_000, "2023-01-01", "2023-01-15", seed=2)
    assert len(frame) == 10_000 * 14 * 24
    assert time.perf_counter() - started < 10


@settings(max_examples=25, deadline=None)
@given(
    series=st.integers(1, 120),
    hours=st.integers(1, 72),
    seed=st.integers(0, 2**16),
    start=st.datetimes(min_value=pd.Timestamp("2020-01-01"), max_value=pd.Timestamp("2030-01-01")),
)
def test_shape_nonnegative_and_deterministic(series, hours, seed, start):
    start = pd.Timestamp(start).floor("h")
    end = start + pd.Timedelta(hours=hours)
    frame = synthesize(series, start, end, seed=seed)
    assert len(frame) == series * hours
    assert frame["TotalCon"].notna().all() and (frame["TotalCon"] >= 0).all()
    assert frame.equals(synthesize(series, start, end, seed=seed))
    if series * hours > 4:
        assert not frame["TotalCon"].equals(
            synthesize(series, start, end, seed=seed + 1)["TotalCon"]
        )


@pytest.mark.parametrize("name", ["data.csv", "data.csv.gz", "data.parquet"])
def test_cli_writes_each_format_readable_as_api_data(tmp_path, name):
    out = tmp_path / name
    assert synth.main(["--series", "5", "--start", "2023-10-28", "--end", "2023-10-30",
                       "--out", str(out), "--seed", "4"]) == 0  # fmt: skip
    back = read_api_frame(out, DE35)
    expected = synthesize(5, "2023-10-28", "2023-10-30", seed=4)
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)
    if name != "data.parquet":
        first_line = pd.read_csv(out, nrows=1, dtype=str).iloc[0].tolist()
        assert first_line[0] == "2023-10-28T00:00:00"  # the API's timestamp spelling
        assert "." not in first_line[-1]  # whole kWh, as the real file
    assert np.array_equal(back["HourUTC"].unique(), expected["HourUTC"].unique())


@pytest.mark.parametrize(
    "dataset",
    ["ConsumptionConsumerCategoryHour", "ConsumptionIndustry", "ProductionConsumptionSettlement"],
)
def test_any_specs_columns_and_series(dataset, tmp_path):
    from energy_assets.features.engineering import read_consumption_file
    from energy_assets.sources import spec_for

    spec = spec_for(dataset)
    frame = synthesize(len(spec.expected_series), "2023-03-25", "2023-03-27", seed=3, spec=spec)
    assert list(frame.columns) == list(spec.columns)
    path = synth.write_frame(frame, tmp_path / "data.csv.gz", spec)
    clean = read_consumption_file(path, spec)
    series = set(map(tuple, clean[["area", "segment"]].drop_duplicates().to_numpy()))
    assert series == set(spec.expected_series)
    assert len(clean) == len(spec.expected_series) * 48 and (clean["energy_consumption"] > 0).all()
    # Same seed, same frame.
    again = synthesize(len(spec.expected_series), "2023-03-25", "2023-03-27", seed=3, spec=spec)
    assert frame.equals(again)


def test_beyond_a_specs_series_invents_segments_or_says_it_cannot():
    from energy_assets.contracts import InputError
    from energy_assets.sources import spec_for

    industry = spec_for("ConsumptionIndustry")
    frame = synthesize(300, "2023-01-01", "2023-01-01T02:00", spec=industry)
    assert frame.groupby(["MunicipalityNo", "Branche"]).ngroups == 300
    assert frame["Branche"].str.startswith("Synthetic ").sum() == 6 * 2
    settlement = spec_for("ProductionConsumptionSettlement")
    with pytest.raises(InputError, match="one series per price area"):
        synthesize(3, "2023-01-01", "2023-01-02", spec=settlement)
    # MWh datasets are written in MWh.
    mwh = synthesize(2, "2023-01-01", "2023-01-02", spec=settlement)["GrossConsumptionMWh"]
    kwh = synthesize(2, "2023-01-01", "2023-01-02")["TotalCon"]  # same seed, same levels
    np.testing.assert_allclose(mwh.to_numpy() * 1000, np.rint(kwh.to_numpy()), rtol=1e-9)
