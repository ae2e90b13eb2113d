"""`raw_consumption`: the API's records for each UTC hour, all series, columns as the API names them."""

import pandas as pd
from dagster import (
    AssetExecutionContext,
    BackfillPolicy,
    Failure,
    MetadataValue,
    asset,
)

from energy_assets.partitions import hourly_partitions
from energy_assets.resources.energidata import EnergiDataClient
from energy_assets.validation.asset_checks import gx_check_specs, validated_output
from energy_assets.validation.suites import validate_raw_consumption

RAW_CHECK = "raw_consumption_gx_suite"


def missing_hours(raw: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> list[pd.Timestamp]:
    """UTC hours in [start, end) with no record at all: not yet published, or lost at the source."""
    expected = pd.date_range(start, end, freq="h", inclusive="left", tz="UTC")
    present = pd.DatetimeIndex(pd.to_datetime(raw["HourUTC"]).unique()).tz_localize("UTC")
    return list(expected.difference(present))


@asset(
    partitions_def=hourly_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    group_name="ingestion",
    kinds={"python", "parquet"},
    metadata={"partition_column": "HourUTC"},
    check_specs=gx_check_specs("raw_consumption", RAW_CHECK, blocking=False),
    description=(
        "Hourly consumption records from Energi Data Service (dataset ENERGIDATA_DATASET), one "
        "partition per UTC hour with every (PriceArea, ConsumerType_DE35) series, columns exactly "
        "as the API names them. A backfill over any range is one run and a few paged requests."
    ),
)
def raw_consumption(context: AssetExecutionContext, energidata: EnergiDataClient):
    window = context.partition_time_window
    start, end = pd.Timestamp(window.start), pd.Timestamp(window.end)
    api = energidata.api()
    raw = api.fetch_hours(start, end)
    absent = missing_hours(raw, start, end)
    if absent:
        shown = ", ".join(h.strftime("%Y-%m-%dT%H:%MZ") for h in absent[:5])
        more = f" and {len(absent) - 5} more" if len(absent) > 5 else ""
        raise Failure(
            description=(
                f"{energidata.dataset} has no records for {len(absent)} hour(s): {shown}{more}. "
                "The source publishes with a delay (about 15 days for DE35); the hour is retried "
                "later — nothing was written."
            ),
            metadata={"missing_hours": len(absent), "first_missing_hour": absent[0].isoformat()},
            allow_retries=True,
        )
    outcome = validate_raw_consumption(raw, expected_hours=(start, end))
    metadata = {
        **frame_metadata(raw, "HourUTC", ["PriceArea", "ConsumerType_DE35"]),
        "api_requests": api.request_count,
        "dataset": energidata.dataset,
    }
    context.log.info(
        f"Fetched {len(raw)} records for {start} → {end} in {api.request_count} requests"
    )
    yield from validated_output(
        raw, outcome, RAW_CHECK, "raw_consumption", metadata, blocking=False
    )


def frame_metadata(frame: pd.DataFrame, time_column: str, series_columns: list[str]) -> dict:
    """Rows, series, time range and a preview: the metadata every hourly asset carries."""
    times = pd.to_datetime(frame[time_column]) if len(frame) else pd.Series(dtype="datetime64[ns]")
    return {
        "rows": len(frame),
        "series": int(frame[series_columns].drop_duplicates().shape[0]) if len(frame) else 0,
        "first_hour_utc": str(times.min()) if len(frame) else "",
        "last_hour_utc": str(times.max()) if len(frame) else "",
        "preview": MetadataValue.md(frame.head(10).to_markdown(index=False)),
    }
