"""Client for Energi Data Service `GET /dataset/<name>` (or the replay API), no Dagster.

`EnergiDataApi(base_url, spec).fetch_hours(start, end)` returns the dataset's RAW frame (its
source spec's `raw` table) for the UTC hours [start, end): the two time columns as naive
datetime64[ns], the series columns (int64 where the spec says the API serves integers, else str),
the value column as float64 in the dataset's own unit (NaN where the API sent null). It asks for
only the spec's columns, pages with `offset` until `total` is reached, and returns every record
served, duplicates included (`collapse_exact_duplicates` drops copies that are equal in every
column; rows sharing a key with different values are left for the checks).

Error policy:
- Retried with exponential backoff + jitter (honouring Retry-After): timeouts, connection errors,
  HTTP 429 and 5xx, and bodies that are not valid JSON (a truncated body is a transport hiccup).
- Not retried: other 4xx (a wrong dataset name or parameter will not fix itself), and JSON that
  parses but breaks the contract (no `records`/`total`, a record without a required field, values
  that do not parse): the source would send the same thing again, so retrying only delays the
  failure. All of them raise EnergiDataError naming the dataset, the hour range and the cause.

Rate limit: with a `RateLimiter` (energy_assets.ingestion.ratelimit) every attempt first waits for
the dataset's next slot on the deployment's shared request clock. Every wait — the limiter's and a
retry's (Retry-After on 429, backoff otherwise) — and every page is reported to `log` with its
reason, so a run's log says why it paused.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import requests

from energy_assets.contracts import DANISH_TZ, hour_range_text, naive_utc, utc
from energy_assets.ingestion import http_retry
from energy_assets.ingestion.ratelimit import RateLimiter
from energy_assets.sources import SourceSpec


class EnergiDataError(RuntimeError):
    """The API could not deliver the requested hours; the message says what to do."""


def empty_raw_frame(spec: SourceSpec) -> pd.DataFrame:
    columns: dict[str, pd.Series] = {
        spec.time_utc: pd.Series(dtype="datetime64[ns]"),
        spec.time_local: pd.Series(dtype="datetime64[ns]"),
    }
    for name in spec.series_columns:
        columns[name] = pd.Series(dtype=np.int64 if name in spec.integer_columns else object)
    columns[spec.value_column] = pd.Series(dtype=np.float64)
    return pd.DataFrame(columns)


def _parse_times(values: pd.Series, field: str, utc_field: bool, context: str) -> pd.Series:
    if values.isna().any():
        raise EnergiDataError(
            f"{context}: field {field} is null in {int(values.isna().sum())} records"
        )
    try:
        parsed = pd.to_datetime(values, format="%Y-%m-%dT%H:%M:%S")
    except (ValueError, TypeError):
        try:  # other ISO-8601 spellings, e.g. "2017-07-14T08:00Z"
            parsed = pd.to_datetime(values, format="ISO8601")
        except (ValueError, TypeError):
            bad = values[pd.to_datetime(values, errors="coerce", format="ISO8601").isna()]
            raise EnergiDataError(
                f"{context}: field {field} has unparseable timestamps, e.g. {bad.iloc[0]!r}"
            ) from None
    if parsed.dt.tz is not None:
        parsed = parsed.dt.tz_convert("UTC" if utc_field else DANISH_TZ)
        parsed = parsed.dt.tz_localize(None)
    return parsed.astype("datetime64[ns]")


def parse_records(
    records: list[dict[str, Any]], spec: SourceSpec, context: str = "records"
) -> pd.DataFrame:
    """API records (list of dicts) → the spec's RAW frame, vectorised. Raises EnergiDataError on
    bad fields.

    `context` prefixes error messages (dataset and hour range). A null value becomes NaN (the
    checks downstream catch it); every other field must be present and parse.
    """
    if not records:
        return empty_raw_frame(spec)
    frame = pd.DataFrame.from_records(records)
    missing = [c for c in spec.raw.names if c not in frame.columns]
    if missing:
        raise EnergiDataError(
            f"{context}: records have no field {', '.join(missing)} "
            f"(fields are {list(frame.columns)}); is this the right dataset?"
        )
    for column in spec.series_columns:
        absent = frame[column].isna()  # a record without the key shows up as NaN here
        if absent.any():
            raise EnergiDataError(
                f"{context}: field {column} is missing or null in {int(absent.sum())} records"
            )
    out = pd.DataFrame(
        {
            spec.time_utc: _parse_times(frame[spec.time_utc], spec.time_utc, True, context),
            spec.time_local: _parse_times(frame[spec.time_local], spec.time_local, False, context),
        }
    )
    for column in spec.series_columns:
        if column not in spec.integer_columns:
            out[column] = frame[column].astype(str).astype(object)
            continue
        codes = pd.to_numeric(frame[column], errors="coerce")
        if codes.isna().any() or (codes % 1 != 0).any():
            bad = frame[column][codes.isna() | (codes % 1 != 0)].iloc[0]
            raise EnergiDataError(f"{context}: field {column} is not an integer, e.g. {bad!r}")
        out[column] = codes.astype(np.int64)
    values = frame[spec.value_column]
    numeric = pd.to_numeric(values, errors="coerce")
    unparseable = numeric.isna() & values.notna()
    if unparseable.any():
        raise EnergiDataError(
            f"{context}: field {spec.value_column} is not a number, e.g. "
            f"{values[unparseable].iloc[0]!r}"
        )
    out[spec.value_column] = numeric.astype(np.float64)
    return out


def collapse_exact_duplicates(raw: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """`raw` with rows equal in every column kept once, and how many copies were dropped.

    An exact duplicate says nothing new (offset paging over a dataset that changes between two
    pages can serve a record twice). Rows that share a key but differ in any other column are
    kept, all of them: raw holds what the source published, and its checks report the conflict.
    """
    duplicated = raw.duplicated(keep="first")
    count = int(duplicated.sum())
    if count == 0:
        return raw, 0
    return raw[~duplicated].reset_index(drop=True), count


def missing_hours(
    raw: pd.DataFrame, start: Any, end: Any, time_column: str = "HourUTC"
) -> list[pd.Timestamp]:
    """UTC hours in [start, end) with no record at all: not yet published, or lost at the source."""
    expected = pd.date_range(utc(start), utc(end), freq="h", inclusive="left")
    present = pd.DatetimeIndex(pd.to_datetime(raw[time_column]).unique()).tz_localize("UTC")
    return list(expected.difference(present))


class EnergiDataApi:
    """Paged, retrying reader of one Energi Data Service dataset.

    `request_count` counts every HTTP attempt (retries included) since construction.
    """

    def __init__(
        self,
        base_url: str,
        spec: SourceSpec,
        page_size: int = 100_000,
        timeout_seconds: float = 60.0,
        max_retries: int = 5,
        backoff_seconds: float = 1.0,
        session: requests.Session | None = None,
        rate_limiter: RateLimiter | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        self.base_url = base_url.rstrip("/")
        self.spec = spec
        self.dataset = spec.dataset
        self.page_size = page_size
        self.timeout_seconds = timeout_seconds
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.session = session or requests.Session()
        self.rate_limiter = rate_limiter
        self.log = log or (lambda message: None)
        self.request_count = 0
        self.retry_wait_seconds = 0.0

    @property
    def dataset_url(self) -> str:
        return f"{self.base_url}/dataset/{self.dataset}"

    def fetch_hours(
        self, start_utc: datetime | str | pd.Timestamp, end_utc: datetime | str | pd.Timestamp
    ) -> pd.DataFrame:
        """Every record with its UTC hour in [start_utc, end_utc), as the spec's RAW frame.

        Naive inputs are UTC. An empty frame means the API has nothing for those hours (not yet
        published); deciding whether that is an error is the caller's job.
        """
        start, end = naive_utc(start_utc), naive_utc(end_utc)
        hour_range = hour_range_text(start, end)
        if end <= start:
            raise ValueError(f"empty hour range {hour_range}: end must be after start")
        context = f"{self.dataset} {hour_range}"
        pages: list[pd.DataFrame] = []
        offset, total = 0, None
        while total is None or offset < total:
            params = {
                "start": f"{start:%Y-%m-%dT%H:%M}",
                "end": f"{end:%Y-%m-%dT%H:%M}",
                "timezone": "UTC",
                "sort": self.spec.sort,
                "columns": ",".join(self.spec.columns),
                "limit": self.page_size,
                "offset": offset,
            }
            document = self._get_page(params, context)
            records = document["records"]
            total = document["total"]
            if not records:
                break  # total shrank under us, or a server that under-reports: stop, don't loop
            pages.append(parse_records(records, self.spec, f"{context} (offset {offset})"))
            offset += len(records)
            self.log(
                f"{context}: page {len(pages)}: {offset:,} of {total:,} records "
                f"({100 * offset / max(total, 1):.0f}%)"
            )
        if not pages:
            return empty_raw_frame(self.spec)
        # Every record as served, duplicates included: deciding what a duplicate means is not
        # the transport's job (collapse_exact_duplicates; conflicting ones fail the checks).
        return pd.concat(pages, ignore_index=True)

    def newest_hour(self) -> pd.Timestamp | None:
        """The UTC hour of the dataset's newest record (one request: limit=1, newest first), or
        None when the dataset is empty."""
        params = {
            "timezone": "UTC",
            "sort": f"{self.spec.time_utc} desc",
            "columns": self.spec.time_utc,
            "limit": 1,
            "offset": 0,
        }
        document = self._get_page(params, f"{self.dataset} newest record")
        if not document["records"]:
            return None
        value = document["records"][0].get(self.spec.time_utc)
        try:
            return pd.Timestamp(
                _parse_times(pd.Series([value]), self.spec.time_utc, True, "").iloc[0]
            )
        except EnergiDataError as exc:
            raise EnergiDataError(f"{self.dataset} newest record: {exc}") from None

    def _get_page(self, params: dict[str, Any], context: str) -> dict[str, Any]:
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            if self.rate_limiter is not None:
                self.rate_limiter.wait(self.dataset)
            try:
                return self._request(params, context)
            except http_retry.Retryable as exc:
                if attempt + 1 >= attempts:
                    raise EnergiDataError(
                        f"{context}: the API at {self.dataset_url} failed {attempts} times; "
                        f"last cause: {exc}. The source may be down or rate-limiting: retry the run "
                        f"later, or raise max_retries / timeout_seconds."
                    ) from exc
                delay = self._backoff(attempt, exc.retry_after)
                reason = (
                    f"the API asked for {exc.retry_after:g}s (Retry-After)"
                    if exc.retry_after is not None
                    else "backoff"
                )
                self.log(
                    f"{context}: {exc}; waiting {delay:.1f}s before retry {attempt + 1} of "
                    f"{self.max_retries} ({reason})"
                )
                time.sleep(delay)
                self.retry_wait_seconds += delay
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        return http_retry.backoff(attempt, self.backoff_seconds, retry_after)

    def _request(self, params: dict[str, Any], context: str) -> dict[str, Any]:
        self.request_count += 1
        response = http_retry.get(self.session, self.dataset_url, params, self.timeout_seconds)
        status = response.status_code
        if status >= 400:
            hint = (
                "check ENERGIDATA_DATASET / the dataset name"
                if status == 404
                else "check the request parameters"
            )
            raise EnergiDataError(
                f"{context}: HTTP {status} from {response.url}: {http_retry.short(response.text)}; {hint}"
            )
        document = http_retry.json_body(response)
        if not isinstance(document, dict) or "records" not in document or "total" not in document:
            keys = list(document) if isinstance(document, dict) else type(document).__name__
            raise EnergiDataError(
                f"{context}: the answer has no 'records'/'total' (got {keys}); "
                f"is {self.base_url} an Energi Data Service API?"
            )
        if not isinstance(document["records"], list):
            raise EnergiDataError(f"{context}: 'records' is not a list")
        try:
            document["total"] = int(document["total"])
        except (TypeError, ValueError):
            raise EnergiDataError(
                f"{context}: 'total' is not a number: {document['total']!r}"
            ) from None
        return document
