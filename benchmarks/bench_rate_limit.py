"""A year's backfill at the real API's rate limit, computed from the plan (no requests are made).

Energi Data Service accepts one request per dataset per minute per IP address and serves pages of
up to 100,000 records. For each source spec: records = expected series × 8,760 hours, requests =
ceil(records / 100,000), and the floor on wall time is one minute per request (the platform
spaces requests by ENERGY_API_MIN_INTERVAL_SECONDS = 60 s plus a quarter second of slack).
Usage: uv run python benchmarks/bench_rate_limit.py [--hours 8760] [--interval 60]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._machine import machine_description  # noqa: E402
from energy_assets.ingestion.ratelimit import (  # noqa: E402
    REAL_API_INTERVAL_SECONDS,
    SLACK_SECONDS,
    backfill_plan,
)
from energy_assets.sources import SOURCES  # noqa: E402

PAGE_SIZE = 100_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=int, default=8760)
    parser.add_argument("--interval", type=float, default=REAL_API_INTERVAL_SECONDS)
    args = parser.parse_args(argv)
    print(machine_description())
    print(
        f"backfill of {args.hours:,} hours, pages of {PAGE_SIZE:,} records, one request per "
        f"{args.interval:g} s per dataset (+{SLACK_SECONDS:g} s slack)"
    )
    print(f"{'dataset':36} {'series':>6} {'records':>12} {'requests':>8} {'floor min':>9}")
    for name, spec in SOURCES.items():
        plan = backfill_plan(name, args.hours, len(spec.expected_series), PAGE_SIZE, args.interval)
        # What the client really waits: interval + slack between consecutive requests.
        spaced = plan.wait_seconds * (args.interval + SLACK_SECONDS) / max(args.interval, 1e-9)
        print(
            f"{name:36} {plan.series:>6} {plan.records:>12,} {plan.requests:>8} "
            f"{plan.floor_minutes:>9.1f}   (waits between requests: {spaced / 60:.1f} min)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
