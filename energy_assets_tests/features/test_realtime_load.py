"""The real-time source's spec and table, on real data: the spec reads the dataset's real website
download (every column, `;`, decimal commas, newest first) and its API file; the plausibility rule
for area totals flags the feed's real single-hour error and a 3x spike, and no other hour."""

from __future__ import annotations

import pandas as pd
import pytest

from energy_assets.contracts import REALTIME_LOAD
from energy_assets.devtools import BUNDLED_DATA_PATHS, DATA_DIR
from energy_assets.features.realtime_load import (
    BENCHMARK_COLUMN,
    TotalLoadFileError,
    read_total_load_file,
    realtime_load_table,
)
from energy_assets.ingestion.files import read_api_frame
from energy_assets.sources import ELECTRICITY_BALANCE_NONV as SPEC
from energy_assets.sources import spec_for
from energy_assets.validation.suites import validate_raw_consumption, validate_realtime_load

SAMPLE = DATA_DIR / "ElectricityBalanceNonv_DK2_sample.csv"
API_FILE = BUNDLED_DATA_PATHS["ElectricityBalanceNonv"]
ENTSOE_FILE = DATA_DIR / "total_load_DK1_DK2_entsoe.csv.gz"


def test_the_spec_reads_the_real_website_download():
    assert spec_for("electricitybalancenonv") is SPEC
    frame = read_api_frame(SAMPLE, SPEC)
    raw = frame[list(SPEC.columns)]
    # The first data line of the file, newest first: 2024-09-04 21:00 UTC, DK2, 1281,329956.
    newest = raw.sort_values(SPEC.time_utc).iloc[-1]
    assert newest[SPEC.time_utc] == pd.Timestamp("2024-09-04T21:00")
    assert newest[SPEC.time_local] == pd.Timestamp("2024-09-04T23:00")
    assert newest[SPEC.value_column] == pytest.approx(1281.329956)
    outcome = validate_raw_consumption(raw, SPEC, expected_series=[("DK2",)])
    assert outcome.success, outcome.summary()
    table = realtime_load_table(raw)
    assert len(table) == 168 and set(table["area"]) == {"DK2"}
    assert table["total_load_mwh"].between(900, 2600).all()
    # TotalLoad is MW over the hour = MWh: stored as is, not scaled.
    assert table["total_load_mwh"].iloc[-1] == pytest.approx(1281.329956)


def test_the_api_file_and_the_entsoe_export_hold_the_same_actuals():
    api = read_total_load_file(API_FILE)
    entsoe = read_total_load_file(ENTSOE_FILE)
    assert list(api.columns) == REALTIME_LOAD.names
    assert len(api) == len(entsoe) == 26_256
    pd.testing.assert_frame_equal(api, entsoe[REALTIME_LOAD.names])
    assert entsoe[BENCHMARK_COLUMN].notna().mean() > 0.99
    assert validate_realtime_load(api).success


def test_the_feeds_real_error_is_flagged_and_no_real_hour_is():
    table = read_total_load_file(API_FILE)
    flagged = table[table["implausible"]]
    # DK2 2023-06-08T10Z: 2,449 MWh between hours of ~1,590 (ENTSO-E's forecast: 1,581).
    assert list(zip(flagged["datetime_utc"], flagged["area"], strict=True)) == [
        (pd.Timestamp("2023-06-08T10:00Z"), "DK2")
    ]


@pytest.mark.parametrize("factor", [3.0, 1 / 3])
def test_a_single_hour_spike_or_drop_of_3x_is_flagged(factor):
    raw = read_api_frame(API_FILE, SPEC)
    raw = raw[raw[SPEC.time_utc].between("2023-11-01", "2023-11-15")].copy()
    hour = pd.Timestamp("2023-11-14T03:00")  # a night hour: the hardest for a spike
    hit = (raw[SPEC.time_utc] == hour) & (raw[SPEC.area_column] == "DK1")
    raw.loc[hit, SPEC.value_column] *= factor
    table = realtime_load_table(raw)
    flagged = table[table["implausible"]]
    assert list(zip(flagged["datetime_utc"], flagged["area"], strict=True)) == [
        (pd.Timestamp(hour, tz="UTC"), "DK1")
    ]


def test_a_file_without_a_load_column_is_one_clear_error(tmp_path):
    path = tmp_path / "load.csv"
    path.write_text("HourUTC,PriceArea,Load\n2023-01-01T00:00:00,DK1,1\n")
    with pytest.raises(TotalLoadFileError, match="no TotalLoad or actual_MW column"):
        read_total_load_file(path)
