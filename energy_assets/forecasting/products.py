"""Forecast products in wall-clock time: day-ahead and intraday, issued from what was known then.

The settled data arrives `lag` hours late (the source spec's publication lag: 216 h for the live
datasets, 360 h for DE35). A forecast issued at T therefore starts from the newest hour published
by T, the *data origin* o = floor(T) - lag, and reaches its targets t at horizons t - o =
lag + lead. One global forecaster trained on exactly those horizons (lag .. lag +
PRODUCT_MAX_LEAD_HOURS, `train_product_forecaster`) serves every lead from the current hour to
the end of tomorrow; every input is built from hours up to o only (contracts.input_availability
declares when each input family becomes known), so nothing unpublished at T is read — the
history is cut at o here before the forecaster sees it.

* day-ahead: issued on Danish day D at `issue_time` (default 10:00 Europe/Copenhagen), targets
  every hour of D + 1 (23 or 25 hours on the DST days).
* intraday: issued at an hour H (UTC), targets H .. the last hour of the next Danish day.

Design and measurements: docs/concepts/forecast-products.md, docs/decisions/0007-forecast-products.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from energy_assets.contracts import (
    DANISH_TZ,
    DAY_AHEAD_FORECASTS,
    DAY_AHEAD_ISSUE_TIME,
    PRODUCT_MAX_LEAD_HOURS,
    hour_text,
    input_availability,
    utc,
)
from energy_assets.forecasting import fallback, reconcile

if TYPE_CHECKING:
    from energy_assets.training.forecaster import GlobalLGBMForecaster

DAY_AHEAD = "day-ahead"
INTRADAY = "intraday"
PRODUCTS = (DAY_AHEAD, INTRADAY)
PRODUCT_COLUMNS = DAY_AHEAD_FORECASTS.names  # the intraday table has the same columns
_HOUR = pd.Timedelta(hours=1)
# Daily origins of the out-of-sample pass that sets a product model's band (calibrate_band).
CALIBRATION_DAYS = 28


# --------------------------------------------------------------------------- issue times, targets
def day_ahead_issued_at(issue_day: str, issue_time: str = DAY_AHEAD_ISSUE_TIME) -> pd.Timestamp:
    """The UTC moment of the day-ahead forecast issued on Danish day `issue_day` (YYYY-MM-DD) at
    local `issue_time` (HH:MM)."""
    try:
        local = pd.Timestamp(f"{issue_day} {issue_time}")
    except ValueError:
        raise ValueError(
            f"issue day {issue_day!r} / time {issue_time!r}: give YYYY-MM-DD and HH:MM"
        ) from None
    return local.tz_localize(DANISH_TZ, nonexistent="shift_forward", ambiguous=True).tz_convert(
        "UTC"
    )


def _danish_day_start(moment: pd.Timestamp, days_after: int) -> pd.Timestamp:
    local = utc(moment).tz_convert(DANISH_TZ).normalize()
    day = (local.tz_localize(None) + pd.Timedelta(days=days_after)).tz_localize(DANISH_TZ)
    return day.tz_convert("UTC")


def day_ahead_targets(issued_at: pd.Timestamp) -> pd.DatetimeIndex:
    """Every hour (UTC start) of the Danish day after the issue day: 23, 24 or 25 hours."""
    start, end = _danish_day_start(issued_at, 1), _danish_day_start(issued_at, 2)
    return pd.date_range(start, end, freq="h", inclusive="left")


def intraday_targets(issued_at: pd.Timestamp) -> pd.DatetimeIndex:
    """The issue hour and every hour after it up to the end of the next Danish day."""
    start, end = utc(issued_at).floor("h"), _danish_day_start(issued_at, 2)
    return pd.date_range(start, end, freq="h", inclusive="left")


def targets_for(product: str, issued_at: pd.Timestamp) -> pd.DatetimeIndex:
    if product == DAY_AHEAD:
        return day_ahead_targets(issued_at)
    if product == INTRADAY:
        return intraday_targets(issued_at)
    raise ValueError(f"unknown product {product!r}; choose one of {', '.join(PRODUCTS)}")


def data_origin(issued_at: pd.Timestamp, lag_hours: float) -> pd.Timestamp:
    """The newest settled hour published at `issued_at` (the consumption input's availability)."""
    return input_availability(lag_hours)["consumption"].known_until(issued_at)


def product_horizons(lag_hours: int) -> tuple[int, int]:
    """(shortest, longest) horizon from the data origin a product model serves: lead 0 .. the
    last hour of tomorrow."""
    return max(int(lag_hours), 1), int(lag_hours) + PRODUCT_MAX_LEAD_HOURS


# --------------------------------------------------------------------------- the model
def train_product_forecaster(
    history: pd.DataFrame,
    lag_hours: int,
    params: Mapping | None = None,
    *,
    random_state: int = 0,
    num_threads: int = 1,
    calibration_days: int = CALIBRATION_DAYS,
) -> GlobalLGBMForecaster:
    """A GlobalLGBMForecaster trained on the horizons a product issued `lag_hours` after its data
    reads (product_horizons): each training row (series, origin, horizon) is built from the
    hours up to its origin, i.e. from what was published at its issue time. Its p10 / p90 come
    from `calibrate_band` when the history is long enough."""
    from energy_assets.training.forecaster import GlobalLGBMForecaster

    shortest, longest = product_horizons(lag_hours)

    def new_model(extra: Mapping) -> GlobalLGBMForecaster:
        return GlobalLGBMForecaster(
            {**dict(params or {}), **extra},
            horizon_hours=longest,
            random_state=random_state,
            num_threads=num_threads,
            min_horizon_hours=shortest,
        )

    model = new_model({}).fit(history)
    calibrate_band(model, history, lambda: new_model({"shape_blend": 0.0}), calibration_days)
    return model


def calibrate_band(model, history: pd.DataFrame, new_model, max_days: int) -> int:
    """Set the model's p10 / p90 offsets from out-of-sample errors: a model like it, trained on
    the history before the last `days` daily origins (as many as fit, up to `max_days`),
    forecasts them; the 10 / 90 % quantiles of log(actual / forecast), pooled over every horizon
    (the error barely changes between lag and lag + 49 h, and one series' few days per horizon
    are too few), become every horizon's band. The forecaster's own per-horizon quantiles come
    from in-sample errors plus 7 days and cover about half the time this far out. Returns the
    days used (0: too little history, the forecaster's own band is kept)."""
    from energy_assets.training import intervals

    times = pd.DatetimeIndex(history["datetime_utc"])
    start, end = times.min(), times.max()
    reach = pd.Timedelta(hours=model.horizon_hours)
    spare = int((end - start - 2 * reach) / pd.Timedelta(days=1)) - 14
    days = min(max_days, spare)
    if days < 7:
        return 0
    cutoff = end - reach - pd.Timedelta(days=days - 1)
    inner = new_model().fit(history[times <= cutoff])
    origins = [cutoff + pd.Timedelta(days=k) for k in range(days)]
    predicted = inner.predict(history, origins=origins)
    points = predicted.merge(history, on=["area", "segment", "datetime_utc"])
    points = points[(points["energy_consumption"] > 0) & (points["model_used"] == "lightgbm")]
    if len(points) < 100:
        return 0
    residuals = intervals.log_residuals(
        points["energy_consumption"].to_numpy(), points["prediction"].to_numpy()
    )
    band = [float(np.quantile(residuals, q)) for q in intervals.INTERVAL_LEVELS]
    first = model.min_horizon_hours
    model.interval_quantiles = {str(h): list(band) for h in range(first, model.horizon_hours + 1)}
    return days


def model_lag_hours(forecaster: GlobalLGBMForecaster) -> int:
    """The publication lag a product model was trained for."""
    return int(forecaster.horizon_hours) - PRODUCT_MAX_LEAD_HOURS


# --------------------------------------------------------------------------- calibrated band
# The product band's track record: the newest vintages whose actuals were published by the issue
# (chosen on DK2 2023-09, decision 0007: rolling 14 vintages, bands of 6 lead times).
BAND_TRACK_RECORD_VINTAGES = 14
BAND_LEAD_HOURS = 6


def conformal_band(points: pd.DataFrame, band_hours: int) -> dict[str, list[float]]:
    """Split-conformal p10 / p90 offsets per band of `band_hours` lead times from the
    out-of-sample errors of earlier vintages (`points`: lead_hours, p50, actual): the same
    calibration as the `forecasts` band (training/intervals.conformal_quantiles, decision 0011),
    on lead + 1 so lead 0 falls in the first band."""
    from energy_assets.training import intervals

    ok = points["actual"] > 0
    return intervals.conformal_quantiles(
        {},
        points.loc[ok, "actual"].to_numpy(),
        points.loc[ok, "p50"].to_numpy(),
        points.loc[ok, "lead_hours"].to_numpy() + 1,
        band_hours,
    )


def with_conformal_band(frame: pd.DataFrame, band: Mapping[str, Sequence[float]]) -> pd.DataFrame:
    """`frame` with p10 / p90 = p50 * exp(offset of its lead's band) where the band has one."""
    out = frame.copy()
    keys = (out["lead_hours"] + 1).astype(str)
    low = keys.map(lambda k: band[k][0] if k in band else np.nan).to_numpy(dtype=float)
    high = keys.map(lambda k: band[k][1] if k in band else np.nan).to_numpy(dtype=float)
    has = np.isfinite(low)
    p50 = out["p50"].to_numpy(dtype=float)
    out.loc[has, "p10"] = np.clip(p50[has] * np.exp(low[has]), 0, None)
    out.loc[has, "p90"] = p50[has] * np.exp(high[has])
    return out


def band_from_track_record(
    frame: pd.DataFrame,
    past: pd.DataFrame,
    history: pd.DataFrame,
    vintages: int = BAND_TRACK_RECORD_VINTAGES,
    band_hours: int = BAND_LEAD_HOURS,
) -> tuple[pd.DataFrame, int]:
    """(`frame` with its p10 / p90 from the errors of the newest `vintages` earlier vintages in
    `past` whose every target is published in `history` by `frame`'s data origin, the number of
    vintages used). With fewer such vintages the frame keeps its band (0 used): a short track
    record calibrates nothing. Only the model's rows are recalibrated, from the model's past rows:
    a fallback row keeps the band backtested for the fallback (forecasting/fallback.py).
    history: CLEAN rows published by the issue."""
    origin = frame["data_origin"].iloc[0]
    if past.empty:
        return frame, 0
    finished = past.groupby("issued_at")["datetime_utc"].max()
    usable = finished[finished <= origin].index.sort_values()[-int(vintages) :]
    if len(usable) < vintages:
        return frame, 0
    actual = history.groupby(["area", "segment", "datetime_utc"], observed=True)[
        "energy_consumption"
    ].sum()
    rows = past[past["issued_at"].isin(usable)]
    if "quality" in rows:
        rows = rows[rows["quality"] == "model"]
    keys = pd.MultiIndex.from_frame(rows[["area", "segment", "datetime_utc"]])
    points = rows.assign(actual=actual.reindex(keys).to_numpy())
    points = points[points["actual"].notna()]
    band = conformal_band(points, band_hours)
    if "quality" not in frame:
        return with_conformal_band(frame, band), len(usable)
    model = (frame["quality"] == "model").to_numpy()
    out = frame.copy()
    out.loc[model, ["p10", "p90"]] = with_conformal_band(frame[model], band)[["p10", "p90"]]
    return out, len(usable)


# --------------------------------------------------------------------------- weather as issued
def weather_as_issued(
    weather: pd.DataFrame, issued_at: pd.Timestamp, targets: pd.DatetimeIndex
) -> tuple[pd.DataFrame, pd.DatetimeIndex]:
    """The hourly weather a product issued at `issued_at` may read, keyed by its issue hour: the
    hours up to the issue hour as observed (the WEATHER table's lead-0 rows), and each target
    hour after it as forecast by the NEWEST issue at or before the issue hour whose leads reach
    it (the forecast issued at the issue hour when it reaches; an earlier one otherwise). Rows
    issued after the issue hour are never read.

    weather: WEATHER rows (issued_utc, area, lead_hours, datetime_utc, values), with any number of
    leads (contracts.WEATHER_LEAD_HOURS today). Returns (datetime_utc, area, values) rows — what
    forecasting/area_totals reads as its weather — and the target hours after the issue hour
    that no issue at or before it reaches for some area (their rows are absent: the caller
    forecasts without weather rather than with a hole)."""
    issue_hour = utc(issued_at).floor("h")
    issued = pd.to_datetime(weather["issued_utc"], utc=True)
    known = weather[issued <= issue_hour]  # the leakage guard: nothing issued later
    hours = pd.to_datetime(known["datetime_utc"], utc=True)
    values = [c for c in known.columns if c not in ("issued_utc", "lead_hours")]
    observed = known[(known["lead_hours"] == 0) & (hours <= issue_hour)]
    ahead = targets[targets > issue_hour]
    forecast = known[(known["lead_hours"] > 0) & hours.isin(ahead)]
    newest = forecast.sort_values("issued_utc").drop_duplicates(
        ["area", "datetime_utc"], keep="last"
    )
    frame = pd.concat([observed[values], newest[values]], ignore_index=True)
    frame["datetime_utc"] = pd.to_datetime(frame["datetime_utc"], utc=True)
    have = newest.groupby("area")["datetime_utc"].agg(lambda t: set(pd.to_datetime(t, utc=True)))
    areas = sorted(set(observed["area"]))
    missing = {t for t in ahead for area in areas if t not in have.get(area, set())}
    frame = frame.sort_values(["datetime_utc", "area"], ignore_index=True)
    return frame, pd.DatetimeIndex(sorted(missing), tz="UTC")


# --------------------------------------------------------------------------- issuing
def issue_forecast(
    forecaster: GlobalLGBMForecaster,
    history: pd.DataFrame,
    issued_at: pd.Timestamp,
    targets: pd.DatetimeIndex,
    lag_hours: int,
    model_version: str,
    area_totals: pd.DataFrame | None = None,
    reconciliation: str = reconcile.DEFAULT_METHOD,
    expected: Iterable[tuple[str, str]] = (),
) -> pd.DataFrame:
    """One vintage: every active and every `expected` series' forecast for `targets`, issued at
    `issued_at`, labelled `quality` model or fallback (`fallback.complete_vintage`: a series
    without data at the origin, too new, or with a gap the model refuses gets the weekly-profile
    fallback and its reason; `attrs["fallbacks"]` counts them by reason).

    history: CLEAN rows (datetime_utc, area, segment, energy_consumption); rows after the data
    origin (floor(issued_at) - lag_hours) are dropped here, never read. area_totals: optional
    (area, datetime_utc, p10, p50, p90) forecast of each area's total for the targets; the
    segments are reconciled to it (level_source "realtime"), else they are the model's and the
    area total is their sum (level_source "settled"). Returns the product columns
    (contracts.DAY_AHEAD_FORECASTS), one row per (series, target).
    """
    issued_at = utc(issued_at)
    origin = data_origin(issued_at, lag_hours)
    shortest, longest = forecaster.min_horizon_hours, forecaster.horizon_hours
    reach = ((targets - origin) / _HOUR).astype(np.int64)
    if len(targets) == 0 or reach.min() < shortest or reach.max() > longest:
        raise ValueError(
            f"the model forecasts {shortest}..{longest} h after its data origin (trained for a "
            f"{model_lag_hours(forecaster)} h lag); targets {hour_text(targets.min())} .. "
            f"{hour_text(targets.max())} from the origin {hour_text(origin)} ({lag_hours} h lag) "
            "need other horizons: train a product model for this lag"
        )
    times = pd.DatetimeIndex(history["datetime_utc"])
    published = history[times <= origin]  # the leakage guard: nothing after the origin
    if not (pd.DatetimeIndex(published["datetime_utc"]) == origin).any():
        raise ValueError(
            f"no settled data at the data origin {hour_text(origin)} (issued "
            f"{hour_text(issued_at)} with a {lag_hours} h publication lag): materialise "
            "consumption_features up to that hour and retry"
        )
    # Every expected series and every series published at the origin: the model's rows where
    # it can serve, the labelled weekly-profile fallback where it cannot (forecasting/fallback.py).
    predicted = fallback.complete_vintage(
        published,
        expected,
        origin,
        targets,
        lambda frame, origins: forecaster.predict(frame, origins=origins),
        horizon_hours=longest,
        min_horizon_hours=shortest,
    )
    lead = ((predicted["datetime_utc"] - issued_at.floor("h")) / _HOUR).astype(np.int64)
    frame = pd.DataFrame(
        {
            "issued_at": issued_at,
            "area": predicted["area"].astype(str),
            "segment": predicted["segment"].astype(str),
            "datetime_utc": predicted["datetime_utc"],
            "lead_hours": lead.to_numpy(),
            "data_origin": origin,
            "prediction": predicted["prediction"].to_numpy(),
            "p10": predicted["p10"].to_numpy(),
            "p50": predicted["prediction"].to_numpy(),
            "p90": predicted["p90"].to_numpy(),
            "model_version": str(model_version),
            "quality": predicted["quality"].to_numpy(),
            "quality_reason": predicted["quality_reason"].astype(object).to_numpy(),
            "weather_used": False,
        }
    )
    # Fallback rows take part in the reconciliation: the area total covers every segment.
    frame, level_source = reconcile.reconcile(frame, area_totals, reconciliation)
    frame["level_source"] = level_source
    out = frame[PRODUCT_COLUMNS].sort_values(["area", "segment", "datetime_utc"], ignore_index=True)
    out.attrs = dict(predicted.attrs)
    return out


def missing_targets(frame: pd.DataFrame, series: list[tuple[str, str]], targets) -> list[str]:
    """'area/segment at hour' for each (series, target) the vintage lacks (first few)."""
    have = set(zip(frame["area"], frame["segment"], frame["datetime_utc"], strict=True))
    return [
        f"{a}/{s} at {hour_text(t)}" for a, s in series for t in targets if (a, s, t) not in have
    ]
