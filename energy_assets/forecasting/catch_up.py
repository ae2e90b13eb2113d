"""What to run after an outage: every missing forecast origin and monitoring day in the window.

Pure Python on hour and day keys (no Dagster, no pandas), so the catch-up sensor stays cheap and
the decision is tested on its own. Dagster's schedules catch up at most 5 missed ticks and
declarative automation's `on_missing` only looks at the newest time window, which for a source
published days late is mostly hours that cannot exist yet; this plans the gap itself.

The plan, for the hourly origins in the window (newest publishable hour back `window_hours`):
- hours whose features are missing are ingested first (raw + features, one range run per
  contiguous run of hours: the API is paged, one request covers weeks);
- origins whose features exist but whose forecast does not are forecast, one range run per
  contiguous run of origins (the model and feature window load once per run);
- days in the window whose forecasts are complete and whose accuracy is missing are scored.
Anything requested once is not requested again (the caller keeps what it requested); a failed
run is an alert for a person, not a loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from energy_assets.contracts import DAY_KEY_FORMAT, HOUR_KEY_FORMAT

# A day's forecasts (origins 00:00-23:00) have targets up to 47 h after the day starts.
LAST_TARGET_OF_DAY = timedelta(hours=47)


@dataclass(frozen=True)
class KeyRange:
    """A contiguous run of partition keys, both ends included."""

    start: str
    end: str
    count: int


@dataclass(frozen=True)
class CatchUpPlan:
    ingest: tuple[KeyRange, ...] = ()
    forecast: tuple[KeyRange, ...] = ()
    score_days: tuple[str, ...] = ()
    # Every key the plan requests, so the caller can remember them.
    requested: frozenset[str] = field(default_factory=frozenset)

    @property
    def empty(self) -> bool:
        return not (self.ingest or self.forecast or self.score_days)


def newest_publishable(now: datetime, delay_hours: int) -> datetime:
    """The newest hour (UTC, on the hour) the source should have published by `now`."""
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return hour - timedelta(hours=delay_hours)


def hours_back(newest: datetime, count: int, first: datetime | None = None) -> list[datetime]:
    """The `count` hours ending at `newest` (oldest first), none before `first`."""
    hours = [newest - timedelta(hours=i) for i in range(count - 1, -1, -1)]
    return [h for h in hours if first is None or h >= first]


def contiguous(hours: Sequence[datetime]) -> list[KeyRange]:
    """Sorted hours as runs of consecutive hours, each a KeyRange of hourly partition keys."""
    runs: list[KeyRange] = []
    start = previous = None
    count = 0
    for hour in sorted(hours):
        if previous is not None and hour - previous == timedelta(hours=1):
            previous, count = hour, count + 1
            continue
        if start is not None and previous is not None:
            runs.append(KeyRange(_hk(start), _hk(previous), count))
        start = previous = hour
        count = 1
    if start is not None and previous is not None:
        runs.append(KeyRange(_hk(start), _hk(previous), count))
    return runs


def plan_catch_up(
    now: datetime,
    delay_hours: int,
    window_hours: int,
    features_done: Iterable[str],
    forecasts_done: Iterable[str],
    accuracy_done: Iterable[str],
    already_requested: Iterable[str] = (),
    first_hour: datetime | None = None,
) -> CatchUpPlan:
    """The runs that fill every gap in the window (see the module docstring).

    `*_done` are partition keys materialised so far; `already_requested` holds keys this plan
    asked for before ("ingest:<hour>", "forecast:<hour>", "score:<day>"), never asked again.
    """
    newest = newest_publishable(now, delay_hours)
    window = hours_back(newest, window_hours, first_hour)
    features, forecasts = set(features_done), set(forecasts_done)
    accuracy, asked = set(accuracy_done), set(already_requested)
    to_ingest = [h for h in window if _hk(h) not in features and f"ingest:{_hk(h)}" not in asked]
    to_forecast = [
        h
        for h in window
        if _hk(h) in features and _hk(h) not in forecasts and f"forecast:{_hk(h)}" not in asked
    ]
    days = sorted({h.strftime(DAY_KEY_FORMAT) for h in window})
    score_days = [
        day
        for day in days
        if _scorable(day, newest)
        and day not in accuracy
        and f"score:{day}" not in asked
        and all(_hk(h) in forecasts for h in _day_hours(day))
    ]
    requested = {f"ingest:{_hk(h)}" for h in to_ingest}
    requested |= {f"forecast:{_hk(h)}" for h in to_forecast}
    requested |= {f"score:{day}" for day in score_days}
    return CatchUpPlan(
        ingest=tuple(contiguous(to_ingest)),
        forecast=tuple(contiguous(to_forecast)),
        score_days=tuple(score_days),
        requested=frozenset(requested),
    )


def _scorable(day: str, newest: datetime) -> bool:
    start = datetime.strptime(day, DAY_KEY_FORMAT).replace(tzinfo=UTC)
    return start + LAST_TARGET_OF_DAY <= newest


def _day_hours(day: str) -> list[datetime]:
    start = datetime.strptime(day, DAY_KEY_FORMAT).replace(tzinfo=UTC)
    return [start + timedelta(hours=h) for h in range(24)]


def _hk(hour: datetime) -> str:
    return hour.strftime(HOUR_KEY_FORMAT)
