"""A forecast for every expected series: the model's where it can serve, a labelled fallback
where it cannot.

Every forecast row carries `quality` (`model` / `fallback`) and `quality_reason` (None for the
model; for a fallback, why: no recent data, a new series without the history the model needs,
the model failed for it). `complete_forecasts` is the one entry point: the hourly `forecasts`
asset calls it, and so can any product published from the same path.

The fallback (`fallback_forecasts`) is a forecast of its own, never the model's copy:

* profile: for target hour T, the mean of the same hour one and two weeks earlier (T - 168 h,
  T - 336 h) that were observed by the origin; where neither was, the newest same hour of day
  (T - 24 h, T - 48 h, ... up to FALLBACK_LOOKBACK_DAYS); where none was, the newest value;
* level: scaled by the last observed day's mean over the profile's own values for that day
  (the ratio clipped to LEVEL_CLIP): the same hours of last week, at the latest level;
* interval: p10 / p90 = prediction x exp(the 10 / 90 % quantiles of log(actual / fallback)) of
  the series' own fallback, backtested on the history it is given (`series_band`: the same
  hour of earlier days, as stale as the series is now); a series with too little history gets
  the default band measured by `benchmarks/bench_fallback.py` (FALLBACK_LOG_QUANTILES per
  staleness: fresh data, or the last value more than a day old). p50 = prediction. Coverage of
  both on DK2 and DE35: docs/decisions/0010.

Domain code: no Dagster; the forecaster is passed in as a function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from energy_assets.contracts import FORECASTS, SERIES_KEYS, hour_text

if TYPE_CHECKING:
    from energy_assets.monitoring.series_catalogue import Series

QUALITY_MODEL = "model"
QUALITY_FALLBACK = "fallback"
QUALITY_VALUES = (QUALITY_MODEL, QUALITY_FALLBACK)
FALLBACK_MODEL_USED = "weekly_profile"
FALLBACK_WEEKS = (1, 2)
FALLBACK_LOOKBACK_DAYS = 14
LEVEL_CLIP = (0.5, 2.0)
# Hours since the last observation from which the stale band applies.
STALE_AFTER_HOURS = 24
# The default band, for a series with too little history for its own (series_band): 10 / 90 %
# quantiles of log(actual / fallback) by staleness, measured on the DE35 slice's municipal
# series (benchmarks/bench_fallback.py, docs/decisions/0010): the noisier data, so the band
# covers ~80 % there and over-covers (97-98 %) DK2's area total.
FALLBACK_LOG_QUANTILES = {"fresh": (-0.158, 0.130), "stale": (-0.205, 0.160)}
# A series' own band: its fallback backtested from the same hour of up to BAND_ORIGINS earlier
# days with at least BAND_MIN_HISTORY_HOURS of data before each (a week for the profile, a day
# for the level), and at least BAND_MIN_POINTS scored hours; else the default above.
BAND_ORIGINS = 28
BAND_MIN_HISTORY_HOURS = 8 * 24
BAND_MIN_POINTS = 72
# A stale series' band over its own fresh one: the factor at which the stale band covered 80 %
# on DK2 2019-2022 (1.8: 80.8 %; 1.4: 73.5 %; docs/decisions/0010), checked on DK2 2023- and DE35.
STALE_WIDEN = 1.8

_HOUR = pd.Timedelta(hours=1)


def no_recent_data(last_seen: pd.Timestamp | None) -> str:
    if last_seen is None or pd.isna(last_seen):
        return "no recent data: no value of this series in the history read"
    return f"no recent data: the newest value is {hour_text(last_seen)}"


def new_series(history_hours: int, needed: int) -> str:
    return f"new series without history: {history_hours} h observed, the model needs {needed} h"


def model_failed(error: str) -> str:
    return f"model failed for it: {error}"


def fallback_forecasts(
    history: pd.DataFrame,
    series: Iterable[Series],
    origins: Sequence[pd.Timestamp] | pd.DatetimeIndex,
    horizon_hours: int = 24,
    reasons: Mapping[tuple[Series, pd.Timestamp], str] | str = "fallback",
    min_horizon_hours: int = 1,
) -> pd.DataFrame:
    """FORECASTS rows (without model_version) for every `series` at every origin, labelled
    `fallback` with the reason `reasons` gives: one text for every pair, or a mapping
    (series, origin) → reason, when only the pairs it names are forecast. Horizons
    min_horizon_hours .. horizon_hours (a product's: its publication lag and beyond), the band
    backtested on those horizons only.

    history: CLEAN rows (datetime_utc, area, segment, energy_consumption); only rows at or
    before each origin are read for it. A series with no value at or before an origin gets no
    row there (nothing to forecast from): see `unforecastable`.
    """
    origin_index = pd.DatetimeIndex([pd.Timestamp(o) for o in origins])
    wanted = [(str(a), str(s)) for a, s in series]
    columns = [
        *(c for c in FORECASTS.names if c not in ("model_version",)),
    ]
    if not wanted or not len(origin_index):
        return pd.DataFrame({c: [] for c in columns})
    frame = history[history["datetime_utc"] <= origin_index.max()]
    keys = list(zip(frame["area"].astype(str), frame["segment"].astype(str), strict=True))
    frame = frame.assign(_series=keys)
    frame = frame[frame["_series"].isin(set(wanted))]
    start = min(
        frame["datetime_utc"].min() if len(frame) else origin_index.min(), origin_index.min()
    )
    start = start - pd.Timedelta(days=FALLBACK_LOOKBACK_DAYS + 2)
    n_hours = int((origin_index.max() - start) // _HOUR) + 1
    position = {key: i for i, key in enumerate(wanted)}
    values = np.full((len(wanted), n_hours), np.nan)
    if len(frame):
        rows = frame["_series"].map(position).to_numpy(dtype=np.int64)
        cols = ((frame["datetime_utc"] - start) // _HOUR).to_numpy(dtype=np.int64)
        values[rows, cols] = frame["energy_consumption"].to_numpy(dtype="float64")
    h = np.arange(max(int(min_horizon_hours), 1), horizon_hours + 1)
    out = []
    for origin in origin_index:
        o = int((origin - start) // _HOUR)
        for key, i in position.items():
            if not isinstance(reasons, str) and (key, origin) not in reasons:
                continue
            seen = values[i, : o + 1]
            observed = np.flatnonzero(~np.isnan(seen))
            if not len(observed):
                continue
            last = int(observed[-1])
            prediction = _profile(seen, o + h, last) * _level(seen, last)
            q10, q90 = series_band(seen, o, last, h)
            reason = reasons if isinstance(reasons, str) else reasons.get((key, origin), "")
            prediction = np.clip(prediction, 0, None)
            out.append(
                pd.DataFrame(
                    {
                        "area": key[0],
                        "segment": key[1],
                        "forecast_origin": origin,
                        "datetime_utc": origin + pd.to_timedelta(h, unit="h"),
                        "horizon_hours": h.astype(np.int64),
                        "prediction": prediction,
                        "p10": prediction * np.exp(q10),
                        "p50": prediction,
                        "p90": prediction * np.exp(q90),
                        "prediction_lower": prediction * np.exp(q10),
                        "prediction_upper": prediction * np.exp(q90),
                        "model_used": FALLBACK_MODEL_USED,
                        "quality": QUALITY_FALLBACK,
                        "quality_reason": reason or "fallback",
                    }
                )
            )
    if not out:
        return pd.DataFrame({c: [] for c in columns})
    return pd.concat(out, ignore_index=True)[columns]


def series_band(seen: np.ndarray, o: int, last: int, h: np.ndarray) -> tuple[float, float]:
    """The 10 / 90 % quantiles of log(actual / fallback) of this series' own fallback, backtested
    on its history: forecast from the same hour as its newest value on each earlier day p (up to
    BAND_ORIGINS of them, each with BAND_MIN_HISTORY_HOURS of data before it), scored on the
    hours p + h observed by `last`; widened by STALE_WIDEN when the newest value is more than
    STALE_AFTER_HOURS old (a stale series has too few such days for its own stale backtest in
    the 15 days the asset reads). A series with fewer than BAND_MIN_POINTS scored hours (new,
    or a short history) gets the default band (FALLBACK_LOG_QUANTILES by staleness: the DE35
    slice's, wide enough for noisy series)."""
    # Stale: the newest value is a day or more older than the hour before the first target (for
    # the hourly forecasts, the origin; a product's first target is its publication lag away).
    stale = (o + int(h.min()) - 1 - last) >= STALE_AFTER_HOURS
    observed = np.flatnonzero(~np.isnan(seen[: last + 1]))
    first = int(observed[0]) if len(observed) else last + 1
    errors = []
    for k in range(1, BAND_ORIGINS + 1):
        p = last - 24 * k
        if p - first + 1 < BAND_MIN_HISTORY_HOURS:
            break
        targets = p + h[h <= 24 * k]
        forecast = _profile(seen, targets, p) * _level(seen, p)
        actual = seen[targets]
        ok = (actual > 0) & (forecast > 0)
        errors.append(np.log(actual[ok] / forecast[ok]))
    points = np.concatenate(errors) if errors else np.zeros(0)
    if len(points) < BAND_MIN_POINTS:
        return FALLBACK_LOG_QUANTILES["stale" if stale else "fresh"]
    ordered = np.sort(points)
    n = len(ordered)
    # Split-conformal ranks (as training/intervals.py): a little wider than the sample quantiles.
    low = float(ordered[max(int(np.floor(0.1 * (n + 1))) - 1, 0)])
    high = float(ordered[min(int(np.ceil(0.9 * (n + 1))) - 1, n - 1)])
    widen = STALE_WIDEN if stale else 1.0
    # p10 <= p50 <= p90 even for a series whose recent errors all had one sign.
    return min(low, 0.0) * widen, max(high, 0.0) * widen


def _profile(seen: np.ndarray, targets: np.ndarray, last: int) -> np.ndarray:
    """The same hours one and two weeks earlier (their mean), else the newest same hour of
    day, else the newest value; only hours at or before `last` (observed by the origin)."""

    def at(t: np.ndarray) -> np.ndarray:
        ok = (t >= 0) & (t <= last)
        out = np.full(t.shape, np.nan)
        out[ok] = seen[t[ok]]
        return out

    weekly = np.stack([at(targets - 168 * k) for k in FALLBACK_WEEKS])
    with np.errstate(invalid="ignore"):
        count = (~np.isnan(weekly)).sum(axis=0)
        profile = np.where(count > 0, np.nansum(weekly, axis=0) / np.maximum(count, 1), np.nan)
    for day in range(1, FALLBACK_LOOKBACK_DAYS + 1):
        if not np.isnan(profile).any():
            break
        profile = np.where(np.isnan(profile), at(targets - 24 * day), profile)
    return np.where(np.isnan(profile), seen[last], profile)


def _level(seen: np.ndarray, last: int) -> float:
    """The last observed day's mean over the profile's values for the same hours (clipped)."""
    day = np.arange(last - 23, last + 1)
    day = day[day >= 0]
    actual = seen[day]
    # The profile for the last day as it would have been made: from hours before that day.
    reference = _profile(seen, day, int(day[0]) - 1) if day[0] > 0 else np.full(day.shape, np.nan)
    both = ~np.isnan(actual) & ~np.isnan(reference)
    if both.sum() < 12 or reference[both].sum() <= 0:
        return 1.0
    return float(np.clip(actual[both].sum() / reference[both].sum(), *LEVEL_CLIP))


def model_servable(
    history: pd.DataFrame, origins: Sequence[pd.Timestamp], min_history_hours: int
) -> dict[tuple[Series, pd.Timestamp], str]:
    """Why the model cannot serve a (series, origin), for the series in `history` that it
    cannot: no value within MAX_FILL_HOURS of the origin (no recent data), fewer than
    `min_history_hours` hours since its first value (new), or a gap longer than MAX_FILL_HOURS in
    the hours the forecast reads (the forecaster refuses it: model failed for it). The rules are
    the forecaster's own (features.model_inputs.SeriesGrid)."""
    from energy_assets.features.model_inputs import MAX_FILL_HOURS, SeriesGrid

    if len(history) == 0:
        return {}
    grid = SeriesGrid(history)
    out: dict[tuple[Series, pd.Timestamp], str] = {}
    for origin in origins:
        origin = pd.Timestamp(origin)
        o = grid.index_of(origin)
        for s, key in enumerate(grid.series):
            seen = grid.values[s, : min(o, grid.n_hours - 1) + 1] if o >= 0 else np.array([])
            raw = ~grid.raw_missing[s, : min(o, grid.n_hours - 1) + 1] if o >= 0 else seen
            if o < 0 or not raw.any():
                out[(key, origin)] = no_recent_data(None)
                continue
            last = grid.start + int(np.flatnonzero(raw)[-1]) * _HOUR
            if o >= grid.n_hours or np.isnan(grid.values[s, o]):
                out[(key, origin)] = no_recent_data(last)
                continue
            observed = o - int(grid.first_valid[s]) + 1
            if observed < min_history_hours:
                out[(key, origin)] = new_series(observed, min_history_hours)
                continue
            gaps = int(grid.missing_in(np.array([s]), o - min_history_hours + 1, o)[0])
            if gaps > 0:
                out[(key, origin)] = model_failed(
                    f"a gap longer than {MAX_FILL_HOURS} h in the {min_history_hours} h the "
                    f"forecast from {hour_text(origin)} reads"
                )
    return out


def complete_forecasts(
    history: pd.DataFrame,
    expected: Iterable[Series],
    origins: Sequence[pd.Timestamp] | pd.DatetimeIndex,
    predict: Callable[[pd.DataFrame, list[pd.Timestamp]], pd.DataFrame],
    horizon_hours: int = 24,
    min_history_hours: int = 8 * 24,
    min_horizon_hours: int = 1,
) -> pd.DataFrame:
    """Every expected series at every origin, and every other series of `history` at the origins
    where it has data: the model's rows (quality `model`) where it can serve, labelled fallback
    rows where it cannot.

    history: CLEAN rows up to the newest origin (implausible values already removed).
    expected: the series that should be forecast (the series catalogue's `expected`); a series
    of `history` outside it (retired, or new and not yet accepted) is forecast only at origins
    where it has recent data. Empty: every series of `history` is expected.
    predict(history, origins) -> FORECASTS rows: the forecaster (e.g. a champion's `predict`);
    it is called once per group of origins with the same servable series, on the history of
    those series only, so a series it cannot serve never changes another's forecast.
    Returns the forecaster's columns plus `quality` and `quality_reason`; `attrs["fallbacks"]`
    counts fallback series by reason kind and `attrs["unforecastable"]` lists (series, origin)
    pairs without any value to forecast from. `attrs` of the predictions (e.g. "weather") are
    kept from the last call.
    """
    origin_list = [pd.Timestamp(o) for o in origins]
    keys = list(zip(history["area"].astype(str), history["segment"].astype(str), strict=True))
    present = sorted(set(keys))
    expected_set = {(str(a), str(s)) for a, s in expected}
    reasons = model_servable(history, origin_list, min_history_hours)
    # A series no longer expected (retired) is not forecast where it has no recent data.
    stale_kind = reason_kind(no_recent_data(None))
    skipped = {
        pair
        for pair, why in reasons.items()
        if expected_set and pair[0] not in expected_set and reason_kind(why) == stale_kind
    }
    reasons = {pair: why for pair, why in reasons.items() if pair not in skipped}
    for key in sorted(expected_set - set(present)):
        for origin in origin_list:
            reasons[(key, origin)] = no_recent_data(None)
    # Group origins by the set of series the model serves there.
    groups: dict[frozenset, list[pd.Timestamp]] = {}
    for origin in origin_list:
        served = frozenset(
            k for k in present if (k, origin) not in reasons and (k, origin) not in skipped
        )
        groups.setdefault(served, []).append(origin)
    parts = []
    attrs: dict = {}
    series_of_row = pd.Series(keys, index=history.index)
    for served, group in groups.items():
        if not served:
            continue
        subset = history[series_of_row.isin(served).to_numpy()]
        try:
            predicted = predict(subset, group)
        except ValueError as error:  # the model refused these origins: every series falls back
            for origin in group:
                for key in served:
                    reasons[(key, origin)] = model_failed(str(error))
            continue
        attrs.update(predicted.attrs)
        predicted = predicted.assign(quality=QUALITY_MODEL, quality_reason=None)
        parts.append(predicted)
    model_rows = pd.concat(parts, ignore_index=True) if parts else None
    fallback_keys = sorted({key for key, _ in reasons}, key=str)
    fallback = fallback_forecasts(
        history,
        fallback_keys,
        origin_list,
        horizon_hours=horizon_hours,
        reasons=reasons,
        min_horizon_hours=min_horizon_hours,
    )
    frames = [f for f in (model_rows, fallback) if f is not None and len(f)]
    if frames:
        out = pd.concat(frames, ignore_index=True)
        out["quality_reason"] = out["quality_reason"].astype(object)
        out = out.sort_values(list(FORECASTS.key), kind="stable").reset_index(drop=True)
    else:
        out = fallback.iloc[0:0].copy()
    forecast_pairs = set(
        zip(zip(out["area"], out["segment"], strict=True), out["forecast_origin"], strict=True)
    )
    out.attrs = attrs
    out.attrs["unforecastable"] = sorted(
        (key, origin) for key, origin in reasons if (key, origin) not in forecast_pairs
    )
    out.attrs["fallbacks"] = fallback_counts(out)
    return out


def complete_vintage(
    history: pd.DataFrame,
    expected: Iterable[Series],
    origin: pd.Timestamp,
    targets: pd.DatetimeIndex,
    predict: Callable[[pd.DataFrame, list[pd.Timestamp]], pd.DataFrame],
    horizon_hours: int,
    min_horizon_hours: int,
    min_history_hours: int = 8 * 24,
) -> pd.DataFrame:
    """A forecast product's rows before it is dressed as a vintage (forecasting/products.py):
    `complete_forecasts` from the one data origin, kept to `targets`. Every expected series,
    and every series with data at the origin, has a row per target: the product model's
    (quality `model`) where it can serve by the forecaster's own rules, else the weekly-profile
    fallback with its reason and its own band, backtested on the product's horizons
    (min_horizon_hours .. horizon_hours: the publication lag and beyond).

    history: CLEAN rows published by the issue time (nothing after `origin`). predict(history,
    origins): the product model's forecast. Returns FORECASTS columns plus quality /
    quality_reason; attrs as `complete_forecasts` (fallbacks, unforecastable, weather)."""
    rows = complete_forecasts(
        history,
        expected,
        [pd.Timestamp(origin)],
        predict,
        horizon_hours=horizon_hours,
        min_history_hours=min_history_hours,
        min_horizon_hours=min_horizon_hours,
    )
    attrs = dict(rows.attrs)
    kept = rows[rows["datetime_utc"].isin(targets)].reset_index(drop=True)
    kept.attrs = attrs
    kept.attrs["fallbacks"] = fallback_counts(kept)
    return kept


def reason_kind(reason: str | None) -> str:
    """`no recent data: the newest ...` → `no recent data`: the reason without its detail."""
    return str(reason).split(":", 1)[0] if reason else ""


def fallback_counts(forecasts: pd.DataFrame) -> dict[str, int]:
    """Fallback series per reason kind (a series counted once per kind however many origins)."""
    if "quality" not in forecasts.columns or not len(forecasts):
        return {}
    rows = forecasts[forecasts["quality"] == QUALITY_FALLBACK]
    kinds = rows["quality_reason"].map(reason_kind)
    series = rows[SERIES_KEYS].astype(str).apply(tuple, axis=1) if len(rows) else kinds
    counted = pd.DataFrame({"kind": kinds, "series": series}).drop_duplicates()
    return {str(k): int(n) for k, n in counted["kind"].value_counts().sort_index().items()}


def fallback_series(forecasts: pd.DataFrame) -> dict[str, str]:
    """`AREA/SEGMENT` → the newest origin's reason, for every series with a fallback row."""
    if "quality" not in forecasts.columns:
        return {}
    rows = forecasts[forecasts["quality"] == QUALITY_FALLBACK]
    # forecasts: by origin; a product's vintage: by issue time.
    order = [c for c in ("forecast_origin", "issued_at", "datetime_utc") if c in rows.columns]
    rows = rows.sort_values(order[:1], kind="stable") if order else rows
    newest = rows.drop_duplicates(SERIES_KEYS, keep="last")
    return {
        f"{a}/{s}": str(r)
        for a, s, r in newest[[*SERIES_KEYS, "quality_reason"]].itertuples(index=False)
    }


def with_quality(forecasts: pd.DataFrame) -> pd.DataFrame:
    """Forecasts read from storage with `quality` / `quality_reason` (partitions written before
    the labels existed were all the model's)."""
    out = forecasts
    if "quality" not in out.columns:
        out = out.assign(quality=QUALITY_MODEL)
    if "quality_reason" not in out.columns:
        out = out.assign(quality_reason=None)
    return out
