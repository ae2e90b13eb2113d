"""Client for Open-Meteo's hourly weather (`GET /v1/forecast`), or its replay; no Dagster.

Why Open-Meteo and not DMI: the forecaster must be trained and backtested on forecasts *as they
were issued*, and Open-Meteo keeps an archive of past forecasts (historical-forecast-api, from
2022) behind the same `/v1/forecast` interface and JSON as its live forecast, without a key for
non-commercial use. DMI's forecast API (HARMONIE `forecastedr`) keeps runs for about 48 hours,
so history could never be replayed from it. The live endpoint (https://api.open-meteo.com, the
default) answers for the next days and the last ~3 months; point ENERGY_WEATHER_API_URL at
https://historical-forecast-api.open-meteo.com to backfill further back.

`OpenMeteoApi(base_url, locations).fetch_hours(start, end)` returns one row per (UTC hour in
[start, end), location name): `datetime_utc` (tz-aware UTC), `area` (the location's name: a price
area, or DK for national), `temperature_c`, `wind_speed_ms`, `radiation_wm2`, `wind_dir_sin`,
`wind_dir_cos` (float64, NaN where the API sent null). Units are asked for explicitly and checked
against the answer's `hourly_units`: a °F or km/h answer is an error, not a silent conversion.

Error policy (as `energidata_api`): retried with exponential backoff + jitter, honouring
Retry-After: timeouts, connection errors, HTTP 429 and 5xx, bodies that are not JSON. Not retried:
other 4xx (Open-Meteo answers 400 with `{"error": true, "reason": ...}` for a bad parameter) and
JSON that breaks the format. All raise WeatherApiError naming the location, the hours and the cause.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import requests

from energy_assets.contracts import NATIONAL_AREA, hour_range_text, naive_utc
from energy_assets.ingestion import http_retry
from energy_assets.settings import DEFAULT_WEATHER_API_URL
from energy_assets.settings import DEFAULT_WEATHER_LOCATIONS as DEFAULT_LOCATIONS

# Open-Meteo's variable -> (our column, the unit we ask for and insist on).
HOURLY_VARIABLES = {
    "temperature_2m": ("temperature_c", "°C"),
    "wind_speed_10m": ("wind_speed_ms", "m/s"),
    "shortwave_radiation": ("radiation_wm2", "W/m²"),
    "wind_direction_10m": ("wind_direction_deg", "°"),
}
# The replay serves national means: one location named DK.
NATIONAL_LOCATIONS = f"{NATIONAL_AREA}:56.0,10.5"


class WeatherApiError(RuntimeError):
    """The weather API could not deliver the requested hours; the message says what to do."""


def parse_locations(text: str) -> dict[str, tuple[float, float]]:
    """'DK1:56.16,10.21;DK2:55.68,12.57' -> {'DK1': (56.16, 10.21), ...}; ValueError if malformed."""
    locations: dict[str, tuple[float, float]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        try:
            name, coordinates = part.split(":")
            lat, lon = (float(x) for x in coordinates.split(","))
        except ValueError:
            raise ValueError(
                f"weather location {part!r} is not NAME:LATITUDE,LONGITUDE (e.g. DK2:55.68,12.57)"
            ) from None
        locations[name.strip()] = (lat, lon)
    if not locations:
        raise ValueError("no weather location given (e.g. DK2:55.68,12.57)")
    return locations


def empty_weather_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "datetime_utc": pd.Series(dtype="datetime64[ns, UTC]"),
            "area": pd.Series(dtype=object),
            **{
                c: pd.Series(dtype="float64")
                for c in (
                    "temperature_c",
                    "wind_speed_ms",
                    "radiation_wm2",
                    "wind_dir_sin",
                    "wind_dir_cos",
                )
            },
        }
    )


def parse_hourly(document: Mapping[str, Any], area: str, context: str) -> pd.DataFrame:
    """One Open-Meteo answer (`hourly_units` + `hourly` arrays, times in GMT) -> our columns."""
    hourly, units = document.get("hourly"), document.get("hourly_units", {})
    if not isinstance(hourly, Mapping) or "time" not in hourly:
        keys = list(document) if isinstance(document, Mapping) else type(document).__name__
        raise WeatherApiError(
            f"{context}: the answer has no 'hourly' arrays with 'time' (got {keys}); is this an "
            "Open-Meteo API?"
        )
    if document.get("utc_offset_seconds", 0) != 0:
        raise WeatherApiError(f"{context}: times are not in GMT (ask with timezone=GMT)")
    try:
        times = pd.to_datetime(pd.Series(hourly["time"]), format="ISO8601").dt.tz_localize("UTC")
    except (ValueError, TypeError):
        raise WeatherApiError(f"{context}: 'hourly.time' has unparseable timestamps") from None
    out = pd.DataFrame({"datetime_utc": times, "area": area})
    for variable, (column, unit) in HOURLY_VARIABLES.items():
        if variable not in hourly:
            raise WeatherApiError(f"{context}: the answer has no hourly {variable}")
        if units.get(variable, unit) != unit:
            raise WeatherApiError(
                f"{context}: {variable} is in {units.get(variable)!r}, expected {unit!r}"
            )
        values = hourly[variable]
        if len(values) != len(times):
            raise WeatherApiError(
                f"{context}: hourly {variable} has {len(values)} values for {len(times)} times"
            )
        out[column] = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").astype(
            "float64"
        )
    radians = np.deg2rad(out.pop("wind_direction_deg"))
    out["wind_dir_sin"], out["wind_dir_cos"] = np.sin(radians), np.cos(radians)
    return out


class OpenMeteoApi:
    """Retrying reader of Open-Meteo's hourly variables for a few named points.

    `request_count` counts every HTTP attempt (retries included) since construction.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_WEATHER_API_URL,
        locations: Mapping[str, tuple[float, float]] | str = DEFAULT_LOCATIONS,
        timeout_seconds: float = 60.0,
        max_retries: int = 5,
        backoff_seconds: float = 1.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.locations = (
            parse_locations(locations) if isinstance(locations, str) else dict(locations)
        )
        self.timeout_seconds = timeout_seconds
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.session = session or requests.Session()
        self.request_count = 0

    @property
    def forecast_url(self) -> str:
        return f"{self.base_url}/v1/forecast"

    def fetch_hours(self, start_utc: Any, end_utc: Any) -> pd.DataFrame:
        """Every location's hourly values for the UTC hours [start_utc, end_utc) (naive = UTC)."""
        start, end = naive_utc(start_utc), naive_utc(end_utc)
        if end <= start:
            raise ValueError(f"empty hour range {hour_range_text(start, end)}")
        frames = []
        for area, (lat, lon) in self.locations.items():
            context = f"weather for {area} {hour_range_text(start, end)}"
            params = {
                "latitude": lat,
                "longitude": lon,
                "hourly": ",".join(HOURLY_VARIABLES),
                "wind_speed_unit": "ms",
                "timezone": "GMT",
                "start_hour": f"{start:%Y-%m-%dT%H:%M}",
                # Open-Meteo's end_hour is inclusive.
                "end_hour": f"{end - pd.Timedelta(hours=1):%Y-%m-%dT%H:%M}",
            }
            frames.append(parse_hourly(self._get(params, context), area, context))
        return pd.concat(frames, ignore_index=True) if frames else empty_weather_frame()

    def _get(self, params: dict[str, Any], context: str) -> dict[str, Any]:
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            try:
                return self._request(params, context)
            except http_retry.Retryable as exc:
                if attempt + 1 >= attempts:
                    raise WeatherApiError(
                        f"{context}: the weather API at {self.forecast_url} failed {attempts} "
                        f"times; last cause: {exc}. It may be down or rate-limiting: retry the "
                        "run later (forecasts keep running without weather meanwhile)."
                    ) from exc
                time.sleep(self._backoff(attempt, exc.retry_after))
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        return http_retry.backoff(attempt, self.backoff_seconds, retry_after)

    def _request(self, params: dict[str, Any], context: str) -> dict[str, Any]:
        self.request_count += 1
        response = http_retry.get(self.session, self.forecast_url, params, self.timeout_seconds)
        status = response.status_code
        if status >= 400:
            raise WeatherApiError(
                f"{context}: HTTP {status} from {self.forecast_url}: {http_retry.short(response.text)}; "
                "check ENERGY_WEATHER_API_URL and the hours asked for (the live API serves "
                "about 3 months back; older hours need historical-forecast-api.open-meteo.com)"
            )
        document = http_retry.json_body(response)
        if not isinstance(document, dict):
            raise WeatherApiError(f"{context}: the answer is not a JSON object")
        return document
