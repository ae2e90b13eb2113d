"""Reading published forecasts back, as other programs do: `energy-assets forecasts` prints them.

Forecasts are stored hive-style, one object per origin hour, and the newest origin is copied to a
fixed path (`publish.LATEST_FORECAST_ASSET`):

    <storage>/forecasts/date=YYYY-MM-DD/hour=HH/data.parquet   every origin (FORECASTS columns)
    <storage>/forecasts/latest/data.parquet                    the newest origin

`read_forecasts` returns one origin's rows as the `forecasts` asset wrote them (FORECASTS
columns, tz-aware UTC timestamps), optionally for one area / consumer type; `to_json` and
`forecasts_from_json` round-trip them exactly (floats by their shortest repr, times in ISO UTC).
Every failure is a `ForecastReadError` whose message is one line saying what is wrong and what
to do: storage that is not there or not reachable, an origin never forecast, an unknown series.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import pandas as pd

from energy_assets.contracts import FORECASTS, SERIES_KEYS, InputError, hour_key, hour_text, utc
from energy_assets.forecasting.publish import LATEST_FORECAST_ASSET

if TYPE_CHECKING:
    from energy_assets.storage.parquet_store import ParquetStore

LATEST = "latest"
FORMATS = ("table", "csv", "json")
TIME_COLUMNS = ("forecast_origin", "datetime_utc")
ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"
# How long a reachability probe of a gs:// bucket may take before it counts as unreachable.
PROBE_TIMEOUT_S = 10.0


class ForecastReadError(InputError):
    """Published forecasts cannot be read as asked; the message (one line) says why and what to
    do. An InputError, so the CLI prints it without a traceback and exits 2."""


def parse_origin(text: str) -> pd.Timestamp | None:
    """None for 'latest'; else the UTC hour an ISO time ('2023-01-16T05:00Z') or an hourly
    partition key ('2023-01-16-05:00') names."""
    if text.strip().lower() == LATEST:
        return None
    raw = text.strip()
    try:
        if len(raw) == 16 and raw[10] == "-":  # a partition key: 2023-01-16-05:00
            stamp = pd.to_datetime(raw, format="%Y-%m-%d-%H:%M").tz_localize("UTC")
        else:
            stamp = utc(raw)
    except (ValueError, TypeError):
        raise ForecastReadError(
            f"--origin {text!r} is neither 'latest' nor an ISO hour like 2023-01-16T05:00Z"
        ) from None
    if stamp != stamp.floor("h"):
        raise ForecastReadError(f"--origin {text!r} is not a whole hour: origins are hours (UTC)")
    return stamp


def open_store(storage_url: str, gcp_project: str | None = None) -> ParquetStore:
    """The store at `storage_url`; a gs:// client from the environment's credentials (or the
    emulator named by STORAGE_EMULATOR_HOST)."""
    from energy_assets.storage.parquet_store import ParquetStore

    client = None
    if storage_url.startswith("gs://"):
        try:
            from google.cloud import storage

            client = storage.Client(project=gcp_project)
        except Exception as error:  # no credentials, no project: cannot read the bucket
            raise ForecastReadError(
                f"cannot open {storage_url}: {type(error).__name__}: "
                f"{str(error).splitlines()[0] if str(error) else ''} (set "
                "GOOGLE_APPLICATION_CREDENTIALS or run `gcloud auth application-default login`)"
            ) from None
    try:
        return ParquetStore(storage_url, gcs_client=client)
    except ValueError as error:
        raise ForecastReadError(f"ENERGY_STORAGE_URL: {error}") from None


def check_reachable(store: ParquetStore) -> None:
    """Raise ForecastReadError when the storage folder or bucket is not there or not reachable."""
    if not store.is_gcs:
        assert store.root is not None
        if not store.root.is_dir():
            raise ForecastReadError(
                f"storage folder {store.root} does not exist: set ENERGY_STORAGE_URL to where the "
                "forecasts asset writes (a folder or gs://bucket/prefix)"
            )
        return
    try:
        exists = store.bucket.exists(timeout=PROBE_TIMEOUT_S, retry=None)
    except Exception as error:  # transport, auth, permission: all mean "cannot read there"
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ForecastReadError(
            f"cannot reach gs://{store.bucket_name}: {type(error).__name__}: {reason[:200]} "
            "(check the network, credentials and ENERGY_STORAGE_URL)"
        ) from None
    if not exists:
        raise ForecastReadError(
            f"bucket gs://{store.bucket_name} does not exist: check ENERGY_STORAGE_URL"
        )


def _read(store: ParquetStore, asset: str, key: str | None) -> pd.DataFrame | None:
    from energy_assets.storage.parquet_store import MissingPartitionsError

    try:
        return store.read(asset, key)
    except MissingPartitionsError:
        return None


def newest_origin(store: ParquetStore) -> pd.Timestamp | None:
    """The origin of `forecasts/latest`, or None when nothing was published yet."""
    latest = _read(store, LATEST_FORECAST_ASSET, None)
    if latest is None or latest.empty:
        return None
    return utc(latest["forecast_origin"].max())


def read_forecasts(
    store: ParquetStore,
    origin: str | pd.Timestamp | None = LATEST,
    area: str | None = None,
    segment: str | None = None,
    quality: str | None = None,
) -> pd.DataFrame:
    """One origin's FORECASTS rows (the newest with `origin` 'latest' or None), optionally for
    one area and / or segment and / or one `quality` (`model` / `fallback`), sorted by series
    and horizon. Every row carries `quality` and `quality_reason` (partitions written before
    the labels were all the model's)."""
    from energy_assets.forecasting.fallback import QUALITY_VALUES, with_quality

    if quality is not None and quality not in QUALITY_VALUES:
        raise ForecastReadError(f"--quality {quality!r} is not one of {', '.join(QUALITY_VALUES)}")
    stamp = parse_origin(origin) if isinstance(origin, str) else origin
    check_reachable(store)
    if stamp is None:
        frame = _read(store, LATEST_FORECAST_ASSET, None)
        if frame is None:
            raise ForecastReadError(
                f"no forecast published yet in {store.url} "
                f"({LATEST_FORECAST_ASSET}/data.parquet): materialise the forecasts asset first"
            )
    else:
        frame = _read(store, FORECASTS.name, hour_key(stamp))
        if frame is None:
            newest = newest_origin(store)
            hint = (
                f"the newest published origin is {hour_text(newest)}"
                if newest is not None
                else "nothing is published yet"
            )
            raise ForecastReadError(
                f"no forecast for origin {hour_text(stamp)} in {store.url} "
                f"({store.relpath(FORECASTS.name, hour_key(stamp))}): {hint}"
            )
    frame = with_quality(frame)
    selected = frame
    if quality is not None:
        selected = selected[selected["quality"] == quality]
    if area is not None:
        selected = selected[selected["area"].astype(str).str.upper() == area.upper()]
    if segment is not None:
        selected = selected[selected["segment"].astype(str).str.lower() == str(segment).lower()]
    if selected.empty:
        asked = ", ".join(
            f"{name} {value}"
            for name, value in (("area", area), ("segment", segment), ("quality", quality))
            if value is not None
        )
        areas = ", ".join(sorted(frame["area"].astype(str).unique()))
        segments = sorted(frame["segment"].astype(str).unique())
        # Several hundred segments (ConsumptionIndustry) would be a screenful: name the first.
        types = ", ".join(segments[:12]) + (
            f", … ({len(segments)} in all; `--format csv` lists them)" if len(segments) > 12 else ""
        )
        raise ForecastReadError(
            f"no series with {asked} in the forecast from {hour_text(frame['forecast_origin'].max())}: "
            f"areas are {areas}; segments are {types}"
        )
    columns = [c for c in FORECASTS.names if c in selected.columns]
    order = [*SERIES_KEYS, "horizon_hours"]
    return selected[columns].sort_values(order, kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- formats


def _jsonable(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return utc(value).strftime(ISO_UTC)
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_json(forecasts: pd.DataFrame) -> str:
    """A JSON array of row objects (FORECASTS columns; times ISO UTC, floats exact)."""
    records = [
        {column: _jsonable(value) for column, value in zip(forecasts.columns, row, strict=True)}
        for row in forecasts.itertuples(index=False, name=None)
    ]
    return json.dumps(records, indent=None, separators=(",", ":"))


def forecasts_from_json(text: str) -> pd.DataFrame:
    """`to_json`'s output back as the FORECASTS frame (tz-aware UTC times, string segments)."""
    frame = pd.DataFrame(json.loads(text))
    for column in TIME_COLUMNS:
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], utc=True)
    if "segment" in frame:
        frame["segment"] = frame["segment"].astype(str)
    if "horizon_hours" in frame:
        frame["horizon_hours"] = frame["horizon_hours"].astype("int64")
    for column in ("prediction", "p10", "p50", "p90", "prediction_lower", "prediction_upper"):
        if column in frame:
            frame[column] = frame[column].astype("float64")
    return frame


def to_csv(forecasts: pd.DataFrame) -> str:
    """CSV with a header row; times ISO UTC, floats at full precision."""
    out = forecasts.copy()
    for column in TIME_COLUMNS:
        if column in out:
            out[column] = out[column].dt.strftime(ISO_UTC)
    return out.to_csv(index=False)


def to_table(forecasts: pd.DataFrame) -> str:
    """A screen for people: one header line, then one row per series and hour in kWh."""
    origin = forecasts["forecast_origin"].max()
    versions = ", ".join(sorted(forecasts["model_version"].astype(str).unique()))
    n_series = forecasts[SERIES_KEYS].drop_duplicates().shape[0]
    labelled = "quality" in forecasts.columns
    fallback = forecasts[forecasts["quality"] == "fallback"] if labelled else forecasts.iloc[0:0]
    n_fallback = fallback[SERIES_KEYS].drop_duplicates().shape[0]
    header = (
        f"forecast from {hour_text(origin)} · model v{versions} · {n_series} series × "
        f"{forecasts['horizon_hours'].nunique()} h · kWh, 80% interval"
        + (f" · {n_fallback} series on the fallback (quality)" if n_fallback else "")
    )
    shown = pd.DataFrame(
        {
            "hour (UTC)": forecasts["datetime_utc"].dt.strftime("%Y-%m-%d %H:%M"),
            "area": forecasts["area"],
            "segment": forecasts["segment"],
            "h": forecasts["horizon_hours"],
            "prediction": forecasts["prediction"].map("{:,.1f}".format),
        }
    )
    for column, label in (("prediction_lower", "lower"), ("prediction_upper", "upper")):
        if column in forecasts:
            shown[label] = forecasts[column].map(lambda v: "" if pd.isna(v) else f"{v:,.1f}")
    if labelled:
        shown["quality"] = forecasts["quality"]
        if n_fallback:
            shown["why"] = forecasts["quality_reason"].fillna("")
    return header + "\n" + shown.to_string(index=False)


def render(forecasts: pd.DataFrame, fmt: str) -> str:
    """`forecasts` in one of FORMATS."""
    if fmt == "json":
        return to_json(forecasts)
    if fmt == "csv":
        return to_csv(forecasts).rstrip("\n")
    if fmt == "table":
        return to_table(forecasts)
    raise ForecastReadError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
