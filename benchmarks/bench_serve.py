"""Forecast API benchmark: requests/s and p50 / p99 latency of `energy-assets serve`.

For 76 and 300 series, on a local folder and on the GCS emulator (the tests' patched emulator in
its own process, through the real client), with 1 and 32 concurrent clients: the latest forecast of
one series (`/v1/forecasts/latest?area=&segment=`) and of all series (`/v1/forecasts/latest`,
24 h x every series). Also the cold start (process start to the first answer of /healthz and of
the first forecast) and the server's memory (peak RSS). The service runs as the command does:
one uvicorn process, default settings (ENERGY_API_CACHE_SECONDS=2). The clients are threads of
this process on keep-alive connections; on a 2-core machine they compete with the server for the
CPU, so the figures are a floor. The load average is printed with the figures: the machine may
be shared.

Run: `uv run python benchmarks/bench_serve.py [--requests 1000] [--series 76 300]
[--storage local gcs]`.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks._machine import machine_description
from energy_assets.storage.parquet_store import ParquetStore
from energy_assets_tests.fixtures.gcs import start_emulator
from energy_assets_tests.serving import stored

ORIGINS = [pd.Timestamp("2026-11-20 04:00", tz="UTC"), pd.Timestamp("2026-11-20 05:00", tz="UTC")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (what a cold start costs, whatever the load)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen, int, float, float, float]:
    """The service on a free port; (process, port, s to /healthz, s to the first forecast,
    CPU s the process had used when /healthz first answered)."""
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "energy_assets.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while True:
        if process.poll() is not None:
            raise RuntimeError("the service exited")
        try:
            if get(port, "/healthz") == 200:
                break
        except OSError:
            time.sleep(0.02)
    up = time.perf_counter() - started
    cpu = cpu_seconds(process.pid)
    assert get(port, "/v1/forecasts/latest?product=forecasts") == 200
    return process, port, up, time.perf_counter() - started, cpu


def load(port: int, path: str, clients: int, total: int) -> tuple[float, float, float, int, int]:
    """(requests/s, p50 ms, p99 ms, bytes of one answer, requests made) of `total` GETs of `path` from `clients` threads."""
    per_client = max(1, total // clients)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures: list[int] = []
    barrier = threading.Barrier(clients + 1)
    sizes: list[int] = []

    def client(i: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        barrier.wait()
        for _ in range(per_client):
            t0 = time.perf_counter()
            connection.request("GET", path)
            response = connection.getresponse()
            sizes.append(len(response.read()))
            latencies[i].append(time.perf_counter() - t0)
            if response.status != 200:
                failures.append(response.status)
        connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed: {sorted(set(failures))}")
    every = np.concatenate([np.asarray(x) for x in latencies]) * 1000
    rate = len(every) / elapsed
    return (
        rate,
        float(np.percentile(every, 50)),
        float(np.percentile(every, 99)),
        sizes[0],
        len(every),
    )


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="one-series requests a case")
    parser.add_argument("--series", type=int, nargs="+", default=[76, 300])
    parser.add_argument("--storage", nargs="+", default=["local", "gcs"])
    args = parser.parse_args()
    print(machine_description())
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        "storage | series | clients | what | req/s | p50 ms | p99 ms | server CPU ms/req | KiB"
        "\n--- | --- | --- | --- | --- | --- | --- | --- | ---"
    )
    emulator = start_emulator() if "gcs" in args.storage else None
    notes = []
    try:
        for kind in args.storage:
            for n_series in args.series:
                with tempfile.TemporaryDirectory() as folder:
                    env = {k: v for k, v in os.environ.items() if not k.startswith("ENERGY_")}
                    env["DAGSTER_HOME"] = str(Path(folder) / "home")
                    if kind == "gcs":
                        assert emulator is not None
                        bucket = emulator.make_bucket(f"bench-{uuid.uuid4().hex[:10]}")
                        url = f"gs://{bucket.name}/platform"
                        store = ParquetStore(url, gcs_client=emulator.client())
                        env.update(STORAGE_EMULATOR_HOST=emulator.host, GOOGLE_CLOUD_PROJECT="test")
                    else:
                        url = str(Path(folder) / "storage")
                        store = ParquetStore(url)
                    env["ENERGY_STORAGE_URL"] = url
                    series = stored.series_list(n_series)
                    stored.write_forecasts(store, ORIGINS, series)
                    process, port, up, first, cpu = start_server(env)
                    try:
                        area, segment = series[1]
                        one = f"/v1/forecasts/latest?area={area}&segment={segment}"
                        for clients in (1, 32):
                            for what, path, total in (
                                ("one series", one, args.requests),
                                ("all series", "/v1/forecasts/latest", max(64, args.requests // 4)),
                            ):
                                cpu_before = cpu_seconds(process.pid)
                                rate, p50, p99, size, made = load(port, path, clients, total)
                                # Server CPU per request: what the service costs, whatever the load.
                                cpu_ms = (cpu_seconds(process.pid) - cpu_before) * 1000 / made
                                print(f"{kind} | {n_series} | {clients} | {what} | {rate:,.0f} | "
                                      f"{p50:.1f} | {p99:.1f} | {cpu_ms:.2f} | {size / 1024:,.0f}",
                                      flush=True)  # fmt: skip
                        notes.append(
                            f"{kind}, {n_series} series: up (/healthz) {up:.2f} s wall, {cpu:.2f} s CPU; first forecast "
                            f"answered {first:.2f} s after start; peak RSS {peak_rss_mib(process.pid):.0f} MiB"
                        )
                    finally:
                        process.terminate()
                        process.wait(timeout=10)
    finally:
        if emulator is not None:
            emulator.stop()
    for note in notes:
        print(note)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
