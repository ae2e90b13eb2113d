"""The forecast API (DESIGN.md, *Forecast API*): FastAPI over `StoreReader`, with bearer tokens,
Prometheus metrics, ETags and one-line errors.

Every table answers JSON (`{"product": …, "count": n, "rows": [...], "next": url-or-null}`) or CSV
(`?format=csv` or `Accept: text/csv`). Ranges are paged: at most MAX_ISSUES_PER_PAGE issues,
MAX_ACTUAL_HOURS hours or MAX_ACCURACY_DAYS days per answer, with the next page's URL in `next`
and a `Link: <…>; rel="next"` header. Bad parameters are a 400 with `{"error": "<one line>"}`;
what is not stored is a 404; storage that cannot be read is a 503; nothing else leaks.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from energy_assets.contracts import (
    FEATURES,
    InputError,
    hour_key,
    hour_keys,
    hour_of_key,
    hour_text,
)
from energy_assets.serving.products import DAILY, PRODUCTS, Product, product_named
from energy_assets.serving.reader import (
    Loaded,
    NotFoundError,
    ObjectInfo,
    StorageUnavailableError,
    StoreReader,
    etag_of,
    newest_issue_of,
    newest_modified,
    parse_time,
    records,
    select_series,
    to_csv,
)

if TYPE_CHECKING:
    import pandas as pd

    from energy_assets.storage.parquet_store import ParquetStore

log = logging.getLogger("energy_assets.serving")

MAX_ISSUES_PER_PAGE = 48
MAX_ACTUAL_HOURS = 24 * 31
MAX_ACCURACY_DAYS = 92
# Products are scored on request (no stored accuracy yet): fewer days an answer.
MAX_PRODUCT_ACCURACY_DAYS = 31
# Paths anyone may open: the process's liveness, and the dashboard's page and script (code, no
# data: everything the page shows comes through the API with the token its user gives).
OPEN_PATHS = frozenset({"/healthz", "/", "/static/dashboard.js"})
# The API page's own files (Swagger UI's script and style): code, no data.
OPEN_PREFIXES = ("/static/swagger/",)
CSV = "text/csv; charset=utf-8"
FORMATS = ("json", "csv")


class BadRequestError(InputError):
    """A parameter that cannot be used: 400 with its one-line reason."""


@dataclass(frozen=True)
class ServeConfig:
    """What the service needs: the storage, the dataset, the tokens and the readiness limit.

    tokens: bearer tokens accepted (empty: no authentication, only allowed on a local bind).
    max_forecast_age_seconds: /readyz is 503 once the newest forecast object is older.
    cache_seconds: how long a stored object's identity is trusted before it is checked again.
    """

    store: ParquetStore
    dataset: str
    tokens: frozenset[str] = field(default=frozenset(), repr=False)
    max_forecast_age_seconds: float = 2 * 3600.0
    cache_seconds: float = 2.0


# --------------------------------------------------------------------------- app


def create_app(config: ServeConfig) -> FastAPI:
    """The API and dashboard over `config.store` (nothing is read until a request comes)."""
    from energy_assets.serving.metrics import ApiMetrics

    reader = StoreReader(config.store, cache_seconds=config.cache_seconds)
    metrics = ApiMetrics(reader, config.dataset)
    app = FastAPI(
        # /docs is served from the bundled Swagger UI (serving.dashboard): no CDN.
        docs_url=None,
        redoc_url=None,
        title="energy_assets forecast API",
        version="1",
        description=(
            "Read-only forecasts, actuals and accuracy from the platform's stored assets. "
            "JSON by default, CSV with `Accept: text/csv` or `?format=csv`. Times are ISO 8601 "
            "UTC; a series is area + segment."
        ),
    )
    app.state.reader = reader
    app.state.config = config
    _add_error_handlers(app)

    @app.get("/healthz", tags=["operations"], summary="The process is up")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="Storage reachable, newest forecast fresh")
    def readyz() -> JSONResponse:
        reason, newest = readiness(reader, config.max_forecast_age_seconds)
        body: dict[str, Any] = {"status": "ready" if reason is None else "not ready", **newest}
        if reason is not None:
            body["reason"] = reason
        return JSONResponse(body, status_code=200 if reason is None else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus exposition")
    def metrics_endpoint() -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    @app.get("/v1/products", tags=["forecasts"], summary="The forecast products and which exist")
    def products(request: Request, format: str | None = Query(None, max_length=64)) -> Response:
        import pandas as pd

        default = reader.default_product()
        rows = [
            {
                "product": p.name,
                "asset": p.asset,
                "partitioning": p.partitioning,
                "description": p.description,
                "stored": bool(reader.partition_keys(p.asset)),
                "default": p.name == default.name,
            }
            for p in PRODUCTS.values()
        ]
        return answer(request, pd.DataFrame(rows), [], format)

    @app.get("/v1/series", tags=["series"], summary="The series catalogue")
    def series(request: Request, format: str | None = Query(None, max_length=64)) -> Response:
        frame, infos = series_catalogue(reader, config.dataset)
        return answer(request, frame, infos, format)

    @app.get(
        "/v1/forecasts/latest",
        tags=["forecasts"],
        summary="The newest issued forecast of a product (default: day-ahead where it exists)",
    )
    def latest(
        request: Request,
        product: str | None = Query(None, max_length=64),
        area: str | None = Query(None, max_length=64),
        segment: str | None = Query(None, max_length=200),
        format: str | None = Query(None, max_length=64),
    ) -> Response:
        chosen = _product(reader, product)
        loaded = reader.latest(chosen)
        if loaded is None:
            raise NotFoundError(
                f"no {chosen.name} forecast is stored yet in {config.store.url}: materialise "
                f"{chosen.asset} first"
            )
        return answer_loaded(request, chosen, loaded, area, segment, format)

    @app.get(
        "/v1/forecasts",
        tags=["forecasts"],
        summary="Forecasts as issued: at `issued`, over `from`..`to`, or for one `target` hour",
    )
    def as_issued(
        request: Request,
        product: str | None = Query(None, max_length=64),
        issued: str | None = Query(None, max_length=64),
        from_: str | None = Query(None, alias="from", max_length=64),
        to: str | None = Query(None, max_length=64),
        target: str | None = Query(None, max_length=64),
        area: str | None = Query(None, max_length=64),
        segment: str | None = Query(None, max_length=200),
        format: str | None = Query(None, max_length=64),
    ) -> Response:
        chosen = _product(reader, product)
        asked = [n for n, v in (("issued", issued), ("from", from_), ("target", target)) if v]
        if len(asked) != 1 or (from_ is None) != (to is None):
            raise BadRequestError(
                "give one of issued=ISO, from=ISO&to=ISO or target=ISO (got "
                f"{', '.join(asked + (['to'] if to else [])) or 'none'})"
            )
        if issued is not None:
            loaded = issued_forecast(reader, chosen, issued)
            return answer_loaded(request, chosen, loaded, area, segment, format)
        if target is not None:
            frame, infos = target_forecasts(reader, chosen, parse_time(target, "target"))
            frame = select_series(frame, area, segment)
            return answer(request, frame, infos, format, product=chosen.name)
        assert from_ is not None and to is not None
        start, end = _range(from_, to)
        keys = reader.keys_between(chosen, start, end)
        page, rest = keys[:MAX_ISSUES_PER_PAGE], keys[MAX_ISSUES_PER_PAGE:]
        loaded_issues = [x for x in (reader.issue(chosen, k) for k in page) if x is not None]
        frame = _concat([x.frame for x in loaded_issues], chosen)
        frame = frame[(frame["issued_at"] >= start) & (frame["issued_at"] < end)]
        frame = select_series(frame, area, segment)
        next_url = _next_url(request, _key_start(chosen, rest[0])) if rest else None
        infos = [x.info for x in loaded_issues]
        return answer(request, frame, infos, format, product=chosen.name, next_url=next_url)

    @app.get("/v1/actuals", tags=["actuals"], summary="Published actuals (kWh) over a range")
    def actuals(
        request: Request,
        from_: str = Query(..., alias="from", max_length=64),
        to: str = Query(..., max_length=64),
        area: str | None = Query(None, max_length=64),
        segment: str | None = Query(None, max_length=200),
        format: str | None = Query(None, max_length=64),
    ) -> Response:
        start, end = _range(from_, to)
        keys = hour_keys(start.ceil("h"), end.ceil("h"))
        page, rest = keys[:MAX_ACTUAL_HOURS], keys[MAX_ACTUAL_HOURS:]
        frame = reader.actuals(page)
        frame = select_series(frame, area, segment)
        infos = [
            i
            for i in (reader.info(config.store.relpath(FEATURES.name, k)) for k in page)
            if i is not None
        ]
        next_url = _next_url(request, hour_of_key(rest[0])) if rest else None
        return answer(request, frame, infos, format, next_url=next_url)

    @app.get("/v1/accuracy", tags=["accuracy"], summary="Daily accuracy per series")
    def accuracy(
        request: Request,
        from_: str = Query(..., alias="from", max_length=64),
        to: str = Query(..., max_length=64),
        product: str | None = Query(None, max_length=64),
        area: str | None = Query(None, max_length=64),
        segment: str | None = Query(None, max_length=200),
        format: str | None = Query(None, max_length=64),
    ) -> Response:
        import pandas as pd

        chosen = _product(reader, product or "forecasts")
        start, end = _range(from_, to)
        days = [
            d.strftime("%Y-%m-%d")
            for d in pd.date_range(start.floor("D"), end, freq="D", inclusive="left")
        ]
        page, rest = days[:MAX_ACCURACY_DAYS], days[MAX_ACCURACY_DAYS:]
        if chosen.name == "forecasts":
            frame = reader.accuracy(page)
        else:  # the products have no stored accuracy yet: scored here, by issue day
            page, rest = days[:MAX_PRODUCT_ACCURACY_DAYS], days[MAX_PRODUCT_ACCURACY_DAYS:]
            frame, product_infos = product_accuracy(reader, chosen, page)
        if area is not None or segment is not None:
            frame = select_series(frame[frame["level"] == "series"], area, segment)
        if chosen.name == "forecasts":
            infos = [
                i
                for i in (reader.info(config.store.relpath("forecast_accuracy", d)) for d in page)
                if i is not None
            ]
        else:
            infos = product_infos
        next_url = _next_url(request, pd.Timestamp(rest[0], tz="UTC")) if rest else None
        return answer(request, frame, infos, format, product=chosen.name, next_url=next_url)

    from energy_assets.serving.dashboard import add_dashboard

    add_dashboard(app)
    app.add_middleware(_Guard, tokens=config.tokens, metrics=metrics)  # type: ignore[arg-type]
    return app


# --------------------------------------------------------------------------- reading


def _product(reader: StoreReader, name: str | None) -> Product:
    if name is None or not name.strip():
        return reader.default_product()
    try:
        return product_named(name)
    except KeyError:
        raise BadRequestError(
            f"product={name[:40]!r} is not one of {', '.join(PRODUCTS)}"
        ) from None


def _range(from_: str, to: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    start, end = parse_time(from_, "from"), parse_time(to, "to")
    if end <= start:
        raise BadRequestError(f"to={to[:40]!r} must be after from={from_[:40]!r}")
    return start, end


def issued_forecast(reader: StoreReader, product: Product, issued: str) -> Loaded:
    """The forecast `product` issued at `issued` (a day for a daily product: its newest issue)."""
    stamp = parse_time(issued, "issued")
    key = reader.issue_key(product, stamp)
    loaded = reader.issue(product, key)
    if loaded is None:
        keys = reader.partition_keys(product.asset)
        hint = f"the newest is {keys[-1]}" if keys else "none is stored yet"
        raise NotFoundError(f"no {product.name} forecast issued at {issued[:40]!r} ({key}): {hint}")
    whole_day = product.partitioning == DAILY and len(issued.strip()) == 10
    if whole_day:
        return newest_issue_of(loaded)
    if product.partitioning != DAILY and stamp != stamp.floor("h"):
        raise BadRequestError(f"issued={issued[:40]!r} is not a whole hour: issues are hours (UTC)")
    frame = loaded.frame
    if product.partitioning == DAILY:
        frame = frame[frame["issued_at"] == stamp].reset_index(drop=True)
        if frame.empty:
            times = ", ".join(hour_text(t) for t in sorted(loaded.frame["issued_at"].unique()))
            raise NotFoundError(
                f"no {product.name} forecast issued at {hour_text(stamp)}: that day's are {times}"
            )
        return Loaded(loaded.info, frame)
    return loaded


def target_forecasts(
    reader: StoreReader, product: Product, target: pd.Timestamp
) -> tuple[pd.DataFrame, list[ObjectInfo]]:
    """Every stored issue's forecast for hour `target`, oldest issue first."""
    import pandas as pd

    if target != target.floor("h"):
        raise BadRequestError(f"target={hour_text(target)} is not a whole hour")
    start = target - pd.Timedelta(days=3)
    loaded = [
        x
        for x in (reader.issue(product, k) for k in reader.keys_between(product, start, target))
        if x is not None
    ]
    frame = _concat([x.frame[x.frame["datetime_utc"] == target] for x in loaded], product)
    frame = frame.sort_values(["area", "segment", "issued_at"], kind="stable").reset_index(
        drop=True
    )
    return frame, [x.info for x in loaded]


def _concat(frames: list[pd.DataFrame], product: Product) -> pd.DataFrame:
    import pandas as pd

    from energy_assets.serving.reader import served_frame

    if not frames:
        return served_frame(product, pd.DataFrame({"area": [], "segment": []}))
    return pd.concat(frames, ignore_index=True)


def _key_start(product: Product, key: str) -> pd.Timestamp:
    import pandas as pd

    from energy_assets.contracts import DANISH_TZ

    if product.partitioning == DAILY:
        return pd.Timestamp(key).tz_localize(DANISH_TZ).tz_convert("UTC")
    return hour_of_key(key)


def product_accuracy(
    reader: StoreReader, product: Product, days: list[str]
) -> tuple[pd.DataFrame, list[ObjectInfo]]:
    """Daily accuracy of a product's issues (by issue day), scored against the stored actuals as
    `forecast_accuracy` scores the forecasts: overall and per-series rows with `date`."""
    import pandas as pd

    from energy_assets.monitoring.accuracy import score_forecasts
    from energy_assets.serving.reader import ACCURACY_COLUMNS

    keys = reader.partition_keys(product.asset)
    rows: list[pd.DataFrame] = []
    infos: list[ObjectInfo] = []
    for day in days:
        day_keys = [k for k in keys if k[:10] == day]
        issues = [x for x in (reader.issue(product, k) for k in day_keys) if x is not None]
        if not issues:
            continue
        forecasts = pd.concat([x.frame for x in issues], ignore_index=True)
        hours = sorted({hour_key(t) for t in forecasts["datetime_utc"]})
        actuals = reader.actuals(hours)
        infos += [x.info for x in issues]
        infos += [
            i for i in (reader.info(reader.store.relpath(FEATURES.name, h)) for h in hours) if i
        ]
        result = score_forecasts(forecasts.drop(columns=["data_origin"]), actuals)
        overall = {
            name: result.overall[name] for name in ACCURACY_COLUMNS if name in result.overall
        }
        rows.append(pd.DataFrame([{"date": day, "level": "overall", **overall}]))
        rows.append(result.per_series.assign(date=day, level="series"))
    if not rows:
        return pd.DataFrame({c: [] for c in ACCURACY_COLUMNS}), infos
    frame = pd.concat(rows, ignore_index=True).reindex(columns=list(ACCURACY_COLUMNS))
    return frame, infos


def readiness(reader: StoreReader, max_age_seconds: float) -> tuple[str | None, dict[str, Any]]:
    """(None, facts) when ready; else (the one-line reason, facts)."""
    from energy_assets.forecasting.read import check_reachable

    try:
        check_reachable(reader.store)
        product = reader.default_product()
        loaded = reader.latest(product)
    except (InputError, StorageUnavailableError) as error:
        return " ".join(str(error).split()), {}
    if loaded is None:
        return f"no forecast is stored yet ({product.asset})", {}
    age = time.time() - loaded.info.modified
    newest = loaded.frame["issued_at"].max() if len(loaded.frame) else None
    facts = {
        "product": product.name,
        "newest_issue": hour_text(newest) if newest is not None else None,
        "written_at": formatdate(loaded.info.modified, usegmt=True),
        "age_seconds": round(age, 1),
        "max_age_seconds": max_age_seconds,
    }
    if age > max_age_seconds:
        return (
            f"the newest {product.name} forecast was written {age / 3600:.1f} h ago, more than "
            f"the allowed {max_age_seconds / 3600:.1f} h (ENERGY_API_MAX_FORECAST_AGE_SECONDS)",
            facts,
        )
    return None, facts


def series_catalogue(reader: StoreReader, dataset: str) -> tuple[pd.DataFrame, list[ObjectInfo]]:
    """One row per series: dataset, area, segment, first and last stored hour (of the oldest and
    newest stored consumption_features hours it appears in), expected, forecast now."""
    import pandas as pd

    from energy_assets.monitoring.series_catalogue import load_catalogue
    from energy_assets.sources import spec_for

    infos: list[ObjectInfo] = []
    latest = reader.latest(reader.default_product())
    forecast_now: set[tuple[str, str]] = set()
    if latest is not None:
        infos.append(latest.info)
        forecast_now = set(zip(latest.frame["area"], latest.frame["segment"], strict=True))
    expected = set(load_catalogue(reader.store, spec_for(dataset)).expected)
    hours = reader.partition_keys(FEATURES.name)
    first_seen: dict[tuple[str, str], str] = {}
    last_seen: dict[tuple[str, str], str] = {}
    for key, seen in ((hours[0], first_seen), (hours[-1], last_seen)) if hours else ():
        frame = reader.actuals([key])
        info = reader.info(reader.store.relpath(FEATURES.name, key))
        if info is not None:
            infos.append(info)
        for area, segment in zip(
            frame["area"].astype(str), frame["segment"].astype(str), strict=True
        ):
            seen[(area, segment)] = hour_text(hour_of_key(key))
    every = sorted(expected | forecast_now | set(first_seen) | set(last_seen))
    rows = [
        {
            "dataset": dataset,
            "area": area,
            "segment": segment,
            "first_hour": first_seen.get((area, segment)),
            "last_hour": last_seen.get((area, segment)),
            "expected": (area, segment) in expected,
            "forecast_now": (area, segment) in forecast_now,
        }
        for area, segment in every
    ]
    columns = ["dataset", "area", "segment", "first_hour", "last_hour", "expected", "forecast_now"]
    return pd.DataFrame(rows, columns=columns), infos


# --------------------------------------------------------------------------- answers


def _format(request: Request, asked: str | None) -> str:
    if asked is not None:
        fmt = asked.strip().lower()
        if fmt not in FORMATS:
            raise BadRequestError(f"format={asked[:40]!r} is not one of {', '.join(FORMATS)}")
        return fmt
    return "csv" if "text/csv" in request.headers.get("accept", "") else "json"


def _not_modified(request: Request, etag: str, modified: float | None) -> bool:
    match = request.headers.get("if-none-match")
    if match is not None:
        return etag in [m.strip() for m in match.split(",")] or match.strip() == "*"
    since = request.headers.get("if-modified-since")
    if since is not None and modified is not None:
        try:
            return int(modified) <= parsedate_to_datetime(since).timestamp()
        except (TypeError, ValueError):
            return False
    return False


def _headers(etag: str, modified: float | None, next_url: str | None) -> dict[str, str]:
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if modified is not None:
        headers["Last-Modified"] = formatdate(modified, usegmt=True)
    if next_url is not None:
        headers["Link"] = f'<{next_url}>; rel="next"'
    return headers


def _render(frame: pd.DataFrame, fmt: str, product: str | None, next_url: str | None) -> bytes:
    import json

    if fmt == "csv":
        return to_csv(frame).encode()
    body: dict[str, Any] = {}
    if product is not None:
        body["product"] = product
    body.update(count=len(frame), rows=records(frame), next=next_url)
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()


def answer(
    request: Request,
    frame: pd.DataFrame,
    infos: Iterable[ObjectInfo],
    asked_format: str | None,
    product: str | None = None,
    next_url: str | None = None,
) -> Response:
    """`frame` as JSON or CSV with ETag / Last-Modified from `infos` (304 when unchanged)."""
    fmt = _format(request, asked_format)
    infos = list(infos)
    etag = etag_of(infos, request.url.path, sorted(request.query_params.multi_items()), fmt)
    modified = newest_modified(infos)
    headers = _headers(etag, modified, next_url)
    if _not_modified(request, etag, modified):
        return Response(status_code=304, headers=headers)
    media = CSV if fmt == "csv" else "application/json"
    return Response(_render(frame, fmt, product, next_url), media_type=media, headers=headers)


def answer_loaded(
    request: Request,
    product: Product,
    loaded: Loaded,
    area: str | None,
    segment: str | None,
    asked_format: str | None,
) -> Response:
    """One stored issue (or its series), rendered once per filter and format and kept with it."""
    fmt = _format(request, asked_format)
    etag = etag_of(
        [loaded.info], request.url.path, product.name, area, segment, fmt, len(loaded.frame)
    )
    headers = _headers(etag, loaded.info.modified, None)
    if _not_modified(request, etag, loaded.info.modified):
        return Response(status_code=304, headers=headers)
    memo_key = (
        (area or "").strip().upper(),
        (segment or "").strip().lower(),
        fmt,
        len(loaded.frame),
    )
    body = loaded.rendered.get(memo_key)
    if body is None:
        body = _render(select_series(loaded.frame, area, segment), fmt, product.name, None)
        loaded.rendered[memo_key] = body
    media = CSV if fmt == "csv" else "application/json"
    return Response(body, media_type=media, headers=headers)


def _next_url(request: Request, start: pd.Timestamp) -> str:
    return str(request.url.include_query_params(**{"from": start.strftime("%Y-%m-%dT%H:%M:%SZ")}))


# --------------------------------------------------------------------------- errors


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": " ".join(message.split())[:500]}, status_code=status)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def bad_parameters(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "query")
        return _error(400, f"{where or 'request'}: {first.get('msg', 'invalid')}")

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(InputError)
    async def bad_input(request: Request, exc: InputError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(StorageUnavailableError)
    async def unavailable(request: Request, exc: StorageUnavailableError) -> JSONResponse:
        return _error(503, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error answering %s", request.url.path)
        return _error(500, "internal error (logged by the service)")


# --------------------------------------------------------------------------- auth + metrics


def authorised(tokens: frozenset[str], header: str | None) -> bool:
    """Whether an Authorization header carries one of `tokens` (constant-time comparison)."""
    if header is None:
        return False
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    candidate = given.strip().encode()
    return any(hmac.compare_digest(candidate, token.encode()) for token in tokens)


class _Guard:
    """ASGI middleware: bearer tokens on every path but OPEN_PATHS, and request metrics."""

    def __init__(self, app: Any, tokens: frozenset[str], metrics: Any):
        self.app, self.tokens, self.metrics = app, tokens, metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_status(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        path = scope["path"]
        open_path = path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)
        if (
            self.tokens
            and not open_path
            and not authorised(self.tokens, _header(scope, b"authorization"))
        ):
            response = _error(401, "missing or unknown bearer token (Authorization: Bearer …)")
            response.headers["WWW-Authenticate"] = "Bearer"
            await response(scope, receive, send_status)
            return
        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            self.metrics.observe(endpoint, scope.get("method", ""), status[0], elapsed)


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None
