"""raw_consumption against the replay API the way the real one behaves today:

- limited to one request per dataset per window (a 1 s window for the real API's minute), a
  backfill in several pages completes without a single 429, because every request waits for its
  slot on the request clock kept in the platform's storage; the run's log states the plan first,
  then each wait and each page (concurrent clients: energy_assets_tests/ingestion/test_ratelimit);
- for an hour years after a frozen dataset's last one (DE35 today), the hourly job fails once,
  not retryably, with one message naming the dataset, its last hour and the live datasets.
"""

from __future__ import annotations

import dagster as dg
import pytest

from energy_assets.defs import build_definitions, build_resources
from energy_assets.defs.ingestion import build_ingestion_assets
from energy_assets.defs.partitions import Partitions
from energy_assets.defs.resources import EnergiDataResource
from energy_assets.settings import Settings

WINDOW = 1.0
# Half a window more than the server counts: on a loaded machine a request can arrive late by
# more than the limiter's slack while the next arrives on time.
CLIENT_INTERVAL = WINDOW * 1.5


@pytest.fixture
def settings_for(tmp_path, monkeypatch):
    def make(url: str, **env: str) -> Settings:
        monkeypatch.setenv("ENERGIDATA_API_URL", url)
        monkeypatch.setenv("ENERGY_STORAGE_URL", str(tmp_path / "storage"))
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return Settings.from_env()

    return make


def _range_tags(first: str, last: str) -> dict[str, str]:
    return {
        "dagster/asset_partition_range_start": first,
        "dagster/asset_partition_range_end": last,
    }


def _messages(instance, result) -> list[str]:
    return [entry.user_message for entry in instance.all_logs(result.run_id)]


def test_a_backfill_meeting_the_rate_limit_completes_without_a_429(
    replay_server, shared_slice, settings_for
):
    server = replay_server(shared_slice, rate_limit_per_minute=1, rate_window_seconds=WINDOW)
    settings = settings_for(
        server.url,
        ENERGY_PARTITIONS_START="2022-12-21-16:00",
        ENERGY_API_MIN_INTERVAL_SECONDS=str(CLIENT_INTERVAL),
    )
    [raw] = build_ingestion_assets(Partitions.from_settings(settings), settings.source)
    resources = build_resources(settings) | {
        # Small pages so two days take several requests (the real API serves 100,000 a page).
        "energidata": EnergiDataResource(
            api_url=server.url,
            dataset=settings.dataset,
            page_size=1000,
            min_interval_seconds=CLIENT_INTERVAL,
        )
    }
    instance = dg.DagsterInstance.ephemeral()
    first = dg.materialize(
        [raw],
        resources=resources,
        instance=instance,
        tags=_range_tags("2023-01-02-00:00", "2023-01-03-23:00"),
    )
    assert first.success
    assert server.stats["rate_limited"] == 0
    assert server.request_count == 4  # ceil(48 × 76 / 1000)
    times = sorted(t for t, _ in server.rate_limit.served)
    assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= WINDOW
    log = _messages(instance, first)
    plan = [m for m in log if m.startswith("Plan: 48 hours × 76 series ≈ 3,648 records")]
    assert plan and "4 request(s)" in plan[0]
    waits = [m for m in log if m.startswith("Rate limit: waiting")]
    assert len(waits) == 3  # before pages 2, 3 and 4
    assert log.index(plan[0]) < log.index(waits[0])
    assert any("page 4: 3,648 of 3,648 records (100%)" in m for m in log)


def test_an_hour_after_a_frozen_datasets_last_one_fails_once_naming_the_live_datasets(
    replay_server, shared_slice, settings_for
):
    server = replay_server(shared_slice)  # the DE35 slice as it is: years old
    settings = settings_for(server.url, ENERGY_PARTITIONS_START="2025-06-01-00:00")
    defs = build_definitions(settings)
    result = defs.resolve_job_def("hourly_forecast_job").execute_in_process(
        partition_key="2025-06-01-12:00", raise_on_error=False
    )
    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert [e.step_key for e in failures] == ["raw_consumption"]
    message = failures[0].step_failure_data.user_failure_data.description
    assert message == (
        "ConsumptionDE35Hour is no longer published: its last hour is 2023-06-30T21:00Z, so "
        "2025-06-01T12:00Z will never come (not retried); use a live dataset instead: "
        "ENERGIDATA_DATASET=ConsumptionConsumerCategoryHour or "
        "ENERGIDATA_DATASET=ConsumptionIndustry."
    )
    # The job's op retry policy (3 retries, 300 s apart) was not invoked.
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    # One request found nothing; the spec's last hour then says it never will (no retries, no
    # second request). Data served for such an hour (a replay presenting DE35 as current, as the
    # demo does) is ingested as usual: test_data_after_the_last_hour_is_still_taken_when_served.
    assert server.request_count == 1


def test_data_after_the_last_hour_is_still_taken_when_served(
    replay_server, shared_slice, settings_for
):

    server = replay_server(shared_slice, as_current=True)
    newest = server.newest_published_hour()
    key = newest.strftime("%Y-%m-%d-%H:%M")
    settings = settings_for(server.url, ENERGY_PARTITIONS_START="2025-06-01-00:00")
    [raw] = build_ingestion_assets(Partitions.from_settings(settings), settings.source)
    result = dg.materialize(
        [raw], resources=build_resources(settings), partition_key=key, raise_on_error=False
    )
    assert result.success  # a 2026 hour of "ConsumptionDE35Hour", served, is taken
