"""Gap-free automation: a two-day outage is filled by the catch-up sensor, each origin once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from energy_assets.contracts import HOUR_KEY_FORMAT
from energy_assets.defs import keys
from energy_assets.defs.automation import RANGE_END, RANGE_START, build_catch_up_sensor
from energy_assets.forecasting.catch_up import contiguous, newest_publishable, plan_catch_up
from energy_assets.settings import Settings

DELAY = 360
NOW = datetime(2023, 1, 20, 10, 5, tzinfo=UTC)
WINDOW = 168


def _hours(end: datetime, count: int) -> list[datetime]:
    return [end - timedelta(hours=i) for i in range(count - 1, -1, -1)]


def _report(instance: dg.DagsterInstance, key: dg.AssetKey, partitions) -> None:
    for partition in partitions:
        instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))


def _hk(hours) -> list[str]:
    return [h.strftime(HOUR_KEY_FORMAT) for h in hours]


def _scorable(day: str, newest: datetime) -> bool:
    return datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(hours=47) <= newest


def _requested_hours(request: dg.RunRequest) -> list[str]:
    start = datetime.strptime(request.tags[RANGE_START], HOUR_KEY_FORMAT)
    end = datetime.strptime(request.tags[RANGE_END], HOUR_KEY_FORMAT)
    count = int((end - start) / timedelta(hours=1)) + 1
    return [(start + timedelta(hours=i)).strftime(HOUR_KEY_FORMAT) for i in range(count)]


def test_contiguous_runs_and_the_plan_are_pure():
    base = datetime(2023, 1, 1, tzinfo=UTC)
    hours = [base, base + timedelta(hours=1), base + timedelta(hours=5)]
    runs = contiguous(hours)
    assert [(r.start, r.end, r.count) for r in runs] == [
        ("2023-01-01-00:00", "2023-01-01-01:00", 2),
        ("2023-01-01-05:00", "2023-01-01-05:00", 1),
    ]
    plan = plan_catch_up(NOW, DELAY, 3, features_done=[], forecasts_done=[], accuracy_done=[])
    newest = newest_publishable(NOW, DELAY)
    assert [(r.start, r.end) for r in plan.ingest] == [
        tuple(_hk([newest - timedelta(hours=2), newest]))
    ]
    again = plan_catch_up(NOW, DELAY, 3, [], [], [], already_requested=plan.requested)
    assert again.empty


def test_two_day_outage_is_requested_once_in_range_runs():
    settings = Settings.for_home("/tmp/unused-home", publication_delay_hours=DELAY)
    clock = {"now": NOW - timedelta(days=2)}
    sensor = build_catch_up_sensor(settings, window_hours=WINDOW, clock=lambda: clock["now"])
    newest_before = newest_publishable(clock["now"], DELAY)
    before = _hours(newest_before, WINDOW)
    outage = _hours(newest_publishable(NOW, DELAY), 48)
    with dg.DagsterInstance.ephemeral() as instance:
        _report(instance, keys.CONSUMPTION_FEATURES, _hk(before))
        _report(instance, keys.FORECASTS, _hk(before))
        # The daily schedule had scored every day whose actuals were all published.
        days_before = sorted(
            day for day in {h.strftime("%Y-%m-%d") for h in before} if _scorable(day, newest_before)
        )
        _report(instance, keys.FORECAST_ACCURACY, days_before)

        cursor = None

        def tick():
            nonlocal cursor
            result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
            if isinstance(result, dg.SkipReason):
                return []
            cursor = result.cursor
            return result.run_requests

        assert tick() == []  # nothing missing before the outage
        clock["now"] = NOW  # the daemon comes back two days later

        first = tick()
        ingest = [r for r in first if r.job_name == "ingestion_backfill_job"]
        assert len(ingest) == 1 and _requested_hours(ingest[0]) == _hk(outage)
        assert not [r for r in first if r.job_name == "forecasts_backfill_job"]
        assert tick() == []  # asked once, even while the run is still going

        _report(instance, keys.CONSUMPTION_FEATURES, _hk(outage))
        second = tick()
        assert [r.job_name for r in second].count("forecasts_backfill_job") == 1
        forecast = next(r for r in second if r.job_name == "forecasts_backfill_job")
        assert _requested_hours(forecast) == _hk(outage)
        assert not [r for r in second if r.job_name == "ingestion_backfill_job"]

        _report(instance, keys.FORECASTS, _hk(outage))
        third = tick()
        scored = sorted(
            r.partition_key for r in first + second + third if r.job_name == "daily_monitoring_job"
        )
        forecast_hours = set(_hk(outage + before))
        expected_days = sorted(
            day
            for day in {h.strftime("%Y-%m-%d") for h in outage + before}
            if day not in days_before
            and _scorable(day, newest_publishable(NOW, DELAY))
            and all(f"{day}-{h:02d}:00" in forecast_hours for h in range(24))
        )
        assert scored == expected_days and len(expected_days) == 2  # the outage's two days
        assert tick() == []
        # Every missing origin was requested exactly once, over all ticks.
        requested = _requested_hours(ingest[0])
        assert sorted(set(requested)) == sorted(requested) == sorted(_hk(outage))
