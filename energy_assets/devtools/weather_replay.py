"""A local stand-in for Open-Meteo: serves an hourly weather file as `GET /v1/forecast`.

It answers with Open-Meteo's own JSON (`latitude`, `longitude`, `utc_offset_seconds`,
`hourly_units`, `hourly` arrays of `time` and each variable asked for in `hourly=`), takes the
parameters the client sends (`hourly`, `start_hour` / `end_hour` inclusive, `timezone=GMT`,
`wind_speed_unit=ms`) and rejects others as the real API does (400 with `{"error": true,
"reason": ...}`). Hours the file lacks are served as null, as Open-Meteo serves a missing value.

What it serves is DMI's national *observations*: the same values for any coordinates, and the
"forecast" for later hours is what was later observed (a perfect forecast). That is what the
platform has offline; it overstates a real forecast's worth (docs/decisions/0005-weather.md).

Faults for the client's tests: `server.faults.fail_next(n, status, retry_after)` makes the next n
requests fail with `status`.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd

from energy_assets.devtools import WEATHER_SAMPLE_PATH
from energy_assets.ingestion.weather_api import HOURLY_VARIABLES
from energy_assets.ingestion.weather_files import read_weather_file


@dataclass
class WeatherFaults:
    failures: list[tuple[int, float | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, n: int, status: int = 503, retry_after: float | None = None) -> None:
        with self.lock:
            self.failures += [(status, retry_after)] * n

    def take(self) -> tuple[int, float | None] | None:
        with self.lock:
            return self.failures.pop(0) if self.failures else None


class WeatherReplayServer:
    """The replay on a background thread; `url` is the base URL (ENERGY_WEATHER_API_URL)."""

    def __init__(
        self,
        data: pd.DataFrame | str | Path,
        host: str = "127.0.0.1",
        port: int = 0,
        shift_weeks: int = 0,
    ):
        frame = data if isinstance(data, pd.DataFrame) else read_weather_file(data)
        # National means: one value per hour (the first area if a frame carries several).
        frame = frame[frame["area"] == frame["area"].iloc[0]] if len(frame) else frame
        # shift_weeks: serve every hour that many weeks later, the shift the consumption replay
        # chose with --as-current (its `shift_weeks`), so each replayed consumption hour meets
        # the weather that was really observed at it.
        self.shift_weeks = int(shift_weeks)
        frame = frame.assign(
            datetime_utc=frame["datetime_utc"] + pd.Timedelta(weeks=self.shift_weeks)
        )
        self.hourly = frame.set_index("datetime_utc").sort_index()
        self.faults = WeatherFaults()
        self.request_count = 0
        self._host, self._port = host, port
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        return f"http://{self._host}:{self._httpd.server_address[1]}"

    def answer(self, query: dict[str, list[str]]) -> tuple[int, dict]:
        """(status, JSON document) for a /v1/forecast query, as Open-Meteo would answer."""
        first = {k: v[0] for k, v in query.items()}
        try:
            lat, lon = float(first["latitude"]), float(first["longitude"])
        except (KeyError, ValueError):
            return 400, {"error": True, "reason": "Parameter 'latitude' and 'longitude' required"}
        variables = [v for v in first.get("hourly", "").split(",") if v]
        unknown = [v for v in variables if v not in HOURLY_VARIABLES]
        if unknown:
            return 400, {"error": True, "reason": f"Cannot initialize {unknown[0]}"}
        if first.get("timezone", "GMT") not in ("GMT", "UTC"):
            return 400, {"error": True, "reason": "the replay serves timezone=GMT only"}
        if first.get("wind_speed_unit", "kmh") != "ms":
            return 400, {"error": True, "reason": "the replay serves wind_speed_unit=ms only"}
        try:
            start = pd.Timestamp(first["start_hour"]).tz_localize("UTC")
            end = pd.Timestamp(first["end_hour"]).tz_localize("UTC")
        except (KeyError, ValueError):
            return 400, {"error": True, "reason": "start_hour and end_hour (yyyy-mm-ddThh:mm)"}
        if end < start:
            return 400, {"error": True, "reason": "end_hour must not be before start_hour"}
        hours = pd.date_range(start, end, freq="h")
        rows = self.hourly.reindex(hours)
        degrees = np.rad2deg(np.arctan2(rows["wind_dir_sin"], rows["wind_dir_cos"])) % 360
        columns = {
            "temperature_2m": rows["temperature_c"],
            "wind_speed_10m": rows["wind_speed_ms"],
            "shortwave_radiation": rows["radiation_wm2"],
            "wind_direction_10m": degrees,
        }

        def values(series: pd.Series) -> list:
            return [None if pd.isna(x) else round(float(x), 4) for x in series]

        return 200, {
            "latitude": lat,
            "longitude": lon,
            "generationtime_ms": 0.1,
            "utc_offset_seconds": 0,
            "timezone": "GMT",
            "timezone_abbreviation": "GMT",
            "hourly_units": {"time": "iso8601", **{v: HOURLY_VARIABLES[v][1] for v in variables}},
            "hourly": {
                "time": [f"{h:%Y-%m-%dT%H:%M}" for h in hours],
                **{v: values(columns[v]) for v in variables},
            },
        }

    def start(self) -> WeatherReplayServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet in tests
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server.request_count += 1
                parts = urlsplit(self.path)
                fault = server.faults.take()
                if fault is not None:
                    status, retry_after = fault
                    self._send(status, {"error": True, "reason": "injected fault"}, retry_after)
                elif parts.path.rstrip("/") != "/v1/forecast":
                    self._send(404, {"error": True, "reason": f"no such endpoint {parts.path}"})
                else:
                    self._send(*server.answer(parse_qs(parts.query)))

            def _send(self, status: int, document: dict, retry_after: float | None = None):
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if retry_after is not None:
                    self.send_header("Retry-After", f"{retry_after:g}")
                self.end_headers()
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer((self._host, self._port), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> WeatherReplayServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `energy-assets weather-replay` command."""
    parser.add_argument(
        "--data",
        default=str(WEATHER_SAMPLE_PATH),
        help="hourly weather (DMI's national CSV columns or an Open-Meteo JSON answer); "
        "default: the bundled DMI file",
    )
    from energy_assets.devtools.replay_api import add_listen_arguments

    add_listen_arguments(parser)
    parser.add_argument(
        "--shift-weeks",
        type=int,
        default=0,
        help="serve every hour this many weeks later: the shift `replay-api --as-current` "
        "reports, so replayed consumption meets the weather really observed at it",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: object = None) -> int:
    from energy_assets.devtools.replay_api import listen_error, serve_until_interrupted

    server = WeatherReplayServer(args.data, args.host, args.port, shift_weeks=args.shift_weeks)
    try:
        server.start()
    except OSError as exc:
        raise listen_error(args, exc) from None
    # As replay-api: the URL alone on stdout (a parent process reads it), details on stderr.
    print(server.url, flush=True)
    hours = server.hourly.index
    print(
        f"weather-replay: {args.data} ({hours.min()} → {hours.max()} UTC, shifted "
        f"{server.shift_weeks} weeks) at {server.url}/v1/forecast; DMI observations stand in "
        "for forecasts. Point ENERGY_WEATHER_API_URL at it.",
        file=sys.stderr,
        flush=True,
    )
    return serve_until_interrupted(threading.Event().wait, server.stop)
