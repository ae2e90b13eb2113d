"""`energy-assets serve` as a real process (uvicorn on a free port): /readyz goes 503 when the
newest forecast is older than the limit and back to 200 after the next forecast run; with tokens a
request without one is 401 and the token is never printed; a non-local bind without tokens refuses
to start; starting imports neither Dagster, the definitions, MLflow nor the model, in well under 2 s."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pandas as pd

from energy_assets.storage.parquet_store import ParquetStore
from energy_assets_tests.helpers import stop_process
from energy_assets_tests.serving import stored
from energy_assets_tests.serving.conftest import ORIGINS, SERIES

TOKEN = "tok-9f8e7d6c5b4a"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _env(tmp_path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENERGY_API_")}
    env.update(
        DAGSTER_HOME=str(tmp_path / "home"), ENERGY_STORAGE_URL=str(tmp_path / "storage"), **extra
    )
    return env


def _serve(tmp_path, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "energy_assets.cli", "serve", *args],
        env=_env(tmp_path, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_up(base: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            if _get(f"{base}/healthz")[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the service did not come up")


def test_readiness_follows_the_newest_forecast_and_tokens_guard(tmp_path):
    store = ParquetStore(str(tmp_path / "storage"))
    stored.write_forecasts(store, ORIGINS, SERIES)
    three_hours_ago = time.time() - 3 * 3600
    os.utime(store.uri("forecasts/latest/data.parquet"), (three_hours_ago, three_hours_ago))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    process = _serve(
        tmp_path,
        "--port",
        str(port),
        ENERGY_API_TOKENS=f"other,{TOKEN}",
        ENERGY_API_MAX_FORECAST_AGE_SECONDS="3600",
        ENERGY_API_CACHE_SECONDS="0",
    )
    try:
        _wait_up(base, process)
        status, body = _get(f"{base}/v1/forecasts/latest")
        assert status == 401 and "bearer token" in body["error"]

        status, body = _get(f"{base}/readyz", TOKEN)
        assert status == 503, body
        assert "written 3.0 h ago, more than the allowed 1.0 h" in body["reason"]

        # The next forecast run writes a new origin (and forecasts/latest).
        stored.write_forecasts(store, [ORIGINS[-1] + pd.Timedelta(hours=1)], SERIES)
        status, body = _get(f"{base}/readyz", TOKEN)
        assert status == 200 and body["newest_issue"] == "2026-11-20T06:00Z", body
        status, body = _get(f"{base}/v1/forecasts/latest?area=DK1&segment=100", TOKEN)
        assert status == 200 and body["count"] == 24
    finally:
        stop_process(process, timeout=10)
    output = process.stdout.read() if process.stdout else ""
    assert "bearer tokens required" in output
    assert TOKEN not in output


def test_a_non_local_bind_without_tokens_refuses_to_start(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "energy_assets.cli", "serve", "--host", "0.0.0.0", "--port", "0"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "energy-assets serve: error: refusing to listen on 0.0.0.0 without tokens: set "
        "ENERGY_API_TOKENS (comma separated) or ENERGY_API_TOKEN_FILE, or bind to 127.0.0.1"
    ]


STARTUP = """
import json, sys, time
started = time.perf_counter(); cpu = time.process_time()
from energy_assets.settings import Settings
from energy_assets import cli
cli.serve_parser().parse_args(["serve", "--port", "8000"])  # as `energy-assets serve` parses
from energy_assets.serving.server import config_from_settings, read_tokens
from energy_assets.serving.app import create_app
settings = Settings.from_env()
app = create_app(config_from_settings(settings, read_tokens(settings.api_tokens, None)))
heavy = [m for m in ("dagster", "mlflow", "lightgbm", "energy_assets.defs", "energy_assets.definitions",
                     "energy_assets.training.forecaster", "optuna", "great_expectations",
                     "energy_assets.devtools") if m in sys.modules]
print(json.dumps({"wall": time.perf_counter() - started, "cpu": time.process_time() - cpu, "heavy": heavy}))
"""


def test_starting_imports_nothing_heavy_and_is_quick(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", STARTUP],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout)
    assert measured["heavy"] == []
    # CPU time, not wall: the shared test machine's load would measure the neighbours.
    assert measured["cpu"] < 2.0, measured
