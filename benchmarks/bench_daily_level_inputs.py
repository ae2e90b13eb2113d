"""Daily level, issue 25 item 7: candidate changes measured as trials, without touching the
shipped code. Each variant either adds model inputs (by wrapping the input builder the forecaster
calls, so fit() and predict() both see them) or overrides parameters; the forecaster is then fit
and scored exactly as `energy-assets backtest` does (no weather, daily origins after a cutoff).

Variants (docs/decisions/0011, section 3, has the runs):
  base        the shipped model
  hol         days since / until the nearest holiday-like day (statutory, 24 / 31 Dec, the
              year-end break; weekends excluded) of the target day and of the origin, clipped 7
  brk         the year-end break's calendar: day index inside 24 Dec .. 1 Jan, days after it
              (2 Jan = 1, clipped 21) and days before it (clipped 21), target and origin
  hol+brk     both
  l2, huber   the LightGBM objective (shipped: l1)
  ridge       a daily-mean model (ridge on the last 7 days' means over the level and the off-day
              / year-end-break shares of the next day, the last day and a week before) for the
              mean of the next 24 h; each path rescaled to (trees' mean)^(1-w) (ridge's)^w,
              w in RIDGE_WEIGHTS (w = 0: the shipped model)

    uv run python benchmarks/bench_daily_level_inputs.py --case DE35:2023-01-07T22:00:3 \
        --variants base,hol --seeds 0 [--out results.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from energy_assets.devtools import SAMPLE_DATA_PATH  # noqa: E402

DK2 = "/work/shared/data/ProductionConsumptionSettlement_DK2.csv.gz"
CLIP = 7
BREAK_CLIP = 21


def _local_days(grid) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Local date of every grid calendar hour, and the positions of those dates in a day index."""
    from energy_assets.contracts import DANISH_TZ

    hours = pd.date_range(grid.start, periods=grid.n_calendar, freq="h")
    local = hours.tz_convert(DANISH_TZ).tz_localize(None).normalize()
    days = pd.date_range(local.min() - pd.Timedelta(days=40), local.max() + pd.Timedelta(days=40))
    return days, np.asarray(days.get_indexer(local))


def extra_columns(grid, variant: str) -> dict[str, np.ndarray]:
    """Per calendar hour of `grid`: the variant's day-level columns (cached on the grid)."""
    cache = getattr(grid, "_trial_cache", None)
    if cache is None:
        cache = grid._trial_cache = {}
    if variant in cache:
        return cache[variant]
    from energy_assets.features.calendar import is_danish_holiday

    days, pos = _local_days(grid)
    out: dict[str, np.ndarray] = {}
    if "hol" in variant:
        in_break = ((days.month == 12) & (days.day >= 24)) | ((days.month == 1) & (days.day == 1))
        special = is_danish_holiday(days) | np.asarray(in_break)
        weekday = np.asarray(days.dayofweek) >= 5
        marked = special & ~weekday  # a holiday on a weekend moves nothing
        idx = np.arange(len(days))
        last = np.maximum.accumulate(np.where(marked, idx, -(10**6)))
        since = np.clip(idx - last, 0, CLIP)
        nxt = np.minimum.accumulate(np.where(marked, idx, 10**6)[::-1])[::-1]
        until = np.clip(nxt - idx, 0, CLIP)
        out["days_since_holiday"] = since[pos].astype(float)
        out["days_until_holiday"] = until[pos].astype(float)
    if "brk" in variant:
        month, day = np.asarray(days.month), np.asarray(days.day)
        year = np.asarray(days.year)
        dec24 = pd.to_datetime(pd.DataFrame({"year": year, "month": 12, "day": 24}))
        prev24 = pd.to_datetime(pd.DataFrame({"year": year - 1, "month": 12, "day": 24}))
        jan1 = pd.to_datetime(pd.DataFrame({"year": year, "month": 1, "day": 1}))
        in_break = ((month == 12) & (day >= 24)) | ((month == 1) & (day == 1))
        index = np.where(
            month == 12,
            (days - pd.DatetimeIndex(dec24)).days,
            (days - pd.DatetimeIndex(prev24)).days,
        )
        out["break_day"] = np.where(in_break, index, -1)[pos].astype(float)
        after = np.asarray((days - pd.DatetimeIndex(jan1)).days)
        out["days_after_break"] = np.where(in_break, 0, np.clip(after, 0, BREAK_CLIP))[pos].astype(
            float
        )
        before = np.asarray((pd.DatetimeIndex(dec24) - days).days)
        out["days_before_break"] = np.where(
            before >= 0, np.clip(before, 0, BREAK_CLIP), BREAK_CLIP
        )[pos].astype(float)
    cache[variant] = out
    return out


def install(variant: str):
    """Wrap the forecaster's input builder with the variant's columns; returns an undo."""
    from energy_assets.training import forecaster as fc

    original = fc.build_model_inputs
    if not any(k in variant for k in ("hol", "brk")):
        return lambda: None

    def wrapped(grid, s, o, h, *args, **kwargs):
        columns, level = original(grid, s, o, h, *args, **kwargs)
        for name, per_hour in extra_columns(grid, variant).items():
            columns[f"{name}_target"] = per_hour[o + h]
            columns[f"{name}_origin"] = per_hour[o]
        return columns, level

    fc.build_model_inputs = wrapped

    def undo():
        fc.build_model_inputs = original

    return undo


def _daily_design(grid, s: np.ndarray, o: np.ndarray) -> np.ndarray:
    """Per (series, origin): the last 7 days' means over the level (the last 24 h), and the
    off-day / year-end-break shares of the next 24 h, the last 24 h and those a week before."""
    from energy_assets.contracts import OFF_DAY, YEAR_END_BREAK

    level = grid.window_mean(s, o, 24)
    cols = [
        np.log(np.clip(grid.window_mean(s, o - 24 * k, 24) / level, 1e-3, 1e3)) for k in range(1, 7)
    ]
    for kind in (OFF_DAY, YEAR_END_BREAK):
        c = np.concatenate([[0.0], np.cumsum(grid.calendar[kind].astype(float))])
        for lo in (o + 1, o - 23, o - 167):  # the target day, the last day, the target a week ago
            a, b = np.clip(lo, 0, len(c) - 1), np.clip(lo + 24, 0, len(c) - 1)
            cols.append((c[b] - c[a]) / 24.0)
    return np.column_stack(cols)


def daily_mean_model(train: pd.DataFrame):
    """Ridge on the design above for log(mean of the next 24 h / level), every hourly origin
    of the training window with a full week behind and 24 observed hours ahead."""
    from energy_assets.features.model_inputs import SeriesGrid

    grid = SeriesGrid(train)
    o_all = np.arange(24 * 8, grid.n_hours - 24)
    s, o = (a.ravel() for a in np.meshgrid(np.arange(len(grid.series)), o_all, indexing="ij"))
    X = _daily_design(grid, s, o)
    level = grid.window_mean(s, o, 24)
    ahead = (grid.csum[s, o + 25] - grid.csum[s, o + 1]) / 24.0
    y = np.log(np.clip(ahead / level, 1e-3, 1e3))
    ok = (
        np.isfinite(X).all(axis=1)
        & np.isfinite(y)
        & (level > 0)
        & (grid.ccount[s, o + 25] - grid.ccount[s, o + 1] == 24)
    )
    X, y = X[ok], y[ok]
    mu, sd = X.mean(axis=0), X.std(axis=0) + 1e-9
    Z = (X - mu) / sd
    A = Z.T @ Z + 1e-3 * len(Z) * np.eye(Z.shape[1])
    beta = np.linalg.solve(A, Z.T @ (y - y.mean()))
    return mu, sd, beta, float(y.mean())


def apply_daily_mean(
    model, history: pd.DataFrame, forecast: pd.DataFrame, weight: float
) -> pd.DataFrame:
    """Each 24-hour path rescaled so its mean is (trees' mean)^(1-w) x (ridge mean)^w."""
    from energy_assets.features.model_inputs import SeriesGrid

    mu, sd, beta, intercept = model
    grid = SeriesGrid(history, extra_hours=24)
    index = {k: i for i, k in enumerate(grid.series)}
    paths = (
        forecast.groupby(["area", "segment", "forecast_origin"])["prediction"].mean().reset_index()
    )
    s = np.array(
        [index[(str(a), str(c))] for a, c in zip(paths["area"], paths["segment"], strict=True)]
    )
    o = np.asarray(
        (pd.DatetimeIndex(paths["forecast_origin"]) - grid.start) // pd.Timedelta(hours=1)
    )
    X = _daily_design(grid, s, o)
    ridge = grid.window_mean(s, o, 24) * np.exp(intercept + ((X - mu) / sd) @ beta)
    factor = np.where(
        np.isfinite(ridge) & (ridge > 0), (ridge / paths["prediction"].to_numpy()) ** weight, 1.0
    )
    paths["factor"] = factor
    out = forecast.merge(paths[["area", "segment", "forecast_origin", "factor"]])
    return out.assign(prediction=out["prediction"] * out["factor"]).drop(columns="factor")


PARAMS = {"l2": {"objective": "l2"}, "huber": {"objective": "huber", "alpha": 0.9}}


def run(frame, data, cutoff, n_origins, variant, seed) -> dict:
    from energy_assets.contracts import utc
    from energy_assets.training.backtest import daily_origins
    from energy_assets.training.forecaster import GlobalLGBMForecaster

    cut = utc(cutoff)
    origins = daily_origins(cut, n_origins)
    train = frame[frame["datetime_utc"] <= cut]
    history = frame[frame["datetime_utc"] <= max(origins)]
    undo = install(variant)
    try:
        started = time.perf_counter()
        model = GlobalLGBMForecaster(PARAMS.get(variant, {}), random_state=seed)
        if data == "DK2":
            model.params["calibration_days"] = 0  # the band is not scored here
        model.fit(train)
        forecast = model._predict_one_model(history, origins)
        seconds = time.perf_counter() - started
    finally:
        undo()
    rows = []
    if variant == "ridge":
        daily = daily_mean_model(train)
        for weight in RIDGE_WEIGHTS:
            rows.append(
                score(
                    apply_daily_mean(daily, history, forecast, weight), frame, f"ridge w={weight}"
                )
            )
    else:
        rows.append(score(forecast, frame, variant))
    return [
        {
            "data": data,
            "cutoff": cutoff,
            "origins": n_origins,
            "seed": seed,
            **row,
            "shape_blend": model.shape_blend,
            "seconds": round(seconds, 1),
        }
        for row in rows
    ]


RIDGE_WEIGHTS = (0.0, 0.25, 0.5, 1.0)


def score(forecast, frame, variant: str) -> dict:
    from energy_assets.training.forecaster import _scored

    points = _scored(forecast, frame)
    a, p = points["actual"].to_numpy(), points["prediction"].to_numpy()
    return {
        "variant": variant,
        "mape": float(np.mean(np.abs(a - p) / a)),
        "wape": float(np.abs(a - p).sum() / a.sum()),
        "points": len(points),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", required=True, help="DATA:CUTOFF:ORIGINS, comma separated")
    parser.add_argument("--variants", default="base")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--out", default=None, help="append one JSON line per run")
    args = parser.parse_args()
    from energy_assets.features.engineering import read_consumption_file
    from energy_assets.sources import CONSUMPTION_DE35_HOUR, PRODUCTION_CONSUMPTION_SETTLEMENT

    frames: dict = {}
    for case in args.case.split(","):
        data, rest = case.split(":", 1)
        cutoff, n = rest.rsplit(":", 1)
        if data not in frames:
            frames[data] = (
                read_consumption_file(DK2, PRODUCTION_CONSUMPTION_SETTLEMENT)
                if data == "DK2"
                else read_consumption_file(str(SAMPLE_DATA_PATH), CONSUMPTION_DE35_HOUR)
            )
        for seed in (int(x) for x in args.seeds.split(",")):
            for variant in args.variants.split(","):
                for row in run(frames[data], data, cutoff, int(n), variant, seed):
                    line = json.dumps(row)
                    print(line, flush=True)
                    if args.out:
                        with open(args.out, "a") as f:
                            f.write(line + "\n")


if __name__ == "__main__":
    main()
