"""Schedules pick the newest publishable partition for the tick time, with run keys per partition."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
from dagster import DagsterInstance, build_schedule_context

from energy_assets.defs.partitions import Partitions
from energy_assets.defs.schedules import (
    build_schedules,
    newest_publishable_hour,
    newest_scorable_day,
)
from energy_assets.defs.weather import build_weather_schedule, newest_weather_hour
from energy_assets.settings import Settings


def schedules(publication_delay_hours: int = 360):
    settings = Settings.from_env().with_overrides(publication_delay_hours=publication_delay_hours)
    hourly, daily = build_schedules(settings)
    return hourly, daily, Partitions.from_settings(settings)


def test_hourly_schedule_targets_now_minus_publication_delay(monkeypatch):
    monkeypatch.setenv("ENERGY_PUBLICATION_DELAY_HOURS", "360")
    hourly_forecast_schedule, _, partitions = schedules(Settings.from_env().publication_delay_hours)
    tick = datetime(2023, 1, 20, 10, 5, tzinfo=UTC)
    with DagsterInstance.ephemeral() as instance:
        context = build_schedule_context(instance=instance, scheduled_execution_time=tick)
        request = hourly_forecast_schedule(context)
    # 15 days before 10:00 on the 20th.
    assert request.partition_key == "2023-01-05-10:00"
    assert request.run_key == "2023-01-05-10:00"
    assert partitions.hourly.has_partition_key(request.partition_key)


def test_publication_delay_is_configurable():
    tick = datetime(2023, 1, 20, 10, 59, tzinfo=UTC)
    assert newest_publishable_hour(tick, delay_hours=0) == "2023-01-20-10:00"
    assert newest_publishable_hour(tick, delay_hours=25) == "2023-01-19-09:00"


def test_dst_tick_uses_utc_hours():
    # 2023-03-26 01:00 UTC is when Denmark jumps from 02:00 to 03:00 local time.
    keys = [
        newest_publishable_hour(datetime(2023, 3, 26, h, 5, tzinfo=UTC), delay_hours=0)
        for h in range(0, 4)
    ]
    assert keys == [f"2023-03-26-0{h}:00" for h in range(0, 4)]


def test_daily_schedule_scores_the_newest_day_with_all_actuals():
    _, daily_monitoring_schedule, partitions = schedules()
    tick = datetime(2023, 1, 20, 6, 30, tzinfo=UTC)
    with DagsterInstance.ephemeral() as instance:
        context = build_schedule_context(instance=instance, scheduled_execution_time=tick)
        request = daily_monitoring_schedule(context)
    day = newest_scorable_day(tick)
    assert request.partition_key == day
    assert partitions.daily.has_partition_key(day)
    # The last target of that day's forecasts (day + 47 h) must already be published.
    published_until = pd.Timestamp(tick).floor("h") - pd.Timedelta(hours=360)
    last_target = pd.Timestamp(day, tz="UTC") + pd.Timedelta(hours=47)
    assert last_target <= published_until
    assert last_target + pd.Timedelta(days=1) > published_until


def test_weather_schedule_stores_the_hour_that_just_ended():
    # Not the publication-delayed hour: a forecast reads the weather as issued at its origin, so
    # each hour's weather is stored while it is current (defs/weather.py).
    schedule = build_weather_schedule()
    partitions = Partitions.from_settings(Settings.from_env())
    tick = datetime(2023, 1, 20, 10, 1, tzinfo=UTC)
    with DagsterInstance.ephemeral() as instance:
        context = build_schedule_context(instance=instance, scheduled_execution_time=tick)
        request = schedule(context)
    assert (request.partition_key, request.run_key) == ("2023-01-20-09:00", "2023-01-20-09:00")
    assert request.job_name in (None, "weather_job")
    assert partitions.hourly.has_partition_key(request.partition_key)
    # A tick at the change of day, in UTC whatever the local clock says.
    assert newest_weather_hour(datetime(2023, 3, 26, 0, 1, tzinfo=UTC)) == "2023-03-25-23:00"
