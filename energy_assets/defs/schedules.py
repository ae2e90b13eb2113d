"""Schedules: every hour the newest publishable hour, every morning the newest scorable day."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from energy_assets.contracts import DAY_KEY_FORMAT, HOUR_KEY_FORMAT
from energy_assets.defs.jobs import daily_monitoring_job, hourly_forecast_job
from energy_assets.settings import DEFAULT_PUBLICATION_DELAY_HOURS, Settings

# A day's forecasts (origins 00:00-23:00) have targets up to 47 h after the day starts.
_LAST_TARGET_OF_DAY = timedelta(hours=47)


def _newest_published(now: datetime, delay_hours: int) -> datetime:
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return hour - timedelta(hours=delay_hours)


def newest_publishable_hour(
    now: datetime, delay_hours: int = DEFAULT_PUBLICATION_DELAY_HOURS
) -> str:
    """Hourly partition key of the newest hour the source should have published by `now`."""
    return _newest_published(now, delay_hours).strftime(HOUR_KEY_FORMAT)


def newest_scorable_day(now: datetime, delay_hours: int = DEFAULT_PUBLICATION_DELAY_HOURS) -> str:
    """Daily partition key of the newest day whose forecasts (24 h past the day) have actuals."""
    last_target = _newest_published(now, delay_hours) - _LAST_TARGET_OF_DAY
    return last_target.strftime(DAY_KEY_FORMAT)


def build_schedules(settings: Settings) -> list[dg.ScheduleDefinition]:
    delay = settings.publication_delay_hours

    @dg.schedule(
        job=hourly_forecast_job,
        cron_schedule="5 * * * *",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Every hour: the newest publishable hour (now minus the publication delay).",
    )
    def hourly_forecast_schedule(context: dg.ScheduleEvaluationContext):
        partition_key = newest_publishable_hour(context.scheduled_execution_time, delay)
        return dg.RunRequest(run_key=partition_key, partition_key=partition_key)

    @dg.schedule(
        job=daily_monitoring_job,
        cron_schedule="30 6 * * *",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Every morning: accuracy and drift for the newest day with published actuals.",
    )
    def daily_monitoring_schedule(context: dg.ScheduleEvaluationContext):
        partition_key = newest_scorable_day(context.scheduled_execution_time, delay)
        return dg.RunRequest(run_key=partition_key, partition_key=partition_key)

    return [hourly_forecast_schedule, daily_monitoring_schedule]
