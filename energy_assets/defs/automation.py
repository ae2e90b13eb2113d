"""Gap-free automation: after an outage of any length, the missed hours are produced without a
person launching a backfill.

The hourly and daily schedules (`schedules.py`) keep the steady state: one run per tick for the
newest publishable hour and the newest scorable day. A schedule catches up at most 5 missed ticks
(Dagster's `DEFAULT_MAX_CATCHUP_RUNS`), so `catch_up_sensor` looks at the whole window instead:
every tick it compares the partitions that should exist (the newest publishable hour back
`window_hours`, from the dataset's publication lag) with those materialised, and requests one
range run per contiguous gap — raw + features first, then forecasts, then the days' accuracy and
drift — each key once (the cursor remembers what was requested; a failed run is an alert, not a
loop). The decision is `forecasting.catch_up.plan_catch_up`, a pure function.

Why a sensor and not declarative automation: `AutomationCondition.on_missing()` considers only
the newest time window of the partitions (hours that, with an 8-15-day publication lag, the
source cannot have published yet) and requests a run per partition; the range runs here keep a
two-day gap to three runs and a handful of API requests.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import dagster as dg

from energy_assets.contracts import HOUR_KEY_FORMAT
from energy_assets.defs import keys
from energy_assets.defs.jobs import (
    daily_monitoring_job,
    forecasts_backfill_job,
    ingestion_backfill_job,
)
from energy_assets.settings import Settings

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
# Hours of origins the catch-up keeps complete (older gaps are left to a deliberate backfill).
DEFAULT_WINDOW_HOURS = 7 * 24


def build_catch_up_sensor(
    settings: Settings,
    window_hours: int = DEFAULT_WINDOW_HOURS,
    interval_seconds: int = 300,
    clock: Callable[[], datetime] | None = None,
) -> dg.SensorDefinition:
    """`catch_up_sensor` for the settings' publication lag; `clock` (tests) says what "now" is."""
    now_utc = clock or (lambda: datetime.now(UTC))
    delay = settings.publication_delay_hours
    first_hour = datetime.strptime(settings.partitions_start, HOUR_KEY_FORMAT).replace(tzinfo=UTC)

    @dg.sensor(
        name="catch_up_sensor",
        jobs=[ingestion_backfill_job, forecasts_backfill_job, daily_monitoring_job],
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=(
            f"Fills every gap of the last {window_hours} h after an outage: one range run per "
            "contiguous run of missing hours (raw + features, then forecasts), then the missing "
            "days' accuracy and drift; each once."
        ),
    )
    def catch_up_sensor(context: dg.SensorEvaluationContext):
        from energy_assets.forecasting.catch_up import plan_catch_up

        instance = context.instance
        asked = set(json.loads(context.cursor)) if context.cursor else set()
        now = now_utc()
        plan = plan_catch_up(
            now,
            delay,
            window_hours,
            features_done=instance.get_materialized_partitions(keys.CONSUMPTION_FEATURES),
            forecasts_done=instance.get_materialized_partitions(keys.FORECASTS),
            accuracy_done=instance.get_materialized_partitions(keys.FORECAST_ACCURACY),
            already_requested=asked,
            first_hour=first_hour,
        )
        if plan.empty:
            return dg.SkipReason(f"no gap in the last {window_hours} h")
        requests = [
            _range_request(ingestion_backfill_job.name, "ingest", span) for span in plan.ingest
        ]
        requests += [
            _range_request(forecasts_backfill_job.name, "forecast", span) for span in plan.forecast
        ]
        requests += [
            dg.RunRequest(
                job_name=daily_monitoring_job.name, run_key=f"catch-up:score:{day}",
                partition_key=day,
            )
            for day in plan.score_days
        ]  # fmt: skip
        remembered = _prune(asked | plan.requested, now, window_hours, delay)
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(sorted(remembered)))

    return catch_up_sensor


def _range_request(job_name: str, what: str, span) -> dg.RunRequest:
    return dg.RunRequest(
        job_name=job_name,
        run_key=f"catch-up:{what}:{span.start}…{span.end}",
        tags={RANGE_START: span.start, RANGE_END: span.end},
    )


def _prune(asked: set[str], now: datetime, window_hours: int, delay: int) -> set[str]:
    """What was requested and is still inside the window (older keys can never come back)."""
    from energy_assets.forecasting.catch_up import hours_back, newest_publishable

    window = hours_back(newest_publishable(now, delay), window_hours)
    oldest = window[0].strftime(HOUR_KEY_FORMAT) if window else ""
    return {key for key in asked if key.split(":", 1)[1] >= oldest[:10]}
