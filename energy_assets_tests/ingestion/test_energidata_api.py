"""The API client against a real replay server on 127.0.0.1: paging, retries, clear errors."""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energy_assets.ingestion.energidata_api import (
    EnergiDataApi,
    EnergiDataError,
    collapse_exact_duplicates,
    parse_records,
)
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35
from energy_assets.sources import DEFAULT_DATASET as DATASET

RAW = DE35.raw
RAW_COLUMNS = RAW.names
DAY_RANGE = "2023-01-01T00:00Z–2023-01-02T00:00Z"


def client(server, **kwargs) -> EnergiDataApi:
    kwargs.setdefault("backoff_seconds", 0.01)
    return EnergiDataApi(server.url, server.spec, **kwargs)


def test_pages_through_the_whole_slice(replay_server, shared_slice):
    server = replay_server(shared_slice)
    api = client(server, page_size=1000)
    frame = api.fetch_hours("2022-12-01", "2023-02-01")
    assert api.request_count == math.ceil(len(shared_slice) / 1000) == 50
    assert list(frame.columns) == RAW_COLUMNS
    assert frame.dtypes.astype(str).tolist() == [
        "datetime64[ns]", "datetime64[ns]", "object", "int64", "float64"
    ]  # fmt: skip
    expected = shared_slice.sort_values(["HourUTC", "PriceArea", "ConsumerType_DE35"])
    pd.testing.assert_frame_equal(
        frame, expected.reset_index(drop=True).astype({"TotalCon": "float64"})
    )


def test_fetches_exactly_the_utc_hours_asked_for(replay_server, shared_slice):
    server = replay_server(shared_slice)
    api = client(server)
    frame = api.fetch_hours(
        pd.Timestamp("2023-01-01T01:00", tz="Europe/Copenhagen"), "2023-01-01T05:00"
    )
    assert api.request_count == 1
    assert frame["HourUTC"].min() == pd.Timestamp("2023-01-01T00:00")
    assert frame["HourUTC"].max() == pd.Timestamp("2023-01-01T04:00")
    assert len(frame) == 5 * 76
    # Hours not published (after the slice's end) come back empty, not as an error.
    assert client(server).fetch_hours("2024-01-01", "2024-01-02").empty


def test_retries_server_errors_then_succeeds(replay_server, shared_slice):
    server = replay_server(shared_slice)
    server.faults.fail_next(2, status=503)
    api = client(server)
    frame = api.fetch_hours("2023-01-01", "2023-01-02")
    assert len(frame) == 24 * 76
    assert api.request_count == 3 == server.request_count


def test_honours_retry_after(replay_server, shared_slice):
    server = replay_server(shared_slice)
    server.faults.fail_next(1, status=429, retry_after=1)
    api = client(server)
    started = time.perf_counter()
    api.fetch_hours("2023-01-01", "2023-01-01T01:00")
    assert time.perf_counter() - started >= 1.0
    assert api.request_count == 2


def test_exhausted_retries_name_dataset_range_and_cause(replay_server, shared_slice):
    server = replay_server(shared_slice)
    server.faults.fail_next(10, status=502)
    api = client(server, max_retries=2)
    with pytest.raises(EnergiDataError) as error:
        api.fetch_hours("2023-01-01", "2023-01-02")
    message = str(error.value)
    assert DATASET in message and DAY_RANGE in message and "HTTP 502" in message
    assert "retry" in message  # says what to do
    assert api.request_count == 3


def test_timeouts_are_retried_and_reported(replay_server, shared_slice):
    server = replay_server(shared_slice)
    server.faults.slow_next(1, seconds=2)
    api = client(server, timeout_seconds=0.3)
    assert len(api.fetch_hours("2023-01-01", "2023-01-02")) == 24 * 76
    assert api.request_count == 2

    server.faults.slow_next(3, seconds=2)
    with pytest.raises(EnergiDataError, match="no answer within 0.3s"):
        client(server, timeout_seconds=0.3, max_retries=1).fetch_hours("2023-01-01", "2023-01-02")


def test_connection_refused_is_retried_then_reported(replay_server, shared_slice):
    server = replay_server(shared_slice)
    url = server.url
    server.stop()
    api = EnergiDataApi(url, DE35, max_retries=1, backoff_seconds=0.01)
    with pytest.raises(EnergiDataError, match="connection error"):
        api.fetch_hours("2023-01-01", "2023-01-02")
    assert api.request_count == 2


def test_bad_json_is_retried_once_then_reported(replay_server, shared_slice):
    server = replay_server(shared_slice)
    server.faults.bad_json_next(1)
    assert len(client(server).fetch_hours("2023-01-01", "2023-01-02")) == 24 * 76
    server.faults.bad_json_next(5)
    with pytest.raises(EnergiDataError, match="malformed JSON") as error:
        client(server, max_retries=1).fetch_hours("2023-01-01", "2023-01-02")
    assert DAY_RANGE in str(error.value)


@pytest.mark.parametrize(
    ("arm", "field"),
    [
        (lambda f: f.drop_field_next(1, field="TotalCon"), "TotalCon"),
        (lambda f: f.drop_field_next(1, field="PriceArea"), "PriceArea"),
        (lambda f: f.garble_field_next(1, field="HourUTC"), "HourUTC"),
        (lambda f: f.garble_field_next(1, field="TotalCon"), "TotalCon"),
        (lambda f: f.no_records_key_next(1), "records"),
    ],
)
def test_contract_violations_fail_at_once_naming_the_field(replay_server, shared_slice, arm, field):
    server = replay_server(shared_slice)
    arm(server.faults)
    api = client(server)
    with pytest.raises(EnergiDataError) as error:
        api.fetch_hours("2023-01-01", "2023-01-02")
    message = str(error.value)
    assert field in message and DATASET in message and DAY_RANGE in message
    assert api.request_count == 1  # the same answer would come back: no retries


def test_unknown_dataset_is_not_retried(replay_server, shared_slice):
    server = replay_server(shared_slice)
    api = EnergiDataApi(server.url, replace(DE35, dataset="NoSuchDataset"), backoff_seconds=0.01)
    with pytest.raises(EnergiDataError, match="HTTP 404.*dataset name"):
        api.fetch_hours("2023-01-01", "2023-01-02")
    assert api.request_count == 1


_records = st.lists(
    st.tuples(
        st.datetimes(min_value=pd.Timestamp("2000-01-01"), max_value=pd.Timestamp("2040-01-01")),
        st.sampled_from(["DK1", "DK2"]),
        st.integers(min_value=0, max_value=99_999),
        st.one_of(st.none(), st.integers(0, 10**7), st.floats(0, 1e7, allow_nan=False)),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_records)
def test_parse_records_round_trips(rows):
    hours = [pd.Timestamp(t).floor("h") for t, *_ in rows]
    records = [
        {
            "HourUTC": hour.strftime("%Y-%m-%dT%H:%M:%S"),
            "HourDK": (hour + pd.Timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"),
            "PriceArea": area,
            "ConsumerType_DE35": code,
            "TotalCon": value,
        }
        for hour, (_, area, code, value) in zip(hours, rows, strict=True)
    ]
    frame = parse_records(records, DE35)
    assert list(frame.columns) == RAW_COLUMNS and len(frame) == len(rows)
    assert frame["HourUTC"].tolist() == hours
    assert frame["PriceArea"].tolist() == [r[1] for r in rows]
    assert frame["ConsumerType_DE35"].dtype == np.int64
    assert frame["ConsumerType_DE35"].tolist() == [r[2] for r in rows]
    expected = np.array([np.nan if r[3] is None else float(r[3]) for r in rows], dtype=float)
    np.testing.assert_array_equal(frame["TotalCon"].to_numpy(), expected)


def _with_duplicate(shared_slice: pd.DataFrame, total_con: float | None) -> pd.DataFrame:
    """The slice with one more row for 2023-01-10T12:00 DK1/111: TotalCon replaced (a conflicting
    duplicate) or, with None, an exact copy."""
    key = (
        (shared_slice["HourUTC"] == pd.Timestamp("2023-01-10 12:00"))
        & (shared_slice["PriceArea"] == "DK1")
        & (shared_slice["ConsumerType_DE35"] == 111)
    )
    extra = shared_slice[key].copy()
    if total_con is not None:
        extra["TotalCon"] = total_con
    # First in the file, so a client keeping "the first row" would keep it.
    return pd.concat([extra, shared_slice], ignore_index=True)


def test_a_conflicting_duplicate_is_returned_not_dropped(replay_server, shared_slice):
    server = replay_server(_with_duplicate(shared_slice, 999_999_999.0))
    frame = client(server).fetch_hours("2023-01-10T12:00", "2023-01-10T13:00")
    assert len(frame) == 77  # every record served
    dk1_111 = frame[(frame["PriceArea"] == "DK1") & (frame["ConsumerType_DE35"] == 111)]
    assert sorted(dk1_111["TotalCon"]) == [91391.0, 999_999_999.0]
    # Not an exact duplicate: collapsing leaves both rows for the checks to report.
    assert collapse_exact_duplicates(frame)[1] == 0


def test_exact_duplicates_are_collapsed_and_counted(replay_server, shared_slice):
    server = replay_server(_with_duplicate(shared_slice, None))
    served = client(server).fetch_hours("2023-01-10T12:00", "2023-01-10T13:00")
    assert len(served) == 77
    collapsed, count = collapse_exact_duplicates(served)
    assert count == 1 and len(collapsed) == 76
    assert not collapsed.duplicated(list(RAW.key)).any()
