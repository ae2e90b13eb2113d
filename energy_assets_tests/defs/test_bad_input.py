"""Bad source data through the real graph: the replay API serves a corrupted copy of the bundled
slice, `ingestion_backfill_job` runs against it, values land in a local store.

- A conflicting duplicate (two rows for one key, different TotalCon) reaches raw as published,
  fails raw's check (WARN) and features' blocking check, each naming the key and both values;
  an exact duplicate is collapsed and counted in raw's metadata.
- A value blocked in its own hour (negative here) never feeds a later hour's lags or rolling
  statistics, nor the windows drift_report reads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from dagster import AssetCheckSeverity, AssetKey, DagsterInstance

from energy_assets.contracts import CLEAN, FEATURE_COLUMNS, FEATURES, hour_keys
from energy_assets.defs import build_definitions
from energy_assets.monitoring.drift import reference_window
from energy_assets.settings import Settings
from energy_assets.storage.parquet_store import MissingPartitionsError, ParquetStore

BAD_HOUR = pd.Timestamp("2023-01-10 12:00")
HOUR = pd.Timedelta(hours=1)
HISTORY_COLUMNS = [c for c in FEATURE_COLUMNS if c.startswith(("lag_", "rolling_"))]


def _is_bad_key(frame: pd.DataFrame) -> pd.Series:
    return (
        (frame["HourUTC"] == BAD_HOUR)
        & (frame["PriceArea"] == "DK1")
        & (frame["ConsumerType_DE35"] == 111)
    )


@pytest.fixture
def graph(tmp_path, monkeypatch, replay_server):
    """start(frame) -> (definitions, store) on a replay API serving `frame`."""

    def start(frame: pd.DataFrame):
        server = replay_server(frame)
        monkeypatch.setenv("ENERGIDATA_API_URL", server.url)
        monkeypatch.setenv("ENERGY_STORAGE_URL", str(tmp_path / "storage"))
        monkeypatch.setenv("ENERGY_PARTITIONS_START", "2022-12-21-16:00")
        return build_definitions(Settings.from_env()), ParquetStore(str(tmp_path / "storage"))

    return start


def run_range(defs, instance, first: str, last: str):
    tags = {
        "dagster/asset_partition_range_start": first,
        "dagster/asset_partition_range_end": last,
    }
    return defs.resolve_job_def("ingestion_backfill_job").execute_in_process(
        instance=instance, tags=tags, raise_on_error=False
    )


def evaluations(result) -> dict:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def raw_metadata(instance) -> dict:
    event = instance.get_latest_materialization_event(AssetKey("raw_consumption"))
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


@pytest.mark.slow
def test_duplicates_reach_raw_as_published_and_conflicting_ones_block_features(graph, shared_slice):
    conflicting = shared_slice[_is_bad_key(shared_slice)].assign(TotalCon=999_999_999.0)
    # And an exact copy of a record an hour earlier, which says nothing new.
    exact = shared_slice[(shared_slice["HourUTC"] == BAD_HOUR - HOUR)].iloc[[5]]
    # The bad row first: a client that kept "the first row of a key" would keep it.
    defs, store = graph(pd.concat([conflicting, exact, shared_slice], ignore_index=True))
    with DagsterInstance.ephemeral() as instance:
        result = run_range(defs, instance, "2023-01-10-11:00", "2023-01-10-12:00")
        assert not result.success
        # Raw keeps what the source published: both rows of the conflicting key...
        raw = store.read("raw_consumption", "2023-01-10-12:00")
        assert len(raw) == 77
        assert sorted(raw[_is_bad_key(raw)]["TotalCon"]) == [91391.0, 999_999_999.0]
        # ...and the exact copy once, counted.
        assert len(store.read("raw_consumption", "2023-01-10-11:00")) == 76
        metadata = raw_metadata(instance)
        assert metadata["records_served"] == 2 * 76 + 2
        assert metadata["exact_duplicates_collapsed"] == 1
        checks = evaluations(result)
        raw_check = checks["raw_consumption_gx_suite"]
        assert not raw_check.passed and raw_check.severity == AssetCheckSeverity.WARN
        summary = raw_check.metadata["summary"].value
        assert "PriceArea=DK1, ConsumerType_DE35=111" in summary
        assert "TotalCon=999999999.0 and TotalCon=91391.0" in summary
        feature_check = checks["consumption_features_gx_suite"]
        assert not feature_check.passed and feature_check.severity == AssetCheckSeverity.ERROR
        summary = feature_check.metadata["summary"].value
        assert "area=DK1, segment=111" in summary
        assert "energy_consumption=999999999.0 and energy_consumption=91391.0" in summary
        with pytest.raises(MissingPartitionsError):
            store.read_many(FEATURES.name, ["2023-01-10-11:00", "2023-01-10-12:00"])

        # The next hour builds: the conflicting key is treated as missing, never as either value.
        assert run_range(defs, instance, "2023-01-10-13:00", "2023-01-10-13:00").success
        features = store.read(FEATURES.name, "2023-01-10-13:00")
        bad_series = (features["area"] == "DK1") & (features["segment"] == "111")
        assert features.loc[bad_series, "lag_1h"].isna().all()
        assert features.loc[~bad_series, "lag_1h"].notna().all()


@pytest.mark.slow
def test_a_blocked_value_never_reaches_later_lags_rolling_stats_or_drift_inputs(
    graph, shared_slice
):
    corrupted = shared_slice.copy()
    corrupted.loc[_is_bad_key(corrupted), "TotalCon"] = -5000.0
    defs, store = graph(corrupted)
    with DagsterInstance.ephemeral() as instance:
        assert run_range(defs, instance, "2023-01-09-12:00", "2023-01-10-11:00").success
        blocked = run_range(defs, instance, "2023-01-10-12:00", "2023-01-10-12:00")
        assert not blocked.success
        assert not evaluations(blocked)["consumption_features_gx_suite"].passed
        # A day after the bad hour builds and passes its checks...
        later = run_range(defs, instance, "2023-01-10-13:00", "2023-01-11-12:00")
        assert later.success and all(e.passed for e in later.get_asset_check_evaluations())

    def dk1_111(hour: pd.Timestamp) -> pd.Series:
        frame = store.read(FEATURES.name, hour.strftime("%Y-%m-%d-%H:%M"))
        return frame[(frame["area"] == "DK1") & (frame["segment"] == "111")].iloc[0]

    # ...with the bad hour's value treated as missing: no lag, and not in any rolling window.
    assert np.isnan(dk1_111(BAD_HOUR + 24 * HOUR)["lag_24h"])
    source = shared_slice[
        (shared_slice["PriceArea"] == "DK1") & (shared_slice["ConsumerType_DE35"] == 111)
    ].set_index("HourUTC")["TotalCon"]
    window = source[(source.index > BAD_HOUR - HOUR) & (source.index <= BAD_HOUR + 23 * HOUR)]
    window = window[window.index != BAD_HOUR].astype(float)
    row = dk1_111(BAD_HOUR + 23 * HOUR)
    assert row["rolling_mean_24h"] == pytest.approx(window.mean())
    assert row["rolling_std_24h"] == pytest.approx(window.std())

    # drift_report of 2023-01-11 reads that day's features and a reference window before it
    # (no champion: the 28 days before); neither holds the blocked value or anything built on it.
    day = pd.Timestamp("2023-01-11", tz="UTC")
    start, end, _ = reference_window(day, None)
    for keys in (hour_keys(day, day + pd.Timedelta(days=1)), hour_keys(start, end)):
        frame = store.read_many(FEATURES.name, keys, missing_ok=True)
        assert len(frame) and not CLEAN.invalid_rows(frame).any()
        derived = frame[HISTORY_COLUMNS].to_numpy(dtype=float)
        assert not (derived < 0).any() and not (frame.select_dtypes("number") == -5000).any().any()


def test_a_range_run_marks_the_hour_that_failed_its_check(graph, shared_slice):
    """Per-hour check status: in a range run the checks are recorded for each hour, failed for
    the hour with the bad value only, so the partition bar shows which hour it was; the run's
    own evaluation (no partition) is the one alerts report."""
    frame = shared_slice.copy()
    frame.loc[_is_bad_key(frame), "TotalCon"] = -5.0
    defs, _ = graph(frame)
    first, last = "2023-01-10-10:00", "2023-01-10-15:00"
    with DagsterInstance.ephemeral() as instance:
        result = run_range(defs, instance, first, last)
        assert not result.success  # features' blocking check stops the run
        by_partition: dict[tuple[str, str], bool] = {}
        for event in result.all_events:
            if event.event_type_value != "ASSET_CHECK_EVALUATION":
                continue
            data = event.event_specific_data
            if data.partition is not None:
                by_partition[(data.check_name, data.partition)] = data.passed
        hours = hour_keys(pd.Timestamp("2023-01-10 10:00"), pd.Timestamp("2023-01-10 16:00"))
        bad = BAD_HOUR.strftime("%Y-%m-%d-%H:%M")
        for check in ("raw_consumption_gx_suite", "consumption_features_gx_suite"):
            assert {h: by_partition[(check, h)] for h in hours} == {h: h != bad for h in hours}
        # The instance keeps the per-hour verdicts: what the partition bar reads.
        from dagster import AssetCheckKey

        history = instance.event_log_storage.get_asset_check_execution_history(
            AssetCheckKey(AssetKey("raw_consumption"), "raw_consumption_gx_suite"), limit=20
        )
        failed = {record.partition for record in history if record.status.value == "FAILED"}
        assert bad in failed and not (set(hours) - {bad}) & failed
