"""Backtest of a forecast product from its issue times: what a user would have been served.

For a cutoff (the first issue day, Danish) and `days` issue days after it: one product model is
trained on the data published at the first issue time (data up to its data origin), then every
issue (day-ahead: daily at the issue time; intraday: every `intraday_step_hours` hours) is
forecast from the data published at ITS issue time, exactly as the assets do
(forecasting/products.issue_forecast). Scored by lead time (target hour - issue time) against
the naive forecasts available at issue time:

* naive_week: the same hour of the newest published week, y(t - 168 k) with the smallest k whose
  hour is published at issue time (the seasonal naive a desk would actually have).
* naive_day: the same hour of the newest published day, y(t - 24 k) likewise.

Also the reference the products are held to: the no-lag forecaster of today (`forecasts`,
horizon 1..24 after the newest hour, every input published) trained on the same data, scored on
daily origins over the same days (`reference_lead_1_24`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from energy_assets.contracts import DAY_AHEAD_ISSUE_TIME, hour_text
from energy_assets.forecasting import products

LEAD_BANDS: tuple[tuple[int, int], ...] = ((0, 11), (12, 23), (24, 35), (36, 49))
_HOUR = pd.Timedelta(hours=1)


def issue_times(
    product: str,
    first_day: str,
    days: int,
    issue_time: str = DAY_AHEAD_ISSUE_TIME,
    intraday_step_hours: int = 6,
) -> list[pd.Timestamp]:
    """The issue moments (UTC) of `days` Danish days from `first_day`."""
    day_keys = [
        (pd.Timestamp(first_day) + pd.Timedelta(days=k)).strftime("%Y-%m-%d") for k in range(days)
    ]
    if product == products.DAY_AHEAD:
        return [products.day_ahead_issued_at(day, issue_time) for day in day_keys]
    start = products.day_ahead_issued_at(day_keys[0], "00:00")
    end = products.day_ahead_issued_at(day_keys[-1], "23:00")
    return list(pd.date_range(start, end, freq=f"{intraday_step_hours}h"))


def naive_at_issue(
    values: pd.Series, targets: pd.Series, origin: pd.Timestamp, period_hours: int
) -> np.ndarray:
    """y(t - period k) for the smallest k whose hour is at or before the data origin."""
    steps = np.ceil(((targets - origin) / _HOUR).to_numpy() / period_hours).astype(np.int64)
    reference = targets - pd.to_timedelta(steps * period_hours, unit="h")
    return values.reindex(pd.DatetimeIndex(reference)).to_numpy()


def _ape(predicted: np.ndarray, actual: np.ndarray) -> np.ndarray:
    return np.abs(predicted - actual) / actual


def _scores(points: pd.DataFrame) -> dict:
    ok = points["actual"] > 0
    p = points[ok]
    out = {
        "points": len(p),
        "mape": float(_ape(p["p50"], p["actual"]).mean()),
        "coverage": float(((p["actual"] >= p["p10"]) & (p["actual"] <= p["p90"])).mean()),
    }
    for naive in ("naive_week", "naive_day"):
        known = p[p[naive].notna()]
        out[f"{naive}_mape"] = float(_ape(known[naive], known["actual"]).mean())
    return out


def product_backtest(
    consumption: pd.DataFrame,
    product: str,
    first_day: str,
    days: int,
    lag_hours: int,
    params: Mapping | None = None,
    *,
    issue_time: str = DAY_AHEAD_ISSUE_TIME,
    intraday_step_hours: int = 6,
    reference: bool = True,
    random_state: int = 0,
) -> dict:
    """Predictions and metrics by lead band of `product` issued over `days` days (see module)."""
    from energy_assets.training.forecaster import GlobalLGBMForecaster

    issues = issue_times(product, first_day, days, issue_time, intraday_step_hours)
    first_origin = products.data_origin(issues[0], lag_hours)
    known = consumption[consumption["datetime_utc"] <= first_origin]
    if known["datetime_utc"].nunique() < 24 * 14:
        raise ValueError(
            f"only {known['datetime_utc'].nunique()} hours are published by the first issue "
            f"{hour_text(issues[0])} ({lag_hours} h lag): give data from at least two weeks "
            "before it"
        )
    started = time.perf_counter()
    model = products.train_product_forecaster(known, lag_hours, params, random_state=random_state)
    fit_seconds = time.perf_counter() - started
    actual = consumption.set_index(["area", "segment", "datetime_utc"])["energy_consumption"]
    actual = actual.sort_index()
    vintages = []
    for issued_at in issues:
        targets = products.targets_for(product, issued_at)
        vintage = products.issue_forecast(model, consumption, issued_at, targets, lag_hours, "bt")
        origin = products.data_origin(issued_at, lag_hours)
        for (area, segment), rows in vintage.groupby(["area", "segment"], sort=False):
            series = actual.loc[(area, segment)]
            published = series[series.index <= origin]
            vintage.loc[rows.index, "naive_week"] = naive_at_issue(
                published, rows["datetime_utc"], origin, 168
            )
            vintage.loc[rows.index, "naive_day"] = naive_at_issue(
                published, rows["datetime_utc"], origin, 24
            )
        vintages.append(vintage)
    frame = pd.concat(vintages, ignore_index=True)
    keys = pd.MultiIndex.from_frame(frame[["area", "segment", "datetime_utc"]])
    frame["actual"] = actual.reindex(keys).to_numpy()
    scored = frame[frame["actual"].notna()]
    by_band = {}
    for low, high in LEAD_BANDS:
        band = scored[scored["lead_hours"].between(low, high)]
        if len(band):
            by_band[f"{low}-{high}"] = _scores(band)
    metrics = {
        "product": product,
        "lag_hours": lag_hours,
        "first_issue": hour_text(issues[0]),
        "issues": len(issues),
        "fit_seconds": round(fit_seconds, 1),
        "all_leads": _scores(scored),
        "by_lead_band": by_band,
    }
    if reference:
        # Today's forecaster on the same data: horizon 1..24 after the newest hour, no lag.
        today = GlobalLGBMForecaster(params, random_state=random_state).fit(known)
        day_origins = [
            pd.Timestamp(first_day).tz_localize("UTC") + pd.Timedelta(days=k) for k in range(days)
        ]
        day_origins = [o for o in day_origins if o <= consumption["datetime_utc"].max()]
        predicted = today.predict(consumption, origins=day_origins)
        predicted = predicted.merge(
            consumption, on=["area", "segment", "datetime_utc"], how="inner"
        )
        predicted = predicted[predicted["energy_consumption"] > 0]
        metrics["reference_lead_1_24"] = {
            "points": len(predicted),
            "mape": float(_ape(predicted["prediction"], predicted["energy_consumption"]).mean()),
            "coverage": float(
                (
                    (predicted["energy_consumption"] >= predicted["p10"])
                    & (predicted["energy_consumption"] <= predicted["p90"])
                ).mean()
            ),
        }
    return {"metrics": metrics, "predictions": frame}


def to_json(result: dict) -> str:
    frame = result["predictions"].copy()
    for column in ("issued_at", "datetime_utc", "data_origin"):
        frame[column] = frame[column].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(
        {"metrics": result["metrics"], "predictions": frame.to_dict(orient="records")},
        default=str,
    )


def summary(results: Sequence[dict]) -> str:
    """A markdown table: per run and lead band, MAPE, coverage and the issue-time naives."""
    lines = [
        "| product | lag | first issue | leads | MAPE | p10-p90 coverage | naive week | naive day |"
        " today's lead 1-24 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        m = result["metrics"]
        ref = m.get("reference_lead_1_24", {}).get("mape")
        ref_text = f"{ref:.2%}" if ref is not None else "-"
        for band, s in {**m["by_lead_band"], "all": m["all_leads"]}.items():
            lines.append(
                f"| {m['product']} | {m['lag_hours']} h | {m['first_issue']} | {band} | "
                f"{s['mape']:.2%} | {s['coverage']:.1%} | {s['naive_week_mape']:.2%} | "
                f"{s['naive_day_mape']:.2%} | {ref_text} |"
            )
    return "\n".join(lines)
