"""Late or never coming: a frozen spec's last hour, and a live dataset's newest record (asked of
the replay API with one limit=1 request) against its publication lag."""

from __future__ import annotations

import pandas as pd

from energy_assets.ingestion import freshness
from energy_assets.ingestion.energidata_api import EnergiDataApi
from energy_assets.sources import CONSUMPTION_CONSUMER_CATEGORY_HOUR as CATEGORY
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35


def test_an_hour_after_a_frozen_datasets_last_one_names_the_live_datasets():
    assert freshness.after_last_hour(DE35, pd.Timestamp("2023-06-30 21:00")) is None
    message = freshness.after_last_hour(DE35, pd.Timestamp("2023-06-30 22:00"))
    assert message is not None
    assert "ConsumptionDE35Hour is no longer published" in message
    assert "2023-06-30T21:00Z" in message
    assert "ENERGIDATA_DATASET=ConsumptionConsumerCategoryHour" in message
    assert freshness.after_last_hour(CATEGORY, pd.Timestamp("2030-01-01")) is None  # live


def test_a_live_dataset_is_late_within_its_lag_and_a_margin_and_stalled_beyond():
    now = pd.Timestamp("2026-12-06 12:00", tz="UTC")
    hour = pd.Timestamp("2026-11-20 00:00")
    lag_and_margin = pd.Timedelta(days=9) + freshness.STALLED_MARGIN
    on_time = now.tz_localize(None) - lag_and_margin + pd.Timedelta(hours=1)
    assert freshness.stalled(CATEGORY, on_time, now, hour) is None
    late = freshness.stalled(CATEGORY, on_time - pd.Timedelta(hours=2), now, hour)
    assert late is not None and "ConsumptionConsumerCategoryHour has stopped publishing" in late
    assert "(its lag is 9 days)" in late
    assert "ENERGIDATA_DATASET=ConsumptionIndustry" in late
    assert "no records at all" in (freshness.stalled(CATEGORY, None, now, hour) or "")


def test_the_newest_record_costs_one_request(replay_server, shared_slice):
    server = replay_server(shared_slice)
    api = EnergiDataApi(server.url, DE35)
    assert api.newest_hour() == shared_slice["HourUTC"].max()
    assert server.request_count == 1
