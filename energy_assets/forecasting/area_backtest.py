"""Backtest of the area-total forecaster in wall-clock time (no Dagster).

For every day in a window, the day-ahead forecast issued at 10:00 Danish time for each hour of
the next Danish day, from the real-time hours known then (`area_totals`), scored hour by hour
against the actuals and beside what else was available at issue time: the naive forecasts
(the same hour a week before, lag 168; the same hour on the latest observed day, lag 24 or 48)
and, where the file carries it, Energinet's own day-ahead forecast. `energy-assets backtest
--dataset ElectricityBalanceNonv --product day-ahead` calls `run_area_backtest`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from energy_assets.contracts import DANISH_TZ, utc
from energy_assets.forecasting.area_totals import (
    DEFAULT_PARAMS,
    FEED_LAG_HOURS,
    AreaModel,
    LoadHistory,
    ModelParams,
    day_ahead_targets,
    forecast_area_totals,
    newest_known_hour,
)

BENCHMARK = "benchmark_mwh"
VALUE_COLUMN = "total_load_mwh"


@dataclass(frozen=True)
class AreaBacktest:
    """Per-point rows (issued_at, area, datetime_utc, lead_hours, p10/p50/p90, actual, the
    naives, benchmark) and metrics per (month, area) and overall."""

    points: pd.DataFrame
    by_month: pd.DataFrame
    overall: dict[str, Any]


def issue_times(first_day: str, days: int, hour_local: int = 10) -> list[pd.Timestamp]:
    """`days` daily issue times at `hour_local` Danish time from `first_day` (YYYY-MM-DD)."""
    start = pd.Timestamp(first_day, tz=DANISH_TZ) + pd.Timedelta(hours=hour_local)
    return [
        (pd.Timestamp((start + pd.Timedelta(days=d)).date(), tz=DANISH_TZ)
         + pd.Timedelta(hours=hour_local)).tz_convert("UTC")
        for d in range(days)
    ]  # fmt: skip


def forecast_weather(
    weather: pd.DataFrame,
    origin: pd.Timestamp,
    error: tuple[float, float],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Observed weather made a forecast issued at `origin`: hours up to `origin` as observed;
    each later Danish day gets one error per variable drawn with standard deviation `error`
    (temperature °C, wind m/s: a day-ahead forecast's error is mostly a bias over the day),
    plus an hourly error of half that; wind stays ≥ 0."""
    times = pd.to_datetime(weather["datetime_utc"], utc=True)
    later = (times > origin).to_numpy()
    days = times[later].dt.tz_convert(DANISH_TZ).dt.date.to_numpy()
    unique, day_of_row = np.unique(days, return_inverse=True)
    out = weather.copy()
    for column, sd, floor in (("temperature_c", error[0], None), ("wind_speed_ms", error[1], 0.0)):
        if column not in out.columns or sd <= 0:
            continue
        noise = rng.normal(0, sd, len(unique))[day_of_row] + rng.normal(0, sd / 2, later.sum())
        values = out[column].to_numpy(dtype=float).copy()
        values[later] += noise
        out[column] = values if floor is None else np.maximum(values, floor)
    return out


def _mape(actual: pd.Series, predicted: pd.Series) -> float:
    ok = actual.notna() & predicted.notna() & (actual > 0)
    if not ok.any():
        return float("nan")
    return float(np.mean(np.abs(predicted[ok] - actual[ok]) / actual[ok]))


def run_area_backtest(
    table: pd.DataFrame,
    issues: list[pd.Timestamp],
    weather: pd.DataFrame | None = None,
    lag_hours: int = FEED_LAG_HOURS,
    refit_days: int = 7,
    params: ModelParams = DEFAULT_PARAMS,
    issue_hours_local: tuple[int, ...] = (10,),
    weather_error: tuple[float, float] | None = None,
    seed: int = 0,
) -> AreaBacktest:
    """Day-ahead forecasts of each area's total at every issue time, from REALTIME_LOAD `table`
    (plus `benchmark_mwh` when it carries Energinet's forecast). The model is refitted every
    `refit_days` issues from what was known at that issue (never later data).

    `weather` is observed weather, used as a perfect forecast; `weather_error` = (temperature
    °C, wind m/s) standard deviations makes it a realistic one: every hour after each issue's
    origin gets that issue's own error (see `forecast_weather`)."""
    history = LoadHistory.from_table(table)
    truth = table.assign(datetime_utc=pd.to_datetime(table["datetime_utc"], utc=True)).set_index(
        ["datetime_utc", "area"]
    )
    model: AreaModel | None = None
    parts = []
    rng = np.random.default_rng(seed)
    for i, issue in enumerate(issues):
        if i % refit_days == 0:
            model = None
        issued_weather = weather
        if weather is not None and weather_error is not None:
            issued_weather = forecast_weather(
                weather, newest_known_hour(issue, lag_hours), weather_error, rng
            )
        result = forecast_area_totals(
            history,
            issue,
            day_ahead_targets(issue),
            issued_weather,
            lag_hours=lag_hours,
            params=params,
            model=model,
            issue_hours_local=issue_hours_local,
        )
        if not result.available:
            continue
        model = result.model if result.quality == "model" else model
        parts.append(result.table)
    points = pd.concat(parts, ignore_index=True)
    keys = pd.MultiIndex.from_arrays([points["datetime_utc"], points["area"]])
    points["actual"] = truth[VALUE_COLUMN].reindex(keys).to_numpy()
    if BENCHMARK in truth.columns:
        points[BENCHMARK] = truth[BENCHMARK].reindex(keys).to_numpy()
    # The naives available at issue time: a week before, and the latest observed same hour.
    week = pd.MultiIndex.from_arrays(
        [points["datetime_utc"] - pd.Timedelta(hours=168), points["area"]]
    )
    points["naive_lag168"] = truth[VALUE_COLUMN].reindex(week).to_numpy()
    origin = points["issued_at"].map(lambda t: newest_known_hour(t, lag_hours))
    days_back = np.ceil((points["datetime_utc"] - origin) / pd.Timedelta(hours=24)).astype(int)
    latest = pd.MultiIndex.from_arrays(
        [points["datetime_utc"] - pd.to_timedelta(24 * days_back, unit="h"), points["area"]]
    )
    points["naive_latest_day"] = truth[VALUE_COLUMN].reindex(latest).to_numpy()
    by_month = _metrics(points)
    overall = _metrics(points.assign(month="all")).drop(columns="month").to_dict("records")
    return AreaBacktest(points=points, by_month=by_month, overall={"by_area": overall})


def _metrics(points: pd.DataFrame) -> pd.DataFrame:
    if "month" not in points.columns:
        local = points["datetime_utc"].dt.tz_convert(DANISH_TZ)
        points = points.assign(month=local.dt.strftime("%Y-%m"))
    rows = []
    for (month, area), group in points.groupby(["month", "area"], sort=True):
        actual = group["actual"]
        row = {
            "month": month,
            "area": area,
            "hours": int(actual.notna().sum()),
            "mape": _mape(actual, group["p50"]),
            "mape_naive_lag168": _mape(actual, group["naive_lag168"]),
            "mape_naive_latest_day": _mape(actual, group["naive_latest_day"]),
            "coverage_p10_p90": float(
                ((actual >= group["p10"]) & (actual <= group["p90"]))[actual.notna()].mean()
            ),
        }
        if BENCHMARK in group.columns:
            row["mape_energinet"] = _mape(actual, group[BENCHMARK])
        rows.append(row)
    return pd.DataFrame(rows)


def first_issue_day(text: str) -> str:
    """The Danish day of an ISO time (the CLI's --cutoff), as YYYY-MM-DD."""
    return utc(text).tz_convert(DANISH_TZ).strftime("%Y-%m-%d")


def summary_text(backtest: AreaBacktest) -> str:
    """The per-month table a person reads: both MAPEs side by side, per area."""
    frame = backtest.by_month.copy()
    columns = ["month", "area", "hours", "mape"]
    if "mape_energinet" in frame.columns:
        frame["ratio_to_energinet"] = frame["mape"] / frame["mape_energinet"]
        columns += ["mape_energinet", "ratio_to_energinet"]
    columns += ["mape_naive_latest_day", "mape_naive_lag168", "coverage_p10_p90"]
    shown = frame[columns].copy()
    for name in columns:
        if name.startswith("mape") or name.startswith("coverage"):
            shown[name] = (100 * shown[name]).map(lambda v: f"{v:.2f} %")
        elif name == "ratio_to_energinet":
            shown[name] = shown[name].map(lambda v: f"{v:.2f}x")
    return shown.to_string(index=False)


def backtest_from_file(
    data: str,
    cutoff: Any,
    origins: int,
    out: str,
    weather_path: str | None = None,
    product: str = "day-ahead",
    refit_days: int = 7,
) -> AreaBacktest:
    """`energy-assets backtest --dataset ElectricityBalanceNonv --product day-ahead`: the area
    totals from a total-load file alone (its API columns or the ENTSO-E export with Energinet's
    forecast), `origins` daily issues at 10:00 Danish time, the first after `cutoff`; writes
    the points and the metrics as JSON to `out`. Raises InputError on bad input."""
    import json
    from pathlib import Path

    from energy_assets.contracts import InputError, parse_hour
    from energy_assets.features.realtime_load import read_total_load_file

    if product != "day-ahead":
        raise InputError(
            f"--product {product}: the area-total backtest scores the day-ahead product (the "
            "intraday one is served by forecast_area_totals with intraday_targets, not backtested "
            "here yet)"
        )
    if origins < 1:
        raise InputError(f"--origins must be 1 or more (got {origins})")
    table = read_total_load_file(data)
    first = parse_hour(str(cutoff), "--cutoff").tz_convert(DANISH_TZ)
    day = first.normalize() if first.hour < 10 else first.normalize() + pd.Timedelta(days=1)
    issues = issue_times(day.strftime("%Y-%m-%d"), origins)
    last_target = day_ahead_targets(issues[-1])[-1]
    newest = pd.to_datetime(table["datetime_utc"], utc=True).max()
    if last_target > newest:
        raise InputError(
            f"{data} ends at {newest:%Y-%m-%dT%H:%MZ}: {origins} issue(s) from {day:%Y-%m-%d} "
            f"need actuals up to {last_target:%Y-%m-%dT%H:%MZ}; give fewer --origins or an "
            "earlier --cutoff"
        )
    weather = None
    if weather_path:
        from energy_assets.ingestion.weather_files import read_weather_file

        weather = read_weather_file(weather_path)
    backtest = run_area_backtest(table, issues, weather=weather, refit_days=refit_days)
    document = {
        "dataset": "ElectricityBalanceNonv",
        "product": product,
        "issues": [t.isoformat() for t in issues],
        "weather_used": weather is not None,
        "metrics_by_month": backtest.by_month.to_dict("records"),
        "metrics": backtest.overall,
        "predictions": json.loads(backtest.points.to_json(orient="records", date_format="iso")),
    }
    Path(out).write_text(json.dumps(document, default=str))
    return backtest
