"""`weather`: for each UTC hour, the weather observed then and the forecast issued then for the
next 48 hours (contracts.WEATHER_LEAD_HOURS), from Open-Meteo (or its replay), per price area or national."""

from datetime import datetime

import dagster as dg

from energy_assets.contracts import (
    WEATHER,
    WEATHER_LEAD_HOURS,
    WEATHER_UNITS,
    hour_text,
)
from energy_assets.defs import keys
from energy_assets.defs.checks import gx_check_specs, validated_output
from energy_assets.defs.io_manager import PARTITION_COLUMN
from energy_assets.defs.metadata import frame_metadata, is_range_run
from energy_assets.defs.partitions import Partitions
from energy_assets.defs.resources import GreatExpectationsResource, WeatherResource
from energy_assets.defs.schedules import newest_publishable_hour

WEATHER_CHECK = "weather_gx_suite"

weather_job = dg.define_asset_job(
    "weather_job",
    selection=dg.AssetSelection.assets(keys.WEATHER),
    description=(
        "Weather for one hour (hourly_weather_schedule) or a range of hours (a backfill: one run, "
        "one request per location)."
    ),
)


def newest_weather_hour(now: datetime) -> str:
    """The hourly partition key of the newest complete UTC hour at `now` (its weather is issued):
    the hour an hour before the current one, as the forecast schedule's delayed hour with a
    delay of one hour."""
    return newest_publishable_hour(now, delay_hours=1)


def build_weather_schedule() -> dg.ScheduleDefinition:
    """Every hour, the weather of the hour that just ended: observed then, forecast as issued then.

    Not the publication-delayed hour the forecast schedule targets: the forecast for an origin
    must read the weather forecast *as issued at that origin*, and a consumption hour is
    published days after it happened. So each hour's weather is stored when it is current, and
    the forecast for that origin reads it days later. A weather run that fails (the API is down)
    never touches the hourly forecast: it is another job, and an origin without weather is
    forecast by the no-weather model (the forecasts' metadata says so).
    """

    @dg.schedule(
        job=weather_job,
        cron_schedule="1 * * * *",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=(
            "Every hour: the weather of the hour that just ended (observed, and the next 48 h "
            "as forecast then), stored for the forecasts that will use it once that hour's "
            "consumption is published."
        ),
    )
    def hourly_weather_schedule(context: dg.ScheduleEvaluationContext):
        partition_key = newest_weather_hour(context.scheduled_execution_time)
        return dg.RunRequest(run_key=partition_key, partition_key=partition_key)

    return hourly_weather_schedule


def build_weather_assets(partitions: Partitions) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=keys.WEATHER,
        partitions_def=partitions.hourly,
        backfill_policy=partitions.backfill,
        group_name="ingestion",
        kinds={"python", "parquet"},
        metadata={PARTITION_COLUMN: WEATHER.time_column},
        check_specs=gx_check_specs(
            WEATHER.name,
            WEATHER_CHECK,
            blocking=True,
            description=(
                "Great Expectations suite generated from the WEATHER contract: temperature "
                "−50…50 °C, wind 0…75 m/s, radiation 0…1500 W/m², known areas, unique "
                "(issued_utc, area, lead_hours), and every hour with leads 0..48 for every area. "
                "Blocking: bad weather is never written, so no forecast uses it."
            ),
        ),
        description=(
            "Weather per issue hour H (one partition per UTC hour): lead 0 = observed at H, "
            f"leads 1..{WEATHER_LEAD_HOURS} = the forecast issued at H for the next hours, per "
            "price area (Open-Meteo at one point per area) or national (area DK). Read from "
            "ENERGY_WEATHER_API_URL. Offline the replay serves DMI's national OBSERVATIONS, so "
            "there the 'forecast' is what was later observed (a perfect forecast). A backfill "
            "over any range is one run."
        ),
    )
    def weather(
        context: dg.AssetExecutionContext,
        weather_api: WeatherResource,
        gx: GreatExpectationsResource,
    ):
        import pandas as pd

        from energy_assets.ingestion.weather_files import issue_table
        from energy_assets.validation.suites import validate_weather

        window = context.partition_time_window
        api = weather_api.api()
        # One request per location covers the whole range plus the last hour's WEATHER_LEAD_HOURS ahead.
        hourly = api.fetch_hours(window.start, window.end + pd.Timedelta(hours=WEATHER_LEAD_HOURS))
        table = issue_table(hourly, window.start, window.end)
        outcome = validate_weather(
            table,
            expected_hours=(window.start, window.end),
            expected_areas=list(api.locations),
            validator=gx.validator(),
        )
        metadata = {
            **frame_metadata(
                table, WEATHER.time_column, WEATHER.series_columns, range_run=is_range_run(context)
            ),
            "units": dg.MetadataValue.json(WEATHER_UNITS),
            "areas": ", ".join(api.locations),
            "api_requests": api.request_count,
        }
        context.log.info(
            f"Fetched weather for {hour_text(window.start)} → {hour_text(window.end)} at "
            f"{len(api.locations)} location(s) in {api.request_count} request(s)"
        )
        yield from validated_output(
            table, outcome, WEATHER_CHECK, WEATHER.name, metadata, blocking=True
        )

    return [weather]
