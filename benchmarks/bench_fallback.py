"""Fallback benchmark: the error of `forecasting.fallback`'s weekly profile, fresh and stale.

For daily origins (every hour of day in turn) the fallback forecasts the next 24 hours of every
series from data up to the origin ("fresh") and from data up to 48 hours before it ("stale": the
series' last two days missing, the case the fallback is for). The 10 / 90 % quantiles of
log(actual / fallback) are tuned on DK2 2019-2022 origins and checked (coverage of the default
band, MAPE, MAPE of the lag-168 naive on the same points) on DK2 2023-2024 and the DE35 slice;
beside it, the coverage and mean relative width of the band the fallback serves (each series'
own, backtested on the 15 days of history the `forecasts` asset gives it: `series_band`).

    uv run python benchmarks/bench_fallback.py [--dk2 FILE] [--step-hours 37]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks._machine import machine_description  # noqa: E402
from energy_assets.devtools import SAMPLE_DATA_PATH  # noqa: E402
from energy_assets.features.engineering import read_consumption_file  # noqa: E402
from energy_assets.forecasting import fallback  # noqa: E402
from energy_assets.sources import CONSUMPTION_DE35_HOUR as DE35  # noqa: E402
from energy_assets.sources import PRODUCTION_CONSUMPTION_SETTLEMENT as PCS  # noqa: E402

DK2 = "/work/shared/data/ProductionConsumptionSettlement_DK2.csv.gz"
# The history the `forecasts` asset gives the fallback (contracts.FORECAST_HISTORY_HOURS).
HISTORY_HOURS = 24 * 15


def residuals(
    frame: pd.DataFrame,
    origins,
    stale_hours: int,
    history_hours: int = HISTORY_HOURS,
    horizons: tuple[int, int] = (1, 24),
) -> pd.DataFrame:
    series = frame[["area", "segment"]].drop_duplicates().itertuples(index=False)
    series = [(str(a), str(s)) for a, s in series]
    rows = []
    for origin in origins:
        window = frame[
            (frame["datetime_utc"] > origin - pd.Timedelta(hours=history_hours))
            & (frame["datetime_utc"] <= origin - pd.Timedelta(hours=stale_hours))
        ]
        rows.append(
            fallback.fallback_forecasts(
                window,
                series,
                [origin],
                horizon_hours=horizons[1],
                min_horizon_hours=horizons[0],
            )
        )
    forecasts = pd.concat(rows, ignore_index=True)
    actual = frame.rename(columns={"energy_consumption": "actual"})
    points = forecasts.merge(actual[["area", "segment", "datetime_utc", "actual"]])
    naive = actual.assign(datetime_utc=actual["datetime_utc"] + pd.Timedelta(hours=168))
    points = points.merge(
        naive[["area", "segment", "datetime_utc", "actual"]].rename(columns={"actual": "lag168"})
    )
    points = points[(points["actual"] > 0) & (points["prediction"] > 0)]
    points["log_ratio"] = np.log(points["actual"] / points["prediction"])
    return points


def report(name: str, points: pd.DataFrame, band: tuple[float, float]) -> None:
    lo, hi = band
    inside = (points["log_ratio"] >= lo) & (points["log_ratio"] <= hi)
    ape = (points["prediction"] - points["actual"]).abs() / points["actual"]
    naive = (points["lag168"] - points["actual"]).abs() / points["actual"]
    own = (points["actual"] >= points["p10"]) & (points["actual"] <= points["p90"])
    width = ((points["p90"] - points["p10"]) / points["prediction"]).mean()
    print(
        f"{name:<34} points {len(points):>7}  MAPE {ape.mean():6.2%}  lag-168 MAPE "
        f"{naive.mean():6.2%}  q10 {points['log_ratio'].quantile(0.1):+.3f}  q90 "
        f"{points['log_ratio'].quantile(0.9):+.3f}  default band covers {inside.mean():6.1%}  "
        f"per-series band covers {own.mean():6.1%} (width {width:.3f})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dk2", default=DK2)
    parser.add_argument("--step-hours", type=int, default=37)
    parser.add_argument("--check-only", action="store_true", help="skip the 2019-2022 tuning")
    parser.add_argument(
        "--product-lag",
        type=int,
        default=None,
        help="check the band at a forecast product's horizons (LAG .. LAG + 49 h, the 56 days "
        "of history the product assets read) instead",
    )
    args = parser.parse_args()
    print(machine_description(), flush=True)
    started = time.perf_counter()
    dk2 = read_consumption_file(args.dk2, PCS)
    de35 = read_consumption_file(str(SAMPLE_DATA_PATH), DE35)
    step = pd.Timedelta(hours=args.step_hours)
    tune = pd.date_range("2019-01-01", "2022-12-31", freq=step, tz="UTC")
    check = pd.date_range(
        pd.Timestamp("2023-01-01", tz="UTC"),
        dk2["datetime_utc"].max() - pd.Timedelta(days=1),
        freq=step,
    )
    first = de35["datetime_utc"].min() + pd.Timedelta(days=15)
    de35_origins = pd.date_range(
        first, de35["datetime_utc"].max() - pd.Timedelta(days=1), freq="5h"
    )
    if args.product_lag is not None:
        from energy_assets.contracts import PRODUCT_MAX_LEAD_HOURS

        lag = int(args.product_lag)
        reach = (lag, lag + PRODUCT_MAX_LEAD_HOURS)
        check = check[check <= dk2["datetime_utc"].max() - pd.Timedelta(hours=reach[1])]
        for kind, stale in (("fresh", 0), ("stale", 48)):
            for name, origins in (("2019-2022", tune), ("2023-", check)):
                points = residuals(dk2, origins, stale, history_hours=56 * 24, horizons=reach)
                band = fallback.FALLBACK_LOG_QUANTILES["stale"]
                report(f"DK2 {name} {kind} lag {lag} h", points, band)
        print(f"{time.perf_counter() - started:.0f} s")
        return
    for kind, stale in (("fresh", 0), ("stale", 48)):
        shipped = fallback.FALLBACK_LOG_QUANTILES[kind]
        if args.check_only:
            report(f"DK2 2023- {kind} (check)", residuals(dk2, check, stale), shipped)
            report(f"DE35 slice {kind} (check)", residuals(de35, de35_origins, stale), shipped)
            continue
        tuned = residuals(dk2, tune, stale)
        band = (
            round(float(tuned["log_ratio"].quantile(0.1)), 3),
            round(float(tuned["log_ratio"].quantile(0.9)), 3),
        )
        print(f"{kind}: tuned band {band}; shipped {fallback.FALLBACK_LOG_QUANTILES[kind]}")
        shipped = fallback.FALLBACK_LOG_QUANTILES[kind]
        report(f"DK2 2019-2022 {kind} (tuning)", tuned, shipped)
        report(f"DK2 2023- {kind} (check)", residuals(dk2, check, stale), shipped)
        report(f"DE35 slice {kind} (check)", residuals(de35, de35_origins, stale), shipped)
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
