"""`day_ahead_forecasts` and `intraday_forecasts`: forecasts of the hours still ahead, as issued.

Thin: each partition is one issue time; the body reads the settled features published by then,
fits the product model on them (forecasting/products.py: every input from what was known at the
issue time) and issues the vintage. A vintage already stored is KEPT, never re-issued: a forecast
issued at T is the record of what was known at T, and a re-run days later would see corrections
published since (the run says so in its metadata and writes nothing).
"""

from typing import Any

import dagster as dg

from energy_assets.contracts import (
    CLEAN_COLUMNS,
    DANISH_TZ,
    DAY_AHEAD_FORECASTS,
    DAY_AHEAD_ISSUE_TIME,
    FEATURES,
    HOUR_KEY_FORMAT,
    INTRADAY_FORECASTS,
    Table,
    hour_text,
)
from energy_assets.defs import keys
from energy_assets.defs.io_manager import PARTITION_COLUMN
from energy_assets.defs.metadata import chart
from energy_assets.defs.partitions import Partitions
from energy_assets.defs.product_checks import (
    checked_vintage,
    fallback_metadata,
    kept_vintage,
    product_check_specs,
)
from energy_assets.defs.resources import GreatExpectationsResource, StorageResource
from energy_assets.sources import SourceSpec

DAY_AHEAD_FORECASTS_KEY = dg.AssetKey(DAY_AHEAD_FORECASTS.name)
INTRADAY_FORECASTS_KEY = dg.AssetKey(INTRADAY_FORECASTS.name)


# Lineage only: a vintage reads the window of features published by its issue time, hours
# before its own partition (and in another time zone for the day-ahead), straight from storage.
SETTLED_DATA = dg.AssetDep(keys.CONSUMPTION_FEATURES, partition_mapping=dg.LastPartitionMapping())


class ProductConfig(dg.Config):
    """issue_time: local (Europe/Copenhagen) HH:MM of the day-ahead issue (ignored by the
    intraday, issued at its partition hour). lag_hours: the settled data's publication lag
    (default: the dataset's spec). The product model is fitted at issue time on the
    `training_window_days` published by then; `params` overrides its LightGBM parameters."""

    issue_time: str = DAY_AHEAD_ISSUE_TIME
    lag_hours: int | None = None
    training_window_days: int = 56
    params: dict[str, Any] = {}
    charts: bool = True


def _area_totals(store: Any, product: str, issued_at: Any, settled: Any) -> tuple[Any, str]:
    """Each area's total forecast from the real-time feed (`realtime_load`, forecasting/
    area_totals.py), scaled to the segments' unit and share of it, and why; (None, why not)
    when the feed is not stored near the issue time, too stale, or too short to train on: then
    the segments' sum is the total (level_source "settled")."""
    import pandas as pd

    from energy_assets.contracts import REALTIME_LOAD, hour_keys
    from energy_assets.forecasting import area_totals

    newest = area_totals.newest_known_hour(issued_at)
    # A cheap probe first: a deployment without the feed reads a few absent objects, not a year.
    recent = hour_keys(newest - pd.Timedelta(hours=area_totals.MAX_FEED_GAP_HOURS), newest)
    if store.read_many(REALTIME_LOAD.name, recent, missing_ok=True).empty:
        return None, (
            f"no realtime_load stored in the {area_totals.MAX_FEED_GAP_HOURS} h before "
            f"{hour_text(newest)}: segments summed (settled level)"
        )
    days = area_totals.DEFAULT_TRAINING_DAYS + area_totals.HISTORY_HOURS // 24
    window = hour_keys(newest - pd.Timedelta(days=days), newest + pd.Timedelta(hours=1))
    feed = store.read_many(REALTIME_LOAD.name, window, missing_ok=True)
    weather, weather_reason = _weather_as_issued(store, product, issued_at, days)
    try:
        result = area_totals.area_totals_for_product(feed, issued_at, product, weather=weather)
        if not result.available:
            return None, f"{result.reason}: segments summed (settled level)"
        totals = area_totals.totals_for_segments(result.table, settled, feed)
    except ValueError as error:  # too little of the feed to train on, or no overlap to scale
        return None, f"real-time area totals unavailable ({error}): segments summed"
    why = f"real-time area totals, scaled to the segments' share of them; {weather_reason}"
    # Whether the target day's weather went in: the products' `weather_used` (it enters through
    # the area totals' level; the settled segment model reads none).
    totals.attrs["weather_used"] = weather is not None
    return totals, f"{why}; {result.reason}" if result.reason else why


def _weather_as_issued(store: Any, product: str, issued_at: Any, days: int) -> tuple[Any, str]:
    """The weather the area totals read (forecasting/products.weather_as_issued: observed up to
    the issue hour, the target hours as forecast at or before it), and what was used; (None,
    why) when the stored forecasts issued by then do not reach every target hour (the `weather`
    table keeps leads 1..WEATHER_LEAD_HOURS) or none is stored. A cheap probe of the last
    hours' issues first; the year of observations only when the forecast covers the targets."""
    import pandas as pd

    from energy_assets.contracts import WEATHER, WEATHER_LEAD_HOURS, hour_keys
    from energy_assets.forecasting import products

    issue_hour = pd.Timestamp(issued_at).floor("h")
    targets = products.targets_for(product, issued_at)
    after = issue_hour + pd.Timedelta(hours=1)
    probe = store.read_many(
        WEATHER.name, hour_keys(issue_hour - pd.Timedelta(hours=6), after), missing_ok=True
    )
    if probe.empty:
        return None, "no weather issued by the issue hour stored: area totals without weather"
    _, missing = products.weather_as_issued(probe, issued_at, targets)
    if len(missing):
        reach = int((missing.max() - issue_hour) / pd.Timedelta(hours=1))
        stored = int(probe["lead_hours"].max())
        return None, (
            f"the weather forecasts stored reach {stored} h (the table keeps "
            f"{WEATHER_LEAD_HOURS}); {len(missing)} target "
            f"hour(s) up to lead {reach} h have none issued by the issue hour: area totals "
            "without weather"
        )
    rows = store.read_many(
        WEATHER.name, hour_keys(issue_hour - pd.Timedelta(days=days), after), missing_ok=True
    )
    frame, _ = products.weather_as_issued(rows, issued_at, targets)
    return frame, "weather as issued by the issue hour for the target hours"


def issue_vintage(
    context: dg.AssetExecutionContext,
    table: Table,
    product: str,
    issued_at: Any,
    config: ProductConfig,
    storage: StorageResource,
    default_lag_hours: int,
    gx: GreatExpectationsResource,
    spec: SourceSpec | None = None,
) -> Any:
    """The product frame for one issue time and its GX check (defs/product_checks.py); nothing
    written when the vintage is already stored. `spec`: the dataset whose series catalogue says
    which series are expected (each gets a row per target: the model's or a labelled fallback)."""
    import pandas as pd

    from energy_assets.contracts import hour_keys
    from energy_assets.features.plausibility import without_implausible
    from energy_assets.forecasting import products

    store = storage.store()
    key = context.partition_key
    stored = store.read_many(table.name, [key], missing_ok=True)
    if len(stored):
        context.log.info(f"{table.name} {key} was issued before: kept as issued, not re-issued")
        kept = {"vintage": "kept as issued (already stored)", "rows": len(stored)}
        targets = products.targets_for(product, issued_at)
        yield from kept_vintage(table, stored, targets, kept, gx.validator())
        return
    lag = int(config.lag_hours if config.lag_hours is not None else default_lag_hours)
    origin = products.data_origin(issued_at, lag)
    start = origin - pd.Timedelta(days=config.training_window_days) + pd.Timedelta(hours=1)
    features = store.read_many(
        FEATURES.name, hour_keys(start, origin + pd.Timedelta(hours=1)), missing_ok=True
    )
    if features.empty or not (features[FEATURES.time_column] == origin).any():
        raise dg.Failure(
            description=(
                f"Cannot issue the {product} forecast of {hour_text(issued_at)}: no "
                f"consumption_features at its data origin {hour_text(origin)} (the newest hour "
                f"published {lag} h before). Materialise raw_consumption and "
                "consumption_features up to that hour (job ingestion_backfill_job) and retry."
            )
        )
    history = without_implausible(features)[CLEAN_COLUMNS]
    targets = products.targets_for(product, issued_at)
    forecaster = products.train_product_forecaster(history, lag, config.params)
    model_version = f"product-lag{lag}h@{hour_text(origin)}"
    totals, level_reason = _area_totals(store, product, issued_at, history)
    if totals is None:
        context.log.info(level_reason)
    expected: frozenset[tuple[str, str]] = frozenset()
    if spec is not None:
        from energy_assets.monitoring.series_catalogue import load_catalogue

        expected = load_catalogue(store, spec).expected
    frame = products.issue_forecast(
        forecaster,
        history,
        issued_at,
        targets,
        lag,
        model_version,
        area_totals=totals,
        expected=expected,
    )
    frame, band = _band_from_track_record(store, table, product, issued_at, lag, frame, history)
    # The weather enters through the area totals' level (their model reads it).
    frame["weather_used"] = totals is not None and bool(totals.attrs.get("weather_used"))
    active = history[history[FEATURES.time_column] == origin][["area", "segment"]]
    unforecastable = {key for key, _ in frame.attrs.get("unforecastable", [])}
    # Every series with data at the origin, and every expected one with any value to forecast
    # from, must have every target hour (the check's completeness grid).
    series = sorted(
        {(str(a), str(s)) for a, s in active.itertuples(index=False)}
        | (set(expected) - unforecastable)
    )
    if unforecastable:
        context.log.warning(
            f"{len(unforecastable)} expected series have no value at all in the "
            f"{config.training_window_days} days read and got no row: "
            + ", ".join(f"{a}/{s}" for a, s in sorted(unforecastable)[:10])
        )
    metadata = {
        "issued_at": hour_text(issued_at),
        "data_origin": hour_text(origin),
        "publication_lag_hours": lag,
        "targets": f"{hour_text(targets[0])} .. {hour_text(targets[-1])}",
        "target_hours": len(targets),
        "lead_hours": f"{int(frame['lead_hours'].min())} .. {int(frame['lead_hours'].max())}",
        "series": len(series),
        "rows": len(frame),
        "level_source": str(frame["level_source"].iloc[0]),
        "level_source_reason": level_reason,
        "band": band,
        "weather_used": bool(frame["weather_used"].any()),
        **fallback_metadata(frame),
        "unforecastable": len(unforecastable),
        "model_version": model_version,
        "fit_seconds": round(float(forecaster.fit_seconds or 0.0), 1),
    }
    if config.charts:
        metadata.update(product_chart_metadata(context, frame, history))
    yield from checked_vintage(context, table, frame, targets, series, metadata, gx.validator())


def _band_from_track_record(
    store: Any, table: Table, product: str, issued_at: Any, lag: int, frame: Any, history: Any
) -> tuple[Any, str]:
    """The vintage with its p10 / p90 recalibrated on the product's own published track record
    (forecasting/products.band_from_track_record: the newest 14 stored vintages whose actuals
    were published by this issue), and what the band is."""
    import pandas as pd

    from energy_assets.forecasting import products

    if product != products.DAY_AHEAD:
        return frame, "the model's band (the intraday band is not calibrated yet)"
    day = pd.Timestamp(issued_at).tz_convert(DANISH_TZ).normalize().tz_localize(None)
    span = int(lag) // 24 + 3 + products.BAND_TRACK_RECORD_VINTAGES
    keys = [(day - pd.Timedelta(days=k)).strftime("%Y-%m-%d") for k in range(span, 0, -1)]
    past = store.read_many(table.name, keys, missing_ok=True)
    frame, used = products.band_from_track_record(frame, past, history)
    if not used:
        return frame, (
            f"the model's band: fewer than {products.BAND_TRACK_RECORD_VINTAGES} stored vintages "
            "with published actuals to calibrate on"
        )
    return frame, f"split-conformal from the {used} newest vintages with published actuals"


def product_chart_metadata(context: dg.AssetExecutionContext, frame: Any, history: Any) -> dict:
    """The product's chart; one that cannot be drawn is logged, never a failed forecast."""
    from energy_assets.reporting.charts import product_chart

    try:
        png = product_chart(frame, history)
    except Exception as error:  # the forecast matters more than its picture
        context.log.warning(f"product_chart not drawn: {error!r}")
        return {"product_chart": dg.MetadataValue.text(f"not drawn: {error}")}
    return {
        "product_chart": chart(
            png, "published actuals, the unpublished hours, and the forecast ahead of now"
        )
    }


def build_product_assets(
    partitions: Partitions, publication_delay_hours: int, spec: SourceSpec | None = None
) -> list[dg.AssetsDefinition]:
    # Keyed by the issue day in Denmark: the day-ahead's day is a Danish calendar day.
    daily = dg.DailyPartitionsDefinition(
        start_date=partitions.daily.start.strftime("%Y-%m-%d"), timezone=DANISH_TZ
    )

    @dg.asset(
        key=DAY_AHEAD_FORECASTS_KEY,
        partitions_def=daily,
        group_name="forecasting",
        kinds={"lightgbm", "parquet"},
        metadata={PARTITION_COLUMN: DAY_AHEAD_FORECASTS.time_column},
        deps=[SETTLED_DATA],
        check_specs=product_check_specs(DAY_AHEAD_FORECASTS, daily),
        description=(
            "Day-ahead forecast issued on the partition's Danish day at the configured time "
            "(default 10:00 Europe/Copenhagen) for every hour of the next Danish day (23-25 h), "
            "every series, p10/p50/p90 and the lead time of each row, from only the data "
            "published by then. Stored as issued: an existing vintage is kept, never replaced."
        ),
    )
    def day_ahead_forecasts(
        context: dg.AssetExecutionContext,
        config: ProductConfig,
        storage: StorageResource,
        gx: GreatExpectationsResource,
    ):
        from energy_assets.forecasting import products

        issued_at = products.day_ahead_issued_at(context.partition_key, config.issue_time)
        yield from issue_vintage(
            context,
            DAY_AHEAD_FORECASTS,
            products.DAY_AHEAD,
            issued_at,
            config,
            storage,
            publication_delay_hours,
            gx,
            spec,
        )

    @dg.asset(
        key=INTRADAY_FORECASTS_KEY,
        partitions_def=partitions.hourly,
        group_name="forecasting",
        kinds={"lightgbm", "parquet"},
        metadata={PARTITION_COLUMN: INTRADAY_FORECASTS.time_column},
        deps=[SETTLED_DATA],
        check_specs=product_check_specs(INTRADAY_FORECASTS, partitions.hourly),
        description=(
            "Intraday forecast issued at the partition hour (UTC) for that hour to the end of "
            "the next Danish day, every series, p10/p50/p90 and lead time per row, from only "
            "the data published by then. Stored as issued: an existing vintage is kept."
        ),
    )
    def intraday_forecasts(
        context: dg.AssetExecutionContext,
        config: ProductConfig,
        storage: StorageResource,
        gx: GreatExpectationsResource,
    ):
        from energy_assets.contracts import hour_of_key
        from energy_assets.forecasting import products

        issued_at = hour_of_key(context.partition_key)
        yield from issue_vintage(
            context,
            INTRADAY_FORECASTS,
            products.INTRADAY,
            issued_at,
            config,
            storage,
            publication_delay_hours,
            gx,
            spec,
        )

    return [day_ahead_forecasts, intraday_forecasts]


# The runs start this long after the issue time: the hourly ingestion (at :05, retried) must have
# stored the data origin, the hour published by the issue time. The data used is still only what
# was published at the issue time; a run that finds it missing fails and is retried.
RUN_DELAY_MINUTES = 20
_RETRY = dg.RetryPolicy(max_retries=3, delay=300, backoff=dg.Backoff.EXPONENTIAL)

day_ahead_job = dg.define_asset_job(
    "day_ahead_job",
    selection=dg.AssetSelection.assets(DAY_AHEAD_FORECASTS_KEY),
    op_retry_policy=_RETRY,
    description="Issue the day-ahead forecast of tomorrow (the partition is today in Denmark).",
)
intraday_job = dg.define_asset_job(
    "intraday_job",
    selection=dg.AssetSelection.assets(INTRADAY_FORECASTS_KEY),
    op_retry_policy=_RETRY,
    description="Issue the intraday forecast from this hour to the end of tomorrow.",
)


def day_ahead_partition(scheduled: Any) -> str:
    """The day-ahead partition a run at `scheduled` issues: that moment's Danish day."""
    import pandas as pd

    issued = pd.Timestamp(scheduled) - pd.Timedelta(minutes=RUN_DELAY_MINUTES)
    return issued.tz_convert(DANISH_TZ).strftime("%Y-%m-%d")


def intraday_partition(scheduled: Any) -> str:
    """The intraday partition a run at `scheduled` issues: its hour (UTC)."""
    import pandas as pd

    issued = pd.Timestamp(scheduled) - pd.Timedelta(minutes=RUN_DELAY_MINUTES)
    return issued.tz_convert("UTC").floor("h").strftime(HOUR_KEY_FORMAT)


def build_product_schedules(issue_time: str = DAY_AHEAD_ISSUE_TIME) -> list[dg.ScheduleDefinition]:
    hour, minute = (int(part) for part in issue_time.split(":"))
    hour, minute = divmod(hour * 60 + minute + RUN_DELAY_MINUTES, 60)
    hour %= 24
    run_config = {"ops": {DAY_AHEAD_FORECASTS.name: {"config": {"issue_time": issue_time}}}}

    @dg.schedule(
        job=day_ahead_job,
        cron_schedule=f"{minute} {hour} * * *",  # the issue time + RUN_DELAY_MINUTES
        execution_timezone=DANISH_TZ,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"Every day at {issue_time} Danish time: the day-ahead forecast of tomorrow.",
    )
    def day_ahead_schedule(context: dg.ScheduleEvaluationContext):
        key = day_ahead_partition(context.scheduled_execution_time)
        return dg.RunRequest(run_key=key, partition_key=key, run_config=run_config)

    @dg.schedule(
        job=intraday_job,
        cron_schedule=f"{RUN_DELAY_MINUTES} * * * *",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Every hour: the intraday forecast from this hour to the end of tomorrow.",
    )
    def intraday_schedule(context: dg.ScheduleEvaluationContext):
        key = intraday_partition(context.scheduled_execution_time)
        return dg.RunRequest(run_key=key, partition_key=key)

    return [day_ahead_schedule, intraday_schedule]
