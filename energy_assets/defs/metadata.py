"""Metadata every materialisation carries, built the same way for each asset."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dagster as dg

from energy_assets import metadata_keys as meta


def frame_metadata(
    frame: Any, time_column: str, series_columns: Sequence[str], range_run: bool = False
) -> dict[str, Any]:
    """Rows, series, time range and a preview of a pandas frame: what every hourly asset shows.

    In a range run (`is_range_run`) only rows and the time range: see there why.
    """
    import pandas as pd

    rows = len(frame)
    times = pd.to_datetime(frame[time_column]) if rows else None
    metadata: dict[str, Any] = {
        "rows": rows,
        "first_hour_utc": str(times.min()) if times is not None else "",
        "last_hour_utc": str(times.max()) if times is not None else "",
    }
    if not range_run:
        series = frame[list(series_columns)].drop_duplicates().shape[0] if rows else 0
        metadata[meta.SERIES.name] = int(series)
        metadata["preview"] = dg.MetadataValue.md(frame.head(10).to_markdown(index=False))
    return metadata


def is_range_run(context: dg.AssetExecutionContext) -> bool:
    """Whether this step materialises more than one partition (a single-run backfill).

    Dagster copies the output's metadata onto every partition's materialisation event (a year:
    8,760 events per asset, each serialised twice into the event log), so a range run's
    metadata is the run's few facts that hold for each of its partitions: rows and hours of the
    run, the check's summary, the integrity counters, where the objects are (the asset's
    folder). Left out: the preview (the range's first rows say nothing about the others),
    the series count, API and history figures (in the run's log instead). Measured on a
    120-day raw + features backfill on Postgres: 44.2 s with the full metadata, 38.6 s without
    the preview, ~32 s with this set, 31.4 s with no metadata at all.
    """
    if not context.has_partition_key_range:
        return False
    key_range = context.partition_key_range
    return key_range.start != key_range.end


def markdown_table(frame: Any, empty: str = "_nothing to show_", **kwargs: Any) -> dg.MetadataValue:
    """A pandas frame as a markdown table (or `empty` when it has no rows)."""
    if len(frame) == 0:
        return dg.MetadataValue.md(empty)
    return dg.MetadataValue.md(frame.to_markdown(index=False, **kwargs))


def chart(png: bytes, alt: str) -> dg.MetadataValue:
    """A PNG chart shown by the UI (markdown with the image inline as a data: URL)."""
    from energy_assets.reporting.charts import markdown_image

    return dg.MetadataValue.md(markdown_image(png, alt))


def charts(pngs: dict[str, bytes], alts: dict[str, str] | None = None) -> dict[str, Any]:
    """`chart` of each PNG, keyed as given (the alt text defaults to the key)."""
    return {
        key: chart(png, (alts or {}).get(key, key.replace("_", " "))) for key, png in pngs.items()
    }


def link_or_text(text: str) -> dg.MetadataValue:
    """A URL as a link; anything else (a sentence saying how to open it) as text."""
    if text.startswith(("http://", "https://")):
        return dg.MetadataValue.url(text)
    return dg.MetadataValue.text(text)


def dagster_run_tags(context: dg.OpExecutionContext, asset_key: dg.AssetKey) -> dict[str, str]:
    """MLflow run tags linking a run to the Dagster run and the asset it materialises
    (dagster-mlflow's tag names); works in an asset body and in an op of a graph-backed asset."""
    tags = {"dagster_run_id": context.run_id, "dagster_asset": asset_key.to_user_string()}
    if context.has_partition_key:
        tags["dagster_partition"] = context.partition_key
    return tags


def content_hash(frame: Any) -> str:
    """A hash of a pandas frame's records: the same for the same records however they are typed
    or ordered (a frame as built and as read back from parquet hash alike), different when a
    value changed. Columns by name; each value as text (times as UTC ISO strings); sha256 over
    pandas' per-row hashes, sorted. About a millisecond for an hour of raw records."""
    import hashlib

    import numpy as np
    import pandas as pd

    columns = sorted(map(str, frame.columns))
    canonical = pd.DataFrame(index=range(len(frame)))
    for name in columns:
        column = frame[name].reset_index(drop=True)
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            column = column.dt.tz_convert("UTC").dt.tz_localize(None)
        if pd.api.types.is_datetime64_any_dtype(column.dtype):
            text = column.dt.strftime("%Y-%m-%dT%H:%M:%S")
        elif pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(
            column.dtype
        ):
            text = column.astype("float64").map(repr)
        else:
            text = column.astype(str)
        canonical[name] = text.astype(str).to_numpy()
    rows = np.sort(pd.util.hash_pandas_object(canonical, index=False).to_numpy())
    digest = hashlib.sha256(",".join(columns).encode())
    digest.update(rows.tobytes())
    return digest.hexdigest()[:32]
