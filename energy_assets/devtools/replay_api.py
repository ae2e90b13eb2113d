"""A local stand-in for Energi Data Service: serves a CSV/parquet file as `GET /dataset/<name>`.

It serves any dataset with a source spec (`energy_assets.sources`), in that dataset's own columns:
`--dataset ConsumptionConsumerCategoryHour` serves a file with TimeUTC / TimeDK / RegionName / ...
and sorts and pages by that dataset's time column.

This is how the platform runs offline, in tests and in demos. It takes the real API's parameters
(`start`, `end`, `limit`, `offset`, `sort`, `filter`, `columns`, `timezone`) with the real API's
meaning, answers with the same JSON shape, and can inject faults (failures, bad JSON, slow answers,
records missing a field) so the client's error handling can be tested against a real socket.

Semantics copied from the real API guide (energidataservice.dk/guides/api-guides):
- `start` is inclusive, `end` exclusive; formats `yyyy`, `yyyy-MM`, `yyyy-MM-dd`, `yyyy-MM-ddTHH:mm`
  (seconds also accepted), or dynamic `now` / `StartOfDay` / `StartOfMonth` / `StartOfYear` with an
  optional `+`/`-` ISO-8601 duration (`now-P1D`).
- start/end are Danish local time unless `timezone=UTC` (the default is DK, as in the real API).
- `limit` defaults to 100; `limit=0` returns all records. `sort` like `HourUTC desc` or several keys
  separated by commas; the default is the time column descending (newest first, like the real API).
- `filter` is JSON: `{"PriceArea":["DK1"],"ConsumerType_DE35":[111,112]}`.

`--as-current` makes an old file look live: every timestamp is shifted by whole weeks (so weekday and
hour-of-day patterns stay on the calendar) until the last hour reaches now − publication delay, and
each request hides hours newer than floor(now) − delay, so one more hour "gets published" every hour.

`--rate-limit-per-minute N` enforces the real API's rate limit (since 2025-08-26: one request per
dataset per minute per IP address): a client IP's request beyond N in the window is answered
HTTP 429 with `Retry-After` (whole seconds until a slot frees), like the real API. Off by default;
tests shorten the window with `ReplayServer(rate_window_seconds=...)`.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd

from energy_assets.contracts import DANISH_TZ, InputError, naive_utc
from energy_assets.ingestion.files import read_api_frame
from energy_assets.settings import DEFAULT_PUBLICATION_DELAY_HOURS, Settings
from energy_assets.sources import DEFAULT_DATASET, SourceSpec, spec_for

DEFAULT_LIMIT = 100
_WEEK = pd.Timedelta(weeks=1)
_DYNAMIC = re.compile(r"^(now|startofday|startofmonth|startofyear)(?:([+-])(P.+))?$", re.IGNORECASE)


class ApiRequestError(ValueError):
    """A request the real API would reject with 400 (bad parameter)."""


def shift_to_current(
    frame: pd.DataFrame,
    now_utc: pd.Timestamp,
    publication_delay_hours: float,
    spec: SourceSpec | None = None,
) -> tuple[pd.DataFrame, int]:
    """Shift the UTC time column by the fewest whole weeks so the last hour is ≥ now − delay;
    recompute the Danish one.

    Returns the shifted frame and the number of weeks (may be 0 or negative).
    """
    spec = spec or spec_for(DEFAULT_DATASET)
    time_utc, time_local = spec.time_utc, spec.time_local
    newest_published = naive_utc(now_utc) - pd.Timedelta(hours=publication_delay_hours)
    last = frame[time_utc].max()
    weeks = int(np.ceil((newest_published - last) / _WEEK)) if len(frame) else 0
    shifted = frame.copy()
    shifted[time_utc] = shifted[time_utc] + weeks * _WEEK
    if time_local in shifted.columns:
        shifted[time_local] = (
            shifted[time_utc].dt.tz_localize("UTC").dt.tz_convert(DANISH_TZ).dt.tz_localize(None)
        )
    return shifted, weeks


def _json_fragments(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per column, the `"name":value` JSON fragment of every row.

    Rendered once per distinct value (factorize, then take), which keeps loading a year of 76
    series well under a second.
    """
    fragments: dict[str, np.ndarray] = {}
    for column in frame.columns:
        codes, uniques = pd.factorize(frame[column], use_na_sentinel=True)
        rendered = np.array(
            [json.dumps(column) + ":" + _render(v) for v in _values(uniques)]
            + [json.dumps(column) + ":null"],
            dtype=object,
        )
        fragments[column] = rendered[codes]  # code -1 (missing) picks the trailing null
    return fragments


def _values(uniques: Any) -> list[Any]:
    if isinstance(uniques, pd.DatetimeIndex):
        return list(np.datetime_as_string(uniques.to_numpy("datetime64[s]"), unit="s"))
    return list(np.asarray(uniques, dtype=object))


def _render(value: Any) -> str:
    """One JSON value; whole floats print as integers (132199, not 132199.0), like the real API."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            return "null"
        number = float(value)
        return str(int(number)) if number.is_integer() and abs(number) < 2**53 else repr(number)
    return json.dumps(str(value))


@dataclass
class _Fault:
    kind: str
    remaining: int
    status: int = 503
    seconds: float = 0.0
    retry_after: float | None = None
    field: str = "TotalCon"


class Faults:
    """Faults the next dataset requests will suffer, one per request, in the order they were armed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[_Fault] = []

    def fail_next(self, n: int = 1, status: int = 503, retry_after: float | None = None) -> None:
        """Answer the next n requests with an HTTP error (optionally with a Retry-After header)."""
        self._arm(_Fault("fail", n, status=status, retry_after=retry_after))

    def bad_json_next(self, n: int = 1) -> None:
        """Answer the next n requests with a 200 whose body is truncated, invalid JSON."""
        self._arm(_Fault("bad_json", n))

    def slow_next(self, n: int = 1, seconds: float = 5.0) -> None:
        """Wait `seconds` before answering the next n requests (to force client timeouts)."""
        self._arm(_Fault("slow", n, seconds=seconds))

    def drop_field_next(self, n: int = 1, field: str = "TotalCon") -> None:
        """Serve the next n requests with `field` removed from every record."""
        self._arm(_Fault("drop_field", n, field=field))

    def garble_field_next(self, n: int = 1, field: str = "HourUTC") -> None:
        """Serve the next n requests with `field` replaced by an unparseable string in every record."""
        self._arm(_Fault("garble_field", n, field=field))

    def no_records_key_next(self, n: int = 1) -> None:
        """Serve the next n requests as JSON without the `records` key."""
        self._arm(_Fault("no_records_key", n))

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(f.__dict__) for f in self._queue]

    def arm_from_json(self, spec: dict[str, Any]) -> None:
        """Arm faults from the admin endpoint's JSON: {"fail_next": {"n": 2, "status": 503}, ...}."""
        methods: dict[str, Callable[..., None]] = {
            "fail_next": self.fail_next,
            "bad_json_next": self.bad_json_next,
            "slow_next": self.slow_next,
            "drop_field_next": self.drop_field_next,
            "garble_field_next": self.garble_field_next,
            "no_records_key_next": self.no_records_key_next,
        }
        if spec.get("clear"):
            self.clear()
        for name, kwargs in spec.items():
            if name == "clear":
                continue
            if name not in methods:
                raise ApiRequestError(f"unknown fault {name!r}; known: {sorted(methods)}")
            if isinstance(kwargs, int):
                kwargs = {"n": kwargs}
            methods[name](**kwargs)

    def _arm(self, fault: _Fault) -> None:
        if fault.remaining > 0:
            with self._lock:
                self._queue.append(fault)

    def take(self) -> _Fault | None:
        with self._lock:
            if not self._queue:
                return None
            fault = self._queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._queue.pop(0)
            return _Fault(**fault.__dict__)


@dataclass
class ReplayStats:
    requests: int = 0
    dataset_requests: int = 0
    faults_served: int = 0
    records_served: int = 0
    rate_limited: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return {
                "requests": self.requests,
                "dataset_requests": self.dataset_requests,
                "faults_served": self.faults_served,
                "records_served": self.records_served,
                "rate_limited": self.rate_limited,
            }


class RateLimit:
    """At most `per_window` dataset requests per client IP in any `window_seconds` (sliding).

    `admit(ip)` returns None when the request may be served (and counts it), else the seconds
    until the client's oldest counted request leaves the window. `served` lists (monotonic time,
    ip) of every admitted request, for tests to check the spacing.
    """

    def __init__(self, per_window: int, window_seconds: float = 60.0) -> None:
        if per_window < 1 or window_seconds <= 0:
            raise ValueError("the rate limit needs per_window ≥ 1 and window_seconds > 0")
        self.per_window = per_window
        self.window_seconds = window_seconds
        self.served: list[tuple[float, str]] = []
        self._recent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, ip: str) -> float | None:
        now = time.monotonic()
        with self._lock:
            recent = self._recent.setdefault(ip, deque())
            while recent and recent[0] <= now - self.window_seconds:
                recent.popleft()
            if len(recent) >= self.per_window:
                return recent[0] + self.window_seconds - now
            recent.append(now)
            self.served.append((now, ip))
            return None


class _Table:
    """The served data, sorted by time, with its JSON fragments pre-rendered."""

    def __init__(self, frame: pd.DataFrame, spec: SourceSpec) -> None:
        order = [c for c in spec.raw.key if c in frame.columns]
        self.frame = frame.sort_values(order, kind="stable").reset_index(drop=True)
        self.columns = list(self.frame.columns)
        self.time_column = spec.time_utc
        self.hour_utc = self.frame[spec.time_utc].to_numpy("datetime64[ns]")
        self.fragments = _json_fragments(self.frame)
        self.rows = self._join_rows(self.columns)

    def _join_rows(self, columns: list[str]) -> np.ndarray:
        parts = [self.fragments[column].tolist() for column in columns]
        return np.array(
            ["{" + ",".join(row) + "}" for row in zip(*parts, strict=True)], dtype=object
        )


class ReplayServer:
    """The replay API on a background thread.

    >>> with ReplayServer(SAMPLE_DATA_PATH) as server:
    ...     requests.get(f"{server.url}/dataset/ConsumptionDE35Hour", params={"limit": 5})

    `url` is the base URL (pass it as ENERGIDATA_API_URL). `faults` arms failures, `stats` counts
    requests, `set_data(frame)` swaps the data live (the demo injects drift that way).
    """

    def __init__(
        self,
        data: pd.DataFrame | str | Path,
        host: str = "127.0.0.1",
        port: int = 0,
        dataset: str = DEFAULT_DATASET,
        as_current: bool = False,
        publication_delay_hours: float = DEFAULT_PUBLICATION_DELAY_HOURS,
        clock: Callable[[], datetime] | None = None,
        rate_limit_per_minute: int | None = None,
        rate_window_seconds: float = 60.0,
    ) -> None:
        self.spec = spec_for(dataset)
        # The real API's limit is per dataset per IP; this server serves one dataset.
        self.rate_limit = (
            RateLimit(rate_limit_per_minute, rate_window_seconds) if rate_limit_per_minute else None
        )
        self.dataset = self.spec.dataset
        self.as_current = as_current
        self.publication_delay_hours = publication_delay_hours
        self.clock = clock or (lambda: datetime.now(UTC))
        self.faults = Faults()
        self._stats = ReplayStats()
        self.shift_weeks = 0
        self._table_lock = threading.Lock()
        self._stopping = threading.Event()
        self._host, self._port = host, port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.set_data(data)

    # -- data -------------------------------------------------------------------------------
    def set_data(self, data: pd.DataFrame | str | Path) -> None:
        """Replace the served data (takes effect for the next request)."""
        frame = read_api_frame(data, self.spec)
        if self.as_current:
            frame, self.shift_weeks = shift_to_current(
                frame, pd.Timestamp(self.clock()), self.publication_delay_hours, self.spec
            )
        table = _Table(frame, self.spec)
        with self._table_lock:
            self._table = table

    @property
    def data(self) -> pd.DataFrame:
        """The data as served (after any as-current shift, before the publication cut-off)."""
        return self._table.frame

    def newest_published_hour(self) -> pd.Timestamp | None:
        """With as_current, the newest hour a request may see now (floor(now) − delay)."""
        if not self.as_current:
            return None
        now = naive_utc(pd.Timestamp(self.clock())).floor("h")
        return now - pd.Timedelta(hours=self.publication_delay_hours)

    @property
    def stats(self) -> dict[str, int]:
        """Counters: requests (all), dataset_requests, faults_served, records_served,
        rate_limited (HTTP 429 answers for exceeding the rate limit)."""
        return self._stats.as_dict()

    @property
    def request_count(self) -> int:
        return self._stats.as_dict()["dataset_requests"]

    # -- lifecycle --------------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("ReplayServer is not started; call start() or use it as a context")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> ReplayServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HttpServer((self._host, self._port), _Handler, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="replay-api", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve on the calling thread (the CLI)."""
        if self._httpd is None:
            self._httpd = _HttpServer((self._host, self._port), _Handler, self)
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in a slow fault
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the API ----------------------------------------------------------------------------
    def query(self, params: dict[str, str]) -> tuple[int, str]:
        """Answer one dataset query: (matching total, JSON body). Raises ApiRequestError."""
        with self._table_lock:
            table = self._table
        timezone = params.get("timezone", "DK").strip().upper() or "DK"
        if timezone not in ("DK", "UTC"):
            raise ApiRequestError(f"timezone must be UTC or DK, got {params.get('timezone')!r}")
        now = self.clock()
        mask = np.ones(len(table.hour_utc), dtype=bool)
        if params.get("start"):
            start = _parse_bound(params["start"], timezone, now)
            mask &= table.hour_utc >= start.to_datetime64()
        if params.get("end"):
            end = _parse_bound(params["end"], timezone, now)
            mask &= table.hour_utc < end.to_datetime64()
        published = self.newest_published_hour()
        if published is not None:
            mask &= table.hour_utc <= published.to_datetime64()
        filters_text = params.get("filter")
        if filters_text:
            mask &= _filter_mask(table.frame, filters_text)
        indices = np.flatnonzero(mask)
        sort_text = params.get("sort") or f"{table.time_column} desc"
        indices = _sorted_indices(table.frame, indices, sort_text, table.time_column)
        total = len(indices)
        offset = _int_param(params, "offset", 0)
        limit = _int_param(params, "limit", DEFAULT_LIMIT)
        page = indices[offset:] if limit == 0 else indices[offset : offset + limit]
        columns = _columns_param(params.get("columns"), table.columns)
        if columns == table.columns:
            rows = table.rows[page]
        else:
            rows = _Table._join_rows(table, columns)[page] if len(page) else np.empty(0, object)
        head = {
            "total": total,
            "filters": filters_text or "{}",
            "sort": sort_text,
            "limit": limit,
            "dataset": self.dataset,
        }
        body = json.dumps(head)[:-1] + ',"records":[' + ",".join(rows.tolist()) + "]}"
        return len(page), body


def _int_param(params: dict[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiRequestError(f"{name} must be a non-negative integer, got {raw!r}") from None
    if value < 0:
        raise ApiRequestError(f"{name} must be a non-negative integer, got {raw!r}")
    return value


def _parse_bound(text: str, timezone: str, now: datetime) -> pd.Timestamp:
    """A start/end parameter as a naive UTC timestamp (interpreted in `timezone`, as the API does)."""
    text = text.strip()
    tz = "UTC" if timezone == "UTC" else DANISH_TZ
    dynamic = _DYNAMIC.match(text)
    if dynamic:
        anchor = pd.Timestamp(now).tz_convert(tz) if pd.Timestamp(now).tzinfo else None
        if anchor is None:
            anchor = pd.Timestamp(now).tz_localize("UTC").tz_convert(tz)
        kind = dynamic.group(1).lower()
        if kind == "startofday":
            anchor = anchor.normalize()
        elif kind == "startofmonth":
            anchor = anchor.normalize().replace(day=1)
        elif kind == "startofyear":
            anchor = anchor.normalize().replace(month=1, day=1)
        if dynamic.group(3):
            try:
                delta = pd.Timedelta(dynamic.group(3))
            except ValueError:
                raise ApiRequestError(f"cannot read the duration in {text!r}") from None
            anchor = anchor + delta if dynamic.group(2) == "+" else anchor - delta
        return anchor.tz_convert("UTC").tz_localize(None)
    if not re.fullmatch(r"\d{4}(-\d{2}(-\d{2}([T ]\d{2}:\d{2}(:\d{2})?)?)?)?", text):
        raise ApiRequestError(
            f"cannot read {text!r}: use yyyy, yyyy-MM, yyyy-MM-dd or yyyy-MM-ddTHH:mm"
        )
    if len(text) == 4:
        text += "-01-01"
    elif len(text) == 7:
        text += "-01"
    try:
        local = pd.Timestamp(text)
    except ValueError:
        raise ApiRequestError(f"cannot read the date {text!r}") from None
    if tz == "UTC":
        return local
    # Non-existent local times (spring DST gap) move forward; ambiguous ones take the first.
    return (
        local.tz_localize(tz, nonexistent="shift_forward", ambiguous=True)
        .tz_convert("UTC")
        .tz_localize(None)
    )


# What a filter may be before it is parsed: {"column": [values]} is two levels deep, and a
# public API bounds its input rather than letting the parser find its own limits
# (RecursionError on deep nesting, MemoryError, huge integers).
MAX_FILTER_CHARS = 16_384
MAX_FILTER_DEPTH = 2


def _nesting_depth(text: str) -> int:
    """The deepest nesting of JSON arrays / objects in `text` (brackets in strings ignored)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _filter_mask(frame: pd.DataFrame, filters_text: str) -> np.ndarray:
    if len(filters_text) > MAX_FILTER_CHARS:
        raise ApiRequestError(
            f"filter is {len(filters_text)} characters long; at most {MAX_FILTER_CHARS} are read"
        )
    if _nesting_depth(filters_text) > MAX_FILTER_DEPTH:
        raise ApiRequestError(
            'filter nests too deeply: use a JSON object of lists like {"PriceArea":["DK1"]}'
        )
    try:
        filters = json.loads(filters_text)
    except (ValueError, RecursionError, MemoryError):  # JSONDecodeError, a 5000-digit number
        shown = filters_text if len(filters_text) <= 200 else filters_text[:200] + "…"
        raise ApiRequestError(f"filter is not valid JSON: {shown!r}") from None
    if not isinstance(filters, dict):
        raise ApiRequestError('filter must be a JSON object like {"PriceArea":["DK1"]}')
    mask = np.ones(len(frame), dtype=bool)
    for column, wanted in filters.items():
        if column not in frame.columns:
            raise ApiRequestError(f"filter column {column!r} is not in the dataset")
        values = wanted if isinstance(wanted, list) else [wanted]
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series):
            try:
                values = [float(v) for v in values]
            except (TypeError, ValueError):
                raise ApiRequestError(
                    f"filter on {column!r} needs numbers, got {wanted!r}"
                ) from None
        else:
            values = [str(v) for v in values]
        mask &= series.isin(values).to_numpy()
    return mask


def _sorted_indices(
    frame: pd.DataFrame, indices: np.ndarray, sort_text: str, time_column: str
) -> np.ndarray:
    """Order the selected rows by `sort` ("HourUTC asc, PriceArea desc"); ties keep data order."""
    keys: list[tuple[str, bool]] = []
    for part in sort_text.split(","):
        words = part.split()
        if not words:
            continue
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise ApiRequestError(f"cannot read sort {sort_text!r}: use e.g. 'HourUTC asc'")
        if words[0] not in frame.columns:
            raise ApiRequestError(f"sort column {words[0]!r} is not in the dataset")
        keys.append((words[0], len(words) == 1 or words[1].lower() == "asc"))
    if not keys or len(indices) == 0:
        return indices
    # The table is stored sorted by its key (time first): skip the sort then.
    if keys[0] == (time_column, True) and all(asc for _, asc in keys):
        return indices
    if [k for k, _ in keys] == [time_column] and not keys[0][1]:
        # Newest hour first, series in their usual order within the hour.
        hours = frame[time_column].to_numpy()[indices]
        return indices[np.lexsort((np.arange(len(indices)), -hours.astype(np.int64)))]
    sort_keys = []
    for column, ascending in reversed(keys):
        codes = pd.factorize(frame[column].to_numpy()[indices], sort=True)[0]
        sort_keys.append(codes if ascending else -codes)
    return indices[np.lexsort([np.arange(len(indices)), *sort_keys])]


def _columns_param(text: str | None, available: list[str]) -> list[str]:
    if not text:
        return available
    columns = [c.strip() for c in text.split(",") if c.strip()]
    unknown = [c for c in columns if c not in available]
    if unknown:
        raise ApiRequestError(f"unknown columns {unknown}; the dataset has {available}")
    return columns


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type, replay: ReplayServer) -> None:
        self.replay = replay
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by default
        pass

    def _send(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
        payload = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout fired during a slow fault)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        phrase = HTTPStatus(status).phrase
        body = {"statusCode": status, "error": phrase, "message": message}
        self._send(status, json.dumps(body), headers)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        replay = self.server.replay
        with replay._stats._lock:
            replay._stats.requests += 1
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/")
        if path == "/_replay/stats":
            stats = replay.stats | {
                "shift_weeks": replay.shift_weeks,
                "pending_faults": replay.faults.pending(),
            }
            self._send(200, json.dumps(stats))
            return
        if path in ("", "/_replay/health"):
            self._send(200, json.dumps({"status": "ok", "dataset": replay.dataset}))
            return
        match = re.fullmatch(r"/dataset/([^/]+)", path)
        if not match:
            self._error(404, f"no route {parts.path!r}; use /dataset/<name>")
            return
        if match.group(1) != replay.dataset:
            self._error(404, f"Dataset {match.group(1)!r} not found")
            return
        with replay._stats._lock:
            replay._stats.dataset_requests += 1
        if replay.rate_limit is not None:
            wait = replay.rate_limit.admit(self.client_address[0])
            if wait is not None:
                with replay._stats._lock:
                    replay._stats.rate_limited += 1
                limit = replay.rate_limit
                self._error(
                    429,
                    f"Rate limit exceeded: {limit.per_window} request(s) per dataset per "
                    f"{limit.window_seconds:g}s per IP address",
                    {"Retry-After": str(max(1, int(np.ceil(wait))))},
                )
                return
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        fault = replay.faults.take()
        if fault is not None:
            with replay._stats._lock:
                replay._stats.faults_served += 1
            if fault.kind == "slow":
                replay._stopping.wait(fault.seconds)
            elif fault.kind == "fail":
                headers = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(int(np.ceil(fault.retry_after)))
                self._error(fault.status, "injected failure (replay-api fault)", headers)
                return
        try:
            count, body = replay.query(params)
        except ApiRequestError as exc:
            self._error(400, str(exc))
            return
        with replay._stats._lock:
            replay._stats.records_served += count
        if fault is not None and fault.kind == "bad_json":
            body = body[: max(1, len(body) // 2)]
        elif fault is not None and fault.kind == "no_records_key":
            body = json.dumps({"total": 0, "dataset": replay.dataset})
        elif fault is not None and fault.kind in ("drop_field", "garble_field"):
            document = json.loads(body)
            for record in document["records"]:
                if fault.kind == "drop_field":
                    record.pop(fault.field, None)
                else:
                    record[fault.field] = "not-a-value"
            body = json.dumps(document)
        self._send(200, body)

    def do_POST(self) -> None:  # noqa: N802
        replay = self.server.replay
        path = urlsplit(self.path).path.rstrip("/")
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        if path != "/_replay/faults":
            self._error(404, f"no route {path!r}; POST /_replay/faults")
            return
        try:
            replay.faults.arm_from_json(json.loads(raw or b"{}"))
        except (json.JSONDecodeError, TypeError, ApiRequestError) as exc:
            self._error(400, f"bad fault spec: {exc}")
            return
        self._send(200, json.dumps({"pending_faults": replay.faults.pending()}))


# -- CLI ------------------------------------------------------------------------------------
def add_listen_arguments(parser: argparse.ArgumentParser) -> None:
    """--host / --port of a local server (this replay, the weather replay)."""
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")


def listen_error(args: argparse.Namespace, exc: OSError) -> InputError:
    """The one-line error for a --host / --port this process cannot listen on."""
    return InputError(
        f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc}); pick another "
        "--port (0 picks a free one) or --host"
    )


def add_arguments(parser: argparse.ArgumentParser, settings: Settings) -> None:
    parser.add_argument(
        "--data",
        required=True,
        help="CSV (the API's or the website's ';' convention), CSV.gz or parquet in the "
        "dataset's own columns",
    )
    add_listen_arguments(parser)
    parser.add_argument(
        "--dataset",
        default=settings.dataset,
        help="the dataset served (a source spec's name): its name in the URL path and its columns",
    )
    parser.add_argument(
        "--as-current",
        action="store_true",
        help="shift the data by whole weeks so it looks live, and publish one more hour each hour",
    )
    parser.add_argument(
        "--publication-delay-hours",
        type=float,
        default=None,
        help="with --as-current: hours newer than now − this are not yet published (default: "
        "the dataset's publication lag)",
    )
    parser.add_argument(
        "--rate-limit-per-minute",
        type=int,
        default=None,
        help="answer HTTP 429 with Retry-After to a client IP's requests beyond N per minute, "
        "like the real API (1); default: no limit",
    )
    parser.add_argument("--fail-first", type=int, default=0, help="fail the first N requests")
    parser.add_argument("--fail-status", type=int, default=503, help="status of those failures")
    parser.add_argument("--slow-first", type=int, default=0, help="delay the first N requests")
    parser.add_argument("--slow-seconds", type=float, default=5.0, help="how long to delay them")
    parser.add_argument(
        "--bad-json-first", type=int, default=0, help="send invalid JSON to the first N requests"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings | None = None) -> int:
    server = ReplayServer(
        args.data,
        host=args.host,
        port=args.port,
        dataset=args.dataset,
        as_current=args.as_current,
        publication_delay_hours=(
            args.publication_delay_hours
            if args.publication_delay_hours is not None
            else spec_for(args.dataset).publication_lag_hours
        ),
        rate_limit_per_minute=args.rate_limit_per_minute,
    )
    server.faults.fail_next(args.fail_first, status=args.fail_status)
    server.faults.slow_next(args.slow_first, seconds=args.slow_seconds)
    server.faults.bad_json_next(args.bad_json_first)
    try:
        server._httpd = _HttpServer((args.host, args.port), _Handler, server)
    except OSError as exc:
        raise listen_error(args, exc) from None
    # One line on stdout, flushed, so a parent process can read where we listen; details on stderr.
    print(server.url, flush=True)
    hours = server.data[server.spec.time_utc]
    detail = f", shifted {server.shift_weeks} weeks" if args.as_current else ""
    print(
        f"replay-api: {len(hours):,} records of {args.dataset} ({hours.min()} → {hours.max()} UTC"
        f"{detail}) at {server.url}/dataset/{args.dataset}",
        file=sys.stderr,
        flush=True,
    )
    return serve_until_interrupted(server.serve_forever, server._httpd.server_close)


def serve_until_interrupted(serve: Callable[[], object], close: Callable[[], object]) -> int:
    """Run `serve` until SIGTERM or Ctrl-C, then `close` (this replay, the weather replay).

    Stops cleanly on SIGTERM as on Ctrl-C, whatever disposition the parent left us: a shell that
    starts jobs in the background hands its children SIGINT (and at times SIGTERM) ignored, and
    a server nobody can stop outlives its test or its container."""
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        serve()
    except KeyboardInterrupt:
        pass
    finally:
        close()
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    prog = "energy-assets replay-api"
    try:
        parser = argparse.ArgumentParser(prog=prog, description=__doc__)
        add_arguments(parser, Settings.from_env())
        return run(parser.parse_args(argv))
    except InputError as exc:  # bad input is one line; anything else keeps its traceback
        print(f"{prog}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
