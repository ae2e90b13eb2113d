"""The replay API against a real socket: the real API's query semantics, faults, as-current mode."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from energy_assets.devtools.replay_api import ReplayServer, _nesting_depth, shift_to_current
from energy_assets.devtools.synth import synthesize
from energy_assets.ingestion.files import read_api_frame
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35
from energy_assets_tests.helpers import stop_process

DATASET = "ConsumptionDE35Hour"


def get(server: ReplayServer, **params) -> requests.Response:
    return requests.get(f"{server.url}/dataset/{server.dataset}", params=params, timeout=10)


def records_frame(response: requests.Response) -> pd.DataFrame:
    return read_api_frame(pd.DataFrame(response.json()["records"]), DE35)


def test_serves_the_shared_file_with_the_real_api_defaults(replay_server, shared_slice_path):
    server = replay_server(shared_slice_path)
    body = get(server).json()
    assert body["total"] == 49_780
    assert body["dataset"] == DATASET
    assert len(body["records"]) == 100  # the real API's default limit
    first = body["records"][0]
    assert list(first) == ["HourUTC", "HourDK", "PriceArea", "ConsumerType_DE35", "TotalCon"]
    # Default order is newest first; timestamps are zone-less ISO strings; TotalCon is a number.
    assert first["HourUTC"] == "2023-01-17T22:00:00"
    assert first["HourDK"] == "2023-01-17T23:00:00"
    assert isinstance(first["TotalCon"], int | float)


def test_start_inclusive_end_exclusive_in_utc(replay_server, shared_slice):
    server = replay_server(shared_slice)
    response = get(
        server, start="2023-01-01T00:00", end="2023-01-01T03:00", timezone="UTC", limit=0
    )
    frame = records_frame(response)
    assert response.json()["total"] == 3 * 76 == len(frame)
    assert sorted(frame["HourUTC"].unique()) == list(
        pd.date_range("2023-01-01T00:00", periods=3, freq="h")
    )


def test_start_end_default_to_danish_time(replay_server, shared_slice):
    """Without timezone (or with timezone=DK) start/end are Danish local time, as in the real API."""
    server = replay_server(shared_slice)
    for params in ({}, {"timezone": "DK"}, {"timezone": "dk"}):
        frame = records_frame(get(server, start="2023-01-01", end="2023-01-02", limit=0, **params))
        assert frame["HourUTC"].min() == pd.Timestamp("2022-12-31T23:00")
        assert frame["HourUTC"].max() == pd.Timestamp("2023-01-01T22:00")
        assert (frame["HourDK"].dt.date == pd.Timestamp("2023-01-01").date()).all()
        assert len(frame) == 24 * 76


def test_filter_sort_offset_limit_match_pandas(replay_server, shared_slice):
    server = replay_server(shared_slice)
    params = dict(
        filter=json.dumps({"PriceArea": ["DK2"], "ConsumerType_DE35": [111, 999]}),
        sort="HourUTC desc, ConsumerType_DE35 desc",
        offset=7,
        limit=25,
    )
    response = get(server, **params)
    expected = (
        shared_slice[
            (shared_slice["PriceArea"] == "DK2")
            & shared_slice["ConsumerType_DE35"].isin([111, 999])
        ]
        .sort_values(["HourUTC", "ConsumerType_DE35"], ascending=False)
        .iloc[7:32]
        .reset_index(drop=True)
    )
    assert response.json()["total"] == 2 * 655
    pd.testing.assert_frame_equal(records_frame(response), expected, check_dtype=False)


def test_limit_zero_returns_everything_and_columns_selects(replay_server, shared_slice):
    server = replay_server(shared_slice)
    assert len(get(server, limit=0).json()["records"]) == len(shared_slice)
    records = get(server, limit=2, columns="HourUTC,TotalCon").json()["records"]
    assert [list(r) for r in records] == [["HourUTC", "TotalCon"]] * 2


def test_unknown_dataset_and_bad_parameters_are_json_errors(replay_server, shared_slice):
    server = replay_server(shared_slice)
    missing = requests.get(f"{server.url}/dataset/NoSuchDataset", timeout=10)
    assert missing.status_code == 404
    assert "NoSuchDataset" in missing.json()["message"]
    for params in ({"start": "yesterday-ish"}, {"limit": "-1"}, {"filter": "{not json"},
                   {"sort": "Nope asc"}, {"timezone": "CET"}):  # fmt: skip
        response = get(server, **params)
        assert response.status_code == 400, params
        assert response.json()["message"]


def test_faults_fail_then_recover_and_are_counted(replay_server, shared_slice):
    server = replay_server(shared_slice)
    server.faults.fail_next(2, status=503, retry_after=3)
    first, second, third = (get(server, limit=1) for _ in range(3))
    assert [first.status_code, second.status_code, third.status_code] == [503, 503, 200]
    assert first.headers["Retry-After"] == "3"
    assert server.stats["dataset_requests"] == 3
    assert server.stats["faults_served"] == 2


def test_admin_endpoint_arms_faults_and_reports_stats(replay_server, shared_slice):
    server = replay_server(shared_slice)
    armed = requests.post(
        f"{server.url}/_replay/faults",
        json={"bad_json_next": {"n": 1}, "drop_field_next": {"n": 1, "field": "TotalCon"}},
        timeout=10,
    )
    assert armed.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(get(server, limit=3).text)
    assert all("TotalCon" not in r for r in get(server, limit=3).json()["records"])
    assert "TotalCon" in get(server, limit=3).json()["records"][0]
    stats = requests.get(f"{server.url}/_replay/stats", timeout=10).json()
    assert stats["dataset_requests"] == 3 and stats["faults_served"] == 2
    assert (
        requests.post(f"{server.url}/_replay/faults", json={"nope": 1}, timeout=10).status_code
        == 400
    )


def test_set_data_swaps_live(replay_server, shared_slice):
    server = replay_server(shared_slice)
    doubled = shared_slice.copy()
    doubled["TotalCon"] = doubled["TotalCon"] * 2
    before = get(server, limit=1).json()["records"][0]["TotalCon"]
    server.set_data(doubled)
    assert get(server, limit=1).json()["records"][0]["TotalCon"] == 2 * before


def test_as_current_shifts_by_whole_weeks_and_publishes_hour_by_hour(replay_server, shared_slice):
    now = {"t": datetime(2026, 11, 23, 10, 37, tzinfo=UTC)}
    delay = 360
    server = replay_server(
        shared_slice, as_current=True, publication_delay_hours=delay, clock=lambda: now["t"]
    )
    expected_last = pd.Timestamp("2026-11-23T10:00") - pd.Timedelta(hours=delay)
    newest = get(server, limit=1, sort="HourUTC desc").json()["records"][0]
    assert pd.Timestamp(newest["HourUTC"]) == expected_last

    shifted = server.data
    offset = (
        shifted["HourUTC"]
        - shared_slice.sort_values(["HourUTC", "PriceArea", "ConsumerType_DE35"])[
            "HourUTC"
        ].to_numpy()
    )
    assert offset.nunique() == 1 and offset.iloc[0] % pd.Timedelta(weeks=1) == pd.Timedelta(0)
    # Smallest such shift: the data's last hour lies within a week after now − delay.
    assert expected_last <= shifted["HourUTC"].max() < expected_last + pd.Timedelta(weeks=1)
    # Weekday and hour of day are unchanged; HourDK is recomputed in Danish time.
    original = shared_slice["HourUTC"]
    assert (shifted["HourUTC"].dt.dayofweek.to_numpy() == original.dt.dayofweek.to_numpy()).all()
    assert (shifted["HourUTC"].dt.hour.to_numpy() == original.dt.hour.to_numpy()).all()
    local = shifted["HourUTC"].dt.tz_localize("UTC").dt.tz_convert("Europe/Copenhagen")
    assert (local.dt.tz_localize(None) == shifted["HourDK"]).all()

    # An hour later one more hour is published.
    total_before = get(server, limit=1).json()["total"]
    now["t"] += timedelta(hours=1)
    assert get(server, limit=1).json()["total"] == total_before + 76


def test_shift_to_current_with_the_real_clock(shared_slice):
    now = pd.Timestamp.now(tz="UTC")
    shifted, weeks = shift_to_current(shared_slice, now, 360)
    assert weeks > 0
    assert shifted["HourUTC"].max() >= now.tz_localize(None) - pd.Timedelta(hours=360)


def test_dst_days_have_23_and_25_local_hours(replay_server):
    data = synthesize(4, "2023-03-24", "2023-11-01", seed=3)
    server = replay_server(data)
    spring = records_frame(get(server, start="2023-03-26", end="2023-03-27", limit=0))
    autumn = records_frame(get(server, start="2023-10-29", end="2023-10-30", limit=0))
    assert spring["HourUTC"].nunique() == 23
    assert autumn["HourUTC"].nunique() == 25
    assert autumn["HourDK"].nunique() == 24  # 02:00 local happens twice


def _ignore_stop_signals() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_cli_prints_its_url_and_serves(shared_slice_path):
    # Started the way a background shell job starts it (stop signals inherited as ignored):
    # SIGTERM must still stop it.
    process = subprocess.Popen(
        [sys.executable, "-m", "energy_assets.devtools.replay_api", "--data",
         str(shared_slice_path), "--port", "0", "--fail-first", "1"],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=_ignore_stop_signals,
    )  # fmt: skip
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        endpoint = f"{url}/dataset/{DATASET}"
        assert requests.get(endpoint, params={"limit": 1}, timeout=10).status_code == 503
        assert requests.get(endpoint, params={"limit": 1}, timeout=10).json()["total"] == 49_780
    finally:
        assert stop_process(process, timeout=10), "the replay API ignored SIGTERM for 10 s"


def test_dynamic_start_relative_to_now(replay_server, shared_slice):
    now = datetime(2023, 1, 10, 12, 30, tzinfo=UTC)
    server = replay_server(shared_slice, clock=lambda: now)
    frame = records_frame(get(server, start="now-PT3H", end="now", timezone="UTC", limit=0))
    assert sorted(frame["HourUTC"].unique()) == list(
        pd.date_range("2023-01-10T10:00", "2023-01-10T12:00", freq="h")
    )
    today = records_frame(get(server, start="StartOfDay", limit=0))  # Danish midnight
    assert today["HourUTC"].min() == pd.Timestamp("2023-01-09T23:00")


@pytest.mark.parametrize(
    ("name", "filter_text", "said"),
    [
        ("deep arrays", "[" * 8_000 + "]" * 8_000, "filter nests too deeply"),
        ("deep objects", '{"a":' * 2_500 + "1" + "}" * 2_500, "filter nests too deeply"),
        ("a list in a list", '{"PriceArea":[["DK1"]]}', "filter nests too deeply"),
        ("too long", json.dumps({"PriceArea": ["DK1"] * 3_000}), "at most 16384 are read"),
        ("a 5000-digit number", '{"ConsumerType_DE35":[' + "9" * 5_000 + "]}", "not valid JSON"),
    ],
)
def test_a_filter_beyond_bounds_is_a_400_not_a_parser_crash(
    replay_server, shared_slice, name, filter_text, said
):
    """The replay API stands for a public API: it bounds what it parses and answers 400, where
    json.loads would raise RecursionError or ValueError past the handler (issue 18)."""
    server = replay_server(shared_slice)
    response = get(server, filter=filter_text)
    assert response.status_code == 400, name
    assert said in response.json()["message"], name
    assert len(response.json()["message"]) < 400, name
    assert get(server, filter='{"PriceArea":["DK1"]}').status_code == 200  # still serving


@given(
    st.recursive(
        st.none() | st.integers() | st.text(alphabet='ab[]{}"\\:,'),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.text(alphabet='k[{"\\', max_size=3), inner, max_size=3)
        ),
        max_leaves=20,
    )
)
def test_nesting_depth_counts_brackets_outside_strings(value):
    def depth(item) -> int:
        if isinstance(item, list):
            return 1 + max(map(depth, item), default=0)
        if isinstance(item, dict):
            return 1 + max(map(depth, item.values()), default=0)
        return 0

    assert _nesting_depth(json.dumps(value)) == depth(value)
