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
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from energy_assets.contracts import DANISH_TZ, DAY_AHEAD_ISSUE_TIME, hour_text, utc
from energy_assets.forecasting import products, reconcile
from energy_assets.forecasting.products import conformal_band, with_conformal_band

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


# Variants of the backtest (`variants` in the metrics): the segments' own level, and the level
# from the real-time feed's area-total forecast without / with the weather for the target day
# (DMI's observed weather as the forecast: perfect prognosis) and with that weather plus a
# forecast error that grows with the lead time (WEATHER_ERROR).
SETTLED = "settled"
REALTIME = "realtime"
REALTIME_WEATHER = "realtime+weather(perfect)"
REALTIME_WEATHER_NOISY = "realtime+weather(with forecast error)"


@dataclass(frozen=True)
class WeatherError:
    """An assumed forecast error of the weather, added to the observations served as the
    forecast: decision 0005's simulated forecast (training/weather_features.SIMULATED_ERROR_SD:
    temperature 0.5 °C at lead 1 h growing linearly to 1.5 °C at 24 h, wind 0.5 -> 2.0 m/s;
    AR(1) across leads with SIMULATED_ERROR_CORRELATION 0.95), the same line continued to the
    products' leads (temperature 2.1 °C, wind 2.9 m/s at lead 38 h). Drawn per vintage from
    the issue hour, so a forecast that runs warm runs warm all day."""

    seed: int = 0

    def issued(
        self, weather: pd.DataFrame, issued_at: pd.Timestamp, targets: pd.DatetimeIndex, rng
    ) -> pd.DataFrame:
        """`weather` with the target hours' values as a forecast issued at `issued_at` would
        have them (the observation plus a drawn error); every other hour unchanged."""
        from energy_assets.training import weather_features as wf

        out = weather.copy()
        times = pd.to_datetime(out["datetime_utc"], utc=True)
        issue_hour = utc(issued_at).floor("h")
        reach = int((targets.max() - issue_hour) / _HOUR)
        rho = wf.SIMULATED_ERROR_CORRELATION
        lead = ((targets - issue_hour) / _HOUR).to_numpy(dtype=np.int64)
        at = times.isin(targets).to_numpy()
        for column, (first, last) in wf.SIMULATED_ERROR_SD.items():
            if column not in out.columns:
                continue
            path = np.zeros(reach + 1)
            shocks = rng.standard_normal(reach + 1)
            path[1] = shocks[1] if reach >= 1 else 0.0
            for k in range(2, reach + 1):
                path[k] = rho * path[k - 1] + np.sqrt(1 - rho**2) * shocks[k]
            steps = np.arange(reach + 1)
            sd = np.where(steps == 0, 0.0, first + (last - first) * (steps - 1) / 23)
            error = pd.Series((path * sd)[lead], index=targets)
            shifted = out.loc[at, column].to_numpy() + error.reindex(times[at]).to_numpy()
            out.loc[at, column] = np.clip(shifted, 0, None) if column == wf.WIND_SPEED else shifted
        return out


WEATHER_ERROR = WeatherError()


def calibration_issues(
    product: str,
    first_issue: pd.Timestamp,
    lag_hours: int,
    days: int,
    issue_time: str = DAY_AHEAD_ISSUE_TIME,
    intraday_step_hours: int = 6,
) -> list[pd.Timestamp]:
    """The `days` issue days just before the backtest whose every target hour is published by
    the first issue (so their errors are known when the first reported vintage is issued)."""
    origin = products.data_origin(first_issue, lag_hours)
    day = first_issue.tz_convert(DANISH_TZ).normalize().tz_localize(None)
    while True:
        day -= pd.Timedelta(days=1)
        last = issue_times(product, day.strftime("%Y-%m-%d"), 1, issue_time, intraday_step_hours)
        if products.targets_for(product, last[-1])[-1] <= origin:
            break
    first = (day - pd.Timedelta(days=days - 1)).strftime("%Y-%m-%d")
    return issue_times(product, first, days, issue_time, intraday_step_hours)


class _AreaLevel:
    """The real-time level of a backtest: each area's total forecast at an issue time from the
    feed's hours known then (forecasting/area_totals.forecast_area_totals, refitted every
    `refit_days` issues), scaled to the segments' share (area_totals.totals_for_segments)."""

    def __init__(
        self,
        feed: pd.DataFrame,
        weather,
        refit_days: int,
        error: WeatherError | None,
        fitted_by: _AreaLevel | None = None,
    ):
        from energy_assets.forecasting import area_totals

        self.api = area_totals
        self.feed = feed.assign(datetime_utc=pd.to_datetime(feed["datetime_utc"], utc=True))
        self.history = area_totals.LoadHistory.from_table(self.feed)
        self.weather, self.refit_days, self.error = weather, refit_days, error
        self.model: Any = None
        self.calls = 0
        # The noisy-weather variant forecasts with the model its perfect-weather twin fitted
        # (trained on observed weather either way; only the issued forecast differs).
        self.fitted_by = fitted_by
        self.rng = np.random.default_rng(error.seed if error else 0)

    def totals(
        self, product: str, issued_at: pd.Timestamp, targets, settled: pd.DataFrame
    ) -> pd.DataFrame | None:
        if self.calls % self.refit_days == 0:
            self.model = None
        self.calls += 1
        if self.fitted_by is not None:
            self.model = self.fitted_by.model
        weather = self.weather
        if weather is not None and self.error is not None:
            weather = self.error.issued(weather, issued_at, targets, self.rng)
        day_ahead = product == products.DAY_AHEAD
        result = self.api.forecast_area_totals(
            self.history,
            issued_at,
            targets,
            weather,
            model=self.model,
            issue_hours_local=(utc(issued_at).tz_convert(DANISH_TZ).hour,),
            target_days=(1,) if day_ahead else (0, 1),
        )
        if not result.available:
            return None
        if result.quality == "model":
            self.model = result.model
        newest = self.api.newest_known_hour(issued_at)
        known = self.feed[self.feed["datetime_utc"] <= newest]
        table = result.table[result.table["area"].isin(set(settled["area"]))]
        return self.api.totals_for_segments(table, settled, known)


def _with_naives(vintage: pd.DataFrame, actual: pd.Series, lag_hours: int) -> pd.DataFrame:
    origin = vintage["data_origin"].iloc[0]
    for (area, segment), rows in vintage.groupby(["area", "segment"], sort=False):
        series = actual.loc[(area, segment)]
        published = series[series.index <= origin]
        for name, period in (("naive_week", 168), ("naive_day", 24)):
            vintage.loc[rows.index, name] = naive_at_issue(
                published, rows["datetime_utc"], origin, period
            )
    return vintage


def rolling_conformal_band(
    vintages: pd.DataFrame,
    frame: pd.DataFrame,
    days: int,
    band_hours: int,
    lag_hours: int,
) -> pd.DataFrame:
    """`frame` with each vintage's p10 / p90 from the errors of the newest `days` vintages in
    `vintages` whose every target was published at its issue time (as a desk recalibrating on
    its own published track record would have them; conformal_band per band of lead times)."""
    finished = vintages.groupby("issued_at")["datetime_utc"].max()
    out = []
    for issued_at, rows in frame.groupby("issued_at", sort=True):
        origin = products.data_origin(issued_at, lag_hours)
        usable = finished[finished <= origin].index.sort_values()[-int(days) :]
        past = vintages[vintages["issued_at"].isin(usable) & vintages["actual"].notna()]
        out.append(with_conformal_band(rows, conformal_band(past, band_hours)))
    return pd.concat(out).loc[frame.index]


__all__ = ["conformal_band", "rolling_conformal_band", "with_conformal_band"]


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
    realtime: pd.DataFrame | None = None,
    weather: pd.DataFrame | None = None,
    weather_error: WeatherError | None = WEATHER_ERROR,
    calibration_days: int = 0,
    band_hours: int = 6,
    area_refit_days: int = 7,
) -> dict:
    """Predictions and metrics by lead band of `product` issued over `days` days (see module).

    realtime: REALTIME_LOAD rows (a total-load file): adds the variants whose level is the
    feed's area-total forecast (`weather`: also with the weather for the target day, perfect and
    with `weather_error`). calibration_days > 0: every variant's p10 / p90 is recalibrated
    split-conformally per band of `band_hours` lead times on that variant's vintages of the
    `calibration_days` issue days before the first, issued the same way by a model trained on
    what was published at the first of them (out of sample, as served)."""
    from energy_assets.training.forecaster import GlobalLGBMForecaster

    issues = issue_times(product, first_day, days, issue_time, intraday_step_hours)
    calibration = (
        calibration_issues(
            product, issues[0], lag_hours, calibration_days, issue_time, intraday_step_hours
        )
        if calibration_days > 0
        else []
    )
    first_origin = products.data_origin(issues[0], lag_hours)
    known = consumption[consumption["datetime_utc"] <= first_origin]
    earliest = calibration[0] if calibration else issues[0]
    published = consumption["datetime_utc"] <= products.data_origin(earliest, lag_hours)
    if consumption.loc[published, "datetime_utc"].nunique() < 24 * 14:
        raise ValueError(
            f"only {consumption.loc[published, 'datetime_utc'].nunique()} hours are published "
            f"by the first issue {hour_text(earliest)} ({lag_hours} h lag): give data from at "
            "least two weeks before it"
        )
    actual = consumption.set_index(["area", "segment", "datetime_utc"])["energy_consumption"]
    actual = actual.sort_index()
    levels: dict[str, _AreaLevel | None] = {SETTLED: None}
    if realtime is not None:
        levels[REALTIME] = _AreaLevel(realtime, None, area_refit_days, None)
        if weather is not None:
            levels[REALTIME_WEATHER] = _AreaLevel(realtime, weather, area_refit_days, None)
            if weather_error is not None:
                levels[REALTIME_WEATHER_NOISY] = _AreaLevel(
                    realtime, weather, area_refit_days, weather_error, levels[REALTIME_WEATHER]
                )

    def issue_all(model, moments) -> dict[str, pd.DataFrame]:
        out: dict[str, list[pd.DataFrame]] = {name: [] for name in levels}
        for issued_at in moments:
            targets = products.targets_for(product, issued_at)
            vintage = products.issue_forecast(
                model, consumption, issued_at, targets, lag_hours, "bt"
            )
            vintage = _with_naives(vintage, actual, lag_hours)
            settled = consumption[consumption["datetime_utc"] <= vintage["data_origin"].iloc[0]]
            for name, level in levels.items():
                totals = (
                    None if level is None else level.totals(product, issued_at, targets, settled)
                )
                frame, source = reconcile.reconcile(vintage, totals)
                out[name].append(frame.assign(level_source=source, variant=name))
        frames = {name: pd.concat(parts, ignore_index=True) for name, parts in out.items()}
        for frame in frames.values():
            keys = pd.MultiIndex.from_frame(frame[["area", "segment", "datetime_utc"]])
            frame["actual"] = actual.reindex(keys).to_numpy()
        return frames

    started = time.perf_counter()
    earlier: dict[str, pd.DataFrame] = {}
    if calibration:
        before = consumption["datetime_utc"] <= products.data_origin(calibration[0], lag_hours)
        early = products.train_product_forecaster(
            consumption[before], lag_hours, params, random_state=random_state
        )
        earlier = issue_all(early, calibration)
    model = products.train_product_forecaster(known, lag_hours, params, random_state=random_state)
    fit_seconds = time.perf_counter() - started
    variants = {}
    frames = [frame.assign(calibration=True) for frame in earlier.values()]
    for name, frame in issue_all(model, issues).items():
        raw = _scores(frame[frame["actual"].notna()])
        fixed = None
        if name in earlier:
            past = earlier[name][earlier[name]["actual"].notna()]
            fixed = with_conformal_band(frame, conformal_band(past, band_hours))
            frame = rolling_conformal_band(
                pd.concat([earlier[name], frame], ignore_index=True),
                frame,
                calibration_days,
                band_hours,
                lag_hours,
            )
        scored = frame[frame["actual"].notna()]
        by_band = {}
        for low, high in LEAD_BANDS:
            band = scored[scored["lead_hours"].between(low, high)]
            if len(band):
                by_band[f"{low}-{high}"] = _scores(band)
        variants[name] = {
            "all_leads": _scores(scored),
            "by_lead_band": by_band,
            "coverage_before_calibration": raw["coverage"],
        }
        if fixed is not None:
            kept = fixed[fixed["actual"].notna()]
            variants[name]["coverage_fixed_calibration"] = _scores(kept)["coverage"]
        frames.append(frame.assign(calibration=False))
    served = list(variants)[-1]
    metrics = {
        "product": product,
        "lag_hours": lag_hours,
        "first_issue": hour_text(issues[0]),
        "issues": len(issues),
        "calibration_issues": len(calibration),
        "band_hours": band_hours,
        "fit_seconds": round(fit_seconds, 1),
        "variant": served,
        "all_leads": variants[served]["all_leads"],
        "by_lead_band": variants[served]["by_lead_band"],
        "variants": variants,
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
    return {"metrics": metrics, "predictions": pd.concat(frames, ignore_index=True)}


def to_json(result: dict) -> str:
    frame = result["predictions"].copy()
    for column in ("issued_at", "datetime_utc", "data_origin"):
        frame[column] = frame[column].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(
        {"metrics": result["metrics"], "predictions": frame.to_dict(orient="records")},
        default=str,
    )


def summary(results: Sequence[dict]) -> str:
    """A markdown table: per run, variant and lead band, MAPE, coverage (after the calibration,
    and before it in brackets when calibrated) and the issue-time naives."""
    lines = [
        "| product | lag | first issue | variant | leads | MAPE | p10-p90 coverage | naive week |"
        " naive day | today's lead 1-24 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        m = result["metrics"]
        ref = m.get("reference_lead_1_24", {}).get("mape")
        ref_text = f"{ref:.2%}" if ref is not None else "-"
        variants = m.get("variants") or {"-": m}
        for name, v in variants.items():
            before = v.get("coverage_before_calibration")
            for band, s in {**v["by_lead_band"], "all": v["all_leads"]}.items():
                cover = f"{s['coverage']:.1%}"
                if band == "all" and before is not None and m.get("calibration_issues"):
                    fixed = v.get("coverage_fixed_calibration")
                    cover += f" (uncalibrated {before:.1%}"
                    cover += f", fixed {fixed:.1%})" if fixed is not None else ")"
                lines.append(
                    f"| {m['product']} | {m['lag_hours']} h | {m['first_issue']} | {name} | "
                    f"{band} | {s['mape']:.2%} | {cover} | {s['naive_week_mape']:.2%} | "
                    f"{s['naive_day_mape']:.2%} | {ref_text} |"
                )
    return "\n".join(lines)
