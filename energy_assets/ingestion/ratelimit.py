"""One request per dataset per interval, across every process of the deployment (no Dagster).

Energi Data Service accepts one request per dataset per minute per IP address (HTTP 429 beyond
that, since 2025-08-26). A Dagster concurrency pool keeps two steps from calling the API at the
same time, but not two runs one after the other: a run that ends at 12:00:10 and the next one
that starts at 12:00:20 would still be 10 s apart. So every request first reserves a slot on a
shared *request clock*: a small record per dataset holding the time of the last reserved request,
kept where the platform stores its data (a local folder: a file under an fcntl lock; gs://: an
object updated with a generation precondition). Reserving is atomic, so concurrent processes get
distinct slots at least `interval_seconds` apart, and each one sleeps until its own slot.

`backfill_plan` estimates what a backfill costs at that rate (requests, minutes) before it starts.
"""

from __future__ import annotations

import fcntl
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

# The real API's limit: one request per dataset per minute per IP address.
REAL_API_INTERVAL_SECONDS = 60.0
# Slack added to every interval: the clock spaces *sends*, the API counts *arrivals*, and a few
# milliseconds of network jitter must never put two arrivals inside its window.
SLACK_SECONDS = 0.25
CLOCK_FOLDER = "_request_clock"


class RequestClock(Protocol):
    def reserve(self, dataset: str, interval_seconds: float, now: float) -> float:
        """Atomically reserve the next request slot for `dataset`: max(now, last + interval);
        record it as the last one and return it (epoch seconds)."""
        ...


def _next_slot(last: float | None, interval_seconds: float, now: float) -> float:
    return now if last is None else max(now, last + interval_seconds)


class MemoryRequestClock:
    """The clock of one process (threads share it); for a client used without shared storage."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}

    def reserve(self, dataset: str, interval_seconds: float, now: float) -> float:
        with self._lock:
            slot = _next_slot(self._last.get(dataset), interval_seconds, now)
            self._last[dataset] = slot
            return slot

    def __str__(self) -> str:
        return "this process"


class FileRequestClock:
    """`<folder>/<dataset>.json` per dataset, read and written under an exclusive fcntl lock
    (shared by every process on the machine, or on a file system with working POSIX locks)."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self._threads = threading.Lock()  # flock is per open file: threads need their own lock

    def reserve(self, dataset: str, interval_seconds: float, now: float) -> float:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{dataset}.json"
        with self._threads, open(path, "a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                handle.seek(0)
                slot = _next_slot(_read_last(handle.read()), interval_seconds, now)
                handle.seek(0)
                handle.truncate()
                handle.write(json.dumps({"dataset": dataset, "last_request_at": slot}))
                handle.flush()
                return slot
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def __str__(self) -> str:
        return str(self.folder)


class GcsRequestClock:
    """`gs://bucket/<prefix>/<dataset>.json` per dataset, written only if its generation is the
    one read (a concurrent writer makes the write fail with 412, and the reservation is redone)."""

    def __init__(self, bucket: Any, prefix: str, attempts: int = 20) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.attempts = attempts

    def reserve(self, dataset: str, interval_seconds: float, now: float) -> float:
        from google.api_core.exceptions import PreconditionFailed

        name = f"{self.prefix}/{dataset}.json" if self.prefix else f"{dataset}.json"
        for _ in range(self.attempts):
            blob = self.bucket.get_blob(name)
            generation = 0 if blob is None else int(blob.generation)
            last = None if blob is None else _read_last(blob.download_as_text())
            slot = _next_slot(last, interval_seconds, now)
            record = json.dumps({"dataset": dataset, "last_request_at": slot})
            try:
                self.bucket.blob(name).upload_from_string(
                    record, content_type="application/json", if_generation_match=generation
                )
            except PreconditionFailed:
                continue  # another process reserved a slot between our read and write
            return slot
        raise RuntimeError(
            f"could not reserve a request slot for {dataset} at gs://{self.bucket.name}/{name} "
            f"after {self.attempts} attempts: too many processes are racing for it"
        )

    def __str__(self) -> str:
        return f"gs://{self.bucket.name}/{self.prefix}"


def _read_last(text: str) -> float | None:
    if not text.strip():
        return None
    try:
        return float(json.loads(text)["last_request_at"])
    except (ValueError, KeyError, TypeError):
        return None  # a garbled record costs at most one request too early, not a failed run


class RateLimiter:
    """Waits before each request until the dataset's next slot on the shared clock.

    `interval_seconds` 0 turns it off; slots are `interval_seconds + slack_seconds` apart. `log`
    receives one line per wait, with its reason.
    """

    def __init__(
        self,
        clock: RequestClock,
        interval_seconds: float = REAL_API_INTERVAL_SECONDS,
        log: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.time,
        slack_seconds: float = SLACK_SECONDS,
    ) -> None:
        if interval_seconds < 0:
            raise ValueError(f"interval_seconds must be 0 or more, got {interval_seconds}")
        self.clock = clock
        self.interval_seconds = interval_seconds
        self.log = log
        self.sleep = sleep
        self.now = now
        self.slack_seconds = slack_seconds
        self.waited_seconds = 0.0

    def wait(self, dataset: str) -> float:
        """Block until this process may send its next request for `dataset`; the seconds waited."""
        if self.interval_seconds <= 0:
            return 0.0
        spacing = self.interval_seconds + self.slack_seconds
        slot = self.clock.reserve(dataset, spacing, self.now())
        delay = slot - self.now()
        if delay <= 0:
            return 0.0
        if self.log is not None:
            self.log(
                f"Rate limit: waiting {delay:.1f}s before the next {dataset} request (one request "
                f"per {self.interval_seconds:g}s per dataset, shared through {self.clock})"
            )
        self.sleep(delay)
        self.waited_seconds += delay
        return delay


@dataclass(frozen=True)
class BackfillPlan:
    """What fetching `hours` hours of a dataset costs: records, requests and minutes at the rate
    limit (the first request goes at once, each further one waits an interval)."""

    dataset: str
    hours: int
    series: int
    page_size: int
    interval_seconds: float

    @property
    def records(self) -> int:
        return self.hours * self.series

    @property
    def requests(self) -> int:
        return max(1, math.ceil(self.records / self.page_size))

    @property
    def wait_seconds(self) -> float:
        """Rate-limit waits alone (one interval between consecutive requests)."""
        return (self.requests - 1) * self.interval_seconds

    @property
    def floor_minutes(self) -> float:
        """The wall time at one request per interval, counting one interval per request."""
        return self.requests * self.interval_seconds / 60

    def text(self) -> str:
        return (
            f"Plan: {self.hours:,} hours × {self.series} series ≈ {self.records:,} records of "
            f"{self.dataset} → {self.requests} request(s) of up to {self.page_size:,} records; "
            f"at one request per {self.interval_seconds:g}s that is about "
            f"{self.floor_minutes:.1f} min"
        )


def backfill_plan(
    dataset: str, hours: int, series: int, page_size: int, interval_seconds: float
) -> BackfillPlan:
    return BackfillPlan(dataset, hours, max(1, series), page_size, interval_seconds)
