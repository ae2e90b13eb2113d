"""The rate limit, against the replay API enforcing it on a real socket (a short window instead of
the real API's minute): the shared request clock keeps concurrent clients and processes within the
limit, and without it the 429 + Retry-After path still completes and says why it waited."""

from __future__ import annotations

import multiprocessing
import threading

import pandas as pd
import pytest
import requests

from energy_assets.ingestion.energidata_api import EnergiDataApi
from energy_assets.ingestion.ratelimit import (
    SLACK_SECONDS,
    FileRequestClock,
    MemoryRequestClock,
    RateLimiter,
    backfill_plan,
)
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35

WINDOW = 1.0
# The clients keep half a window more than the server counts: on a loaded CI machine a request
# can reach the server late by more than the limiter's 0.25 s slack, and the next one on time.
CLIENT_INTERVAL = WINDOW * 1.5
START = pd.Timestamp("2023-01-02 00:00")


def _spacings(server) -> list[float]:
    times = sorted(t for t, _ in server.rate_limit.served)
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def test_the_replay_answers_429_with_retry_after_beyond_its_limit(replay_server, shared_slice):
    server = replay_server(shared_slice, rate_limit_per_minute=1, rate_window_seconds=30)
    url = f"{server.url}/dataset/{DE35.dataset}"
    assert requests.get(url, params={"limit": 1}, timeout=10).status_code == 200
    refused = requests.get(url, params={"limit": 1}, timeout=10)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 30
    assert "Rate limit exceeded" in refused.json()["message"]
    assert server.stats["rate_limited"] == 1


def test_concurrent_clients_sharing_the_clock_never_exceed_the_limit(
    replay_server, shared_slice, tmp_path
):
    server = replay_server(shared_slice, rate_limit_per_minute=1, rate_window_seconds=WINDOW)
    waits: list[str] = []

    def fetch(day: int) -> None:
        # Each client has its own clock object on the same folder, as two runs would.
        limiter = RateLimiter(
            FileRequestClock(tmp_path / "clock"), CLIENT_INTERVAL, log=waits.append
        )
        api = EnergiDataApi(server.url, DE35, page_size=1000, rate_limiter=limiter, max_retries=0)
        start = START + pd.Timedelta(days=day)
        frame = api.fetch_hours(start, start + pd.Timedelta(hours=24))
        assert len(frame) == 24 * 76

    threads = [threading.Thread(target=fetch, args=(day,)) for day in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 2 clients × 2 pages, none refused, every arrival a window apart.
    assert server.stats["rate_limited"] == 0
    assert server.request_count == 4
    assert min(_spacings(server)) >= WINDOW
    assert any("Rate limit: waiting" in line for line in waits)


def _reserve_slots(folder: str, count: int, out) -> None:
    clock = FileRequestClock(folder)
    for _ in range(count):
        out.put(clock.reserve(DE35.dataset, 0.5, __import__("time").time()))


def test_the_file_clock_gives_processes_distinct_slots_an_interval_apart(tmp_path):
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    workers = [
        context.Process(target=_reserve_slots, args=(str(tmp_path), 5, out)) for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    slots = sorted(out.get(timeout=20) for _ in range(15))
    for worker in workers:
        worker.join(timeout=20)
    gaps = [b - a for a, b in zip(slots, slots[1:], strict=False)]
    assert min(gaps) == pytest.approx(0.5, abs=1e-6)  # no two processes share a slot


def test_without_the_limiter_a_429_is_waited_out_and_the_wait_is_logged(
    replay_server, shared_slice
):
    server = replay_server(shared_slice, rate_limit_per_minute=1, rate_window_seconds=WINDOW)
    log: list[str] = []
    api = EnergiDataApi(server.url, DE35, page_size=1000, backoff_seconds=0.01, log=log.append)
    frame = api.fetch_hours(START, START + pd.Timedelta(hours=24))
    assert len(frame) == 24 * 76
    assert server.stats["rate_limited"] >= 1
    retries = [line for line in log if "Retry-After" in line]
    assert retries and "HTTP 429" in retries[0] and "waiting" in retries[0]
    assert any("page 2: 1,824 of 1,824 records (100%)" in line for line in log)


def test_the_limiter_is_off_at_zero_and_spaces_a_process_without_storage():
    slept: list[float] = []
    now = [1000.0]
    limiter = RateLimiter(MemoryRequestClock(), 60, sleep=slept.append, now=lambda: now[0])
    assert limiter.wait("X") == 0.0
    assert limiter.wait("X") == pytest.approx(60 + SLACK_SECONDS)
    assert limiter.wait("Y") == 0.0  # per dataset
    off = RateLimiter(MemoryRequestClock(), 0, sleep=slept.append)
    assert off.wait("X") == off.wait("X") == 0.0


def test_a_year_backfill_plan_counts_pages_and_minutes():
    plan = backfill_plan("ConsumptionIndustry", 8760, 294, 100_000, 60)
    assert plan.records == 8760 * 294
    assert plan.requests == 26  # ceil(2,575,440 / 100,000)
    assert plan.floor_minutes == 26
    assert "26 request(s)" in plan.text() and "26.0 min" in plan.text()


def test_the_gcs_clock_keeps_its_record_in_the_bucket(gcs_emulator):
    # Sequential only: gcp-storage-emulator ignores ifGenerationMatch, so the race it guards
    # against (two writers between one read and one write) cannot be staged here.
    from energy_assets.ingestion.ratelimit import GcsRequestClock

    bucket = gcs_emulator.make_bucket()
    first = GcsRequestClock(bucket, "energy_assets/_request_clock")
    second = GcsRequestClock(
        gcs_emulator.client().bucket(bucket.name), "energy_assets/_request_clock"
    )
    assert first.reserve(DE35.dataset, 60, 1000.0) == 1000.0
    assert second.reserve(DE35.dataset, 60, 1010.0) == 1060.0  # read what the other wrote
    assert first.reserve("Other", 60, 1010.0) == 1010.0
    assert bucket.get_blob(f"energy_assets/_request_clock/{DE35.dataset}.json") is not None
