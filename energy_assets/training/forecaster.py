"""One global LightGBM that forecasts the next 24 hours of every (area, segment) series.

How it forecasts (why each choice, with the measurements: docs/decisions/0001-forecaster.md):

* multi-horizon: ONE model for all horizons, the horizon (1..24) is a feature; each training row
  is (series, origin, horizon). No recursion, so no error feedback and one vectorised predict.
* relative target: the model learns log(y[target] / level), level = mean of the series' last 24
  hours at the origin. One model then spans 89 kWh ... 1.6 M kWh series; predictions are
  level * exp(model output). Every history input is expressed the same way (log-ratio to level).
* inputs: declared once in contracts.MODEL_INPUTS (+ the series keys as categoricals, + the
  weather variant's WEATHER_INPUTS) and built by features/model_inputs.build_model_inputs over a
  dense series x hour grid: the target hour's calendar, the same hour on earlier days, profiles,
  reference-day shapes and anchors, rolling mean / std at the origin, all as log-ratios to the
  level; horizon; log(level). fit() and predict() call the same builder.
* shape blend: each 24-hour path is averaged geometrically with last week's same hours rescaled
  to the trees' daily level; the weight is chosen in fit() on a holdout of the last 7 days
  (`shape_blend="auto"`), so data where the trees already get the shape right keeps weight 0.
  The blend itself: training/shape_blend.py.
* quantiles p10 / p50 / p90 (the 80 % band p10..p90 is also prediction_lower / _upper): p10 and
  p90 per horizon from the 10 / 90 % quantiles of log residuals log(y / prediction), a weighted
  mean of the in-sample and the 7-day holdout residuals' quantiles, recalibrated at every fit;
  p50 is the point forecast (a residual-median shift scored a worse pinball loss). Measured on
  the shared slice in docs/decisions/0003-quantiles.md; the helpers: training/intervals.py.
  On long windows the band is then calibrated split-conformally on the out-of-sample errors of
  the last `calibration_days` holdout origins per band of lead times (the served weather mix on
  its own errors): docs/decisions/0011-calibration-metrics-daily-level.md.

Bad input policy (tested in energy_assets_tests/training/test_forecaster.py):
* duplicate (datetime_utc, area, segment) rows -> ValueError naming the series and hour.
* missing hours / NaN values: each series is put on the full hourly grid and gaps of at most
  MAX_FILL_HOURS are forward-filled. A longer gap inside the 8 days that a forecast reads
  (origin - 191 h ... origin) -> ValueError naming the series and the first missing hour. Longer
  gaps elsewhere in training data just drop the affected training rows.
* too little history (< MIN_HISTORY_HOURS at the origin, e.g. a new series) -> documented fallback:
  seasonal naive (the last observed value at the same hour of day); the row's `model_used` is
  "seasonal_naive". A series with a non-positive level (all zero) falls back the same way.
* a series with no observation within MAX_FILL_HOURS of an origin (discontinued, or starting
  later: DE35 codes come and go over the years) is inactive there and gets no forecast rows.
* a constant series is fine (all log-ratios are 0; the model predicts about the constant).
* a series not seen during fit: its categories are unknown to LightGBM and are passed as missing,
  so the model forecasts it from its own lags/level and the calendar (the "typical series").
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from energy_assets.contracts import (
    FORECASTER_OUTPUT_COLUMNS,
    FORECASTING_MODEL_ASSET,
    FORECASTS,
    MODEL_CATEGORICAL_INPUTS,
    WEATHER_LOOKBACK_HOURS,
)
from energy_assets.features.model_inputs import (  # SeriesGrid keeps its old name here
    MAX_FILL_HOURS,
    build_model_inputs,
    log_ratio,
)
from energy_assets.features.model_inputs import SeriesGrid as _Grid
from energy_assets.training import intervals
from energy_assets.training import weather_features as wf
from energy_assets.training.shape_blend import blend_weekly_shape

MODEL_FORMAT = "energy_assets.GlobalLGBMForecaster/3"
MODEL_FILE = "model.txt"
WEATHER_MODEL_DIR = "weather_model"  # the weather variant, when fit() chose to serve it
MIN_HISTORY_HOURS = 8 * 24  # lag-168 of a 24 h-ahead target plus a day of level
_HOUR = pd.Timedelta(hours=1)

# The configuration the project ships: a few manual runs, bounded by speed (fit <= 15 s on 2
# busy cores for 27 days x 76 series). Optuna (training/tuning.py) searches around it.
DEFAULT_PARAMS: dict = {
    "objective": "l1",  # median of the log-ratio: what MAPE rewards
    "learning_rate": 0.1,
    "num_boost_round": 200,
    "num_leaves": 31,
    "min_data_in_leaf": 100,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.7,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "max_bin": 63,
    "cat_smooth": 10.0,
    "max_train_rows": 100_000,
    # 0 = off. Half-life (days) of training-row weights by origin age: 7 d gave 5.75 % vs 5.79 %
    # on the shared backtest, within noise, so the shipped model does not use it; tuning may.
    "recency_halflife_days": 0,
    # Weight of last week's hourly shape in the final forecast (0 = the trees alone), or "auto":
    # chosen in fit() on a holdout of the last days of the training data. It helps on real data
    # and hurts on smooth synthetic data (docs/decisions/0001-forecaster.md), so the data decides.
    "shape_blend": "auto",
    # The last daily origins of the calibration holdout whose out-of-sample errors calibrate the
    # p10..p90 band (intervals.calibrated; 0 = off: the in-sample / holdout mix alone). 14 of
    # the holdout's 21 covered 79-84 % at DK2's 2023 tuning cutoffs (docs/decisions/0011).
    "calibration_days": 14,
}

# Candidate weights fit() tries on its holdout, and how many daily origins that holdout has.
SHAPE_BLEND_GRID = (0.0, 0.25, 0.5, 0.75)
SHAPE_BLEND_MAX_SERIES = 500  # series the holdout scores (a seeded sample beyond that)
SHAPE_BLEND_HOLDOUT_DAYS = 7  # a 3-day holdout picked blends on smooth synthetic data; 7 did not

# The calibration holdout: its daily origins (the weather rule's, so one fit serves both) and the
# largest share of the training window it may take (beyond it the fit keeps its own quantiles).
CALIBRATION_HOLDOUT_DAYS = wf.WEATHER_HOLDOUT_DAYS
CALIBRATION_MAX_SHARE = 0.1

# Non-LightGBM keys that live in params so tuning can search them too.
_OWN_KEYS = (
    "num_boost_round",
    "max_train_rows",
    "recency_halflife_days",
    "shape_blend",
    "calibration_days",
)


def suggest_params(trial) -> dict:
    """Optuna search space over the LightGBM parameters that matter for this model."""
    return {
        "objective": trial.suggest_categorical("objective", ["l2", "l1", "huber"]),
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
        # Bounded so the slowest configuration still fits in ~15 s on two cores: a study's
        # trial budget should buy many configurations, not a few huge ones.
        "num_boost_round": trial.suggest_int("num_boost_round", 100, 600, step=50),
        "num_leaves": trial.suggest_int("num_leaves", 15, 127, log=True),
        "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 10, 500, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "bagging_freq": 1,
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 10.0, log=True),
        "cat_smooth": trial.suggest_float("cat_smooth", 1.0, 50.0, log=True),
        "max_train_rows": trial.suggest_categorical("max_train_rows", [60_000, 100_000, 150_000]),
        "recency_halflife_days": trial.suggest_categorical("recency_halflife_days", [0, 7, 14, 28]),
        "shape_blend": trial.suggest_categorical("shape_blend", ["auto", 0.0, 0.25, 0.5, 0.75]),
    }


def _spare_days(grid: _Grid, horizon_hours: int) -> int:
    """Daily holdout origins a grid can spare: its days less the forecast reach beyond a day and
    the history an inner model needs (MIN_HISTORY_HOURS plus a few days of training origins)."""
    reach = pd.Timedelta(hours=horizon_hours - 24)
    return int((grid.end - grid.start - reach) / pd.Timedelta(hours=24)) - (
        MIN_HISTORY_HOURS // 24 + 4
    )


def _holdout_cutoff(grid: _Grid, horizon_hours: int, days: int) -> pd.Timestamp:
    """The first of `days` daily holdout origins whose last one's targets end at the grid's end
    (for horizon 24: the end less `days` days)."""
    return grid.end - pd.Timedelta(hours=horizon_hours) - pd.Timedelta(hours=24) * (days - 1)


@dataclass
class _TreePaths:
    """Rows (series s, origin o, horizon h) of a grid with the trees' forecast, before the
    shape blend and the seasonal-naive fallback for `short` history (see predict())."""

    grid: _Grid
    s: np.ndarray
    o: np.ndarray
    h: np.ndarray
    level: np.ndarray
    trees: np.ndarray
    short: np.ndarray


@dataclass
class _Holdout:
    """A model trained before `origins` (the last daily origins of a training window), its
    forecasts from them, and those forecasts joined with their positive actuals (`points`:
    the forecast columns plus `actual`)."""

    origins: list[pd.Timestamp]
    forecast: pd.DataFrame
    points: pd.DataFrame


def _scored(forecast: pd.DataFrame, consumption: pd.DataFrame) -> pd.DataFrame:
    actual = consumption[["area", "segment", "datetime_utc", "energy_consumption"]].rename(
        columns={"energy_consumption": "actual"}
    )
    points = forecast.merge(actual, on=["area", "segment", "datetime_utc"])
    return points[points["actual"] > 0].reset_index(drop=True)


class GlobalLGBMForecaster:
    """Global multi-horizon LightGBM over all series; see the module docstring for the design.

    params: LightGBM parameters merged over DEFAULT_PARAMS (plus `num_boost_round` and
    `max_train_rows`, the cap on sampled (series, origin, horizon) training rows).
    num_threads: LightGBM threads. 1 by default: on a shared 2-core box OpenMP with 2 threads
    was 3x SLOWER than 1 (busy-waiting under oversubscription); results are deterministic for a
    given num_threads.
    """

    def __init__(
        self,
        params: Mapping | None = None,
        horizon_hours: int = 24,
        random_state: int = 0,
        *,
        num_threads: int = 1,
        use_weather: bool = False,
        min_horizon_hours: int = 1,
    ):
        self.params = {**DEFAULT_PARAMS, **dict(params or {})}
        # The shortest horizon trained and forecast: a forecast product issued across the
        # publication lag reads horizons lag .. lag + 48 only (forecasting/products.py).
        self.min_horizon_hours = int(min_horizon_hours)
        if not 1 <= self.min_horizon_hours <= int(horizon_hours):
            raise ValueError(
                f"min_horizon_hours {min_horizon_hours} must be in 1..horizon_hours ({horizon_hours})"
            )
        # use_weather: this model's features include weather_features.WEATHER_FEATURES (the
        # weather variant a no-weather forecaster keeps in `weather_model`, see fit()).
        self.use_weather = bool(use_weather)
        self.weather_model: GlobalLGBMForecaster | None = None
        self.weather_decision: dict = {"weather_used": False, "reason": "fit without weather"}
        self._weather: wf.WeatherArrays | None = None
        # A weather model's boosters besides `booster` (wf.WEATHER_BAG); its forecast is their mean.
        self.bag_boosters: list[lgb.Booster] = []
        # The share of the weather model in a served weather forecast (wf.mix_forecasts).
        self.weather_mix = 1.0
        self.horizon_hours = int(horizon_hours)
        self.random_state = int(random_state)
        self.num_threads = int(num_threads)
        self.booster: lgb.Booster | None = None
        self.feature_names: list[str] = []
        self.series: list[tuple[str, str]] = []
        self.training_start: pd.Timestamp | None = None
        self.training_end: pd.Timestamp | None = None
        self.areas: list[str] = []
        self.segments: list[str] = []
        self.interval_quantiles: dict[str, list[float]] = {}
        self.shape_blend = 0.0  # the weight predict() uses (resolved from params in fit())
        self.shape_blend_holdout: dict[str, float] = {}  # holdout MAPE per candidate weight
        self.fit_seconds: float | None = None
        # The out-of-sample forecasts the band was calibrated on (fit only; not saved).
        self._calibration: _Holdout | None = None
        self._weather_calibration: pd.DataFrame | None = None  # the same for the weather mix

    # ------------------------------------------------------------------ training
    def _lgb_params(self) -> dict:
        p = {k: v for k, v in self.params.items() if k not in _OWN_KEYS}
        p.update(
            seed=self.random_state,
            deterministic=True,
            num_threads=self.num_threads,
            force_col_wise=True,
            verbose=-1,
        )
        return p

    def _frame(self, features: dict, grid: _Grid, s: np.ndarray) -> pd.DataFrame:
        frame = pd.DataFrame(features)
        areas = np.array([a for a, _ in grid.series], dtype=object)[s]
        types = np.array([c for _, c in grid.series], dtype=object)[s]
        area_key, segment_key = MODEL_CATEGORICAL_INPUTS
        frame[area_key] = pd.Categorical(areas, categories=self.areas)
        frame[segment_key] = pd.Categorical(types, categories=self.segments)
        return frame

    def fit(
        self, consumption: pd.DataFrame, weather: pd.DataFrame | wf.WeatherInput | None = None
    ) -> GlobalLGBMForecaster:
        """Train on a CLEAN frame (datetime_utc UTC, area, segment, energy_consumption).

        weather: observed hourly weather (datetime_utc, area, temperature_c, wind_speed_ms) or a
        WEATHER table; hours it lacks (e.g. before it starts) are missing features, the rows are
        kept. With it, fit() also trains a weather variant and decides from evidence whether
        predict() serves it (`weather_decision`; the rule: weather_features.decide).
        """
        started = time.perf_counter()
        grid = _Grid(consumption)
        self.series = [(str(a), str(c)) for a, c in grid.series]
        self.areas = sorted({a for a, _ in self.series})
        self.segments = sorted({c for _, c in self.series})
        self.training_start, self.training_end = grid.start, grid.end
        H = self.horizon_hours
        # Every (series, origin, horizon) whose target is observed; origins need 24 h of level.
        n_s = len(grid.series)
        origins = np.arange(23, grid.n_hours - 1)
        n_h = H - self.min_horizon_hours + 1  # horizons min_horizon_hours .. H
        total = n_s * len(origins) * n_h
        cap = int(self.params.get("max_train_rows", 100_000))
        bag = max(int(wf.WEATHER_BAG), 1) if self.use_weather else 1
        cap *= bag  # a weather model: one sample of max_train_rows per booster of its bag
        if total <= cap:
            flat = np.arange(total)
        else:
            # Row sampling for speed without materialising every (series, origin, horizon)
            # triple (10,000 series x a month would be 150 M); sorted, so reproducible.
            rng = np.random.default_rng(self.random_state)
            flat = np.unique(rng.integers(0, total, size=cap))
        s, rest = np.divmod(flat, len(origins) * n_h)
        o_pos, h = np.divmod(rest, n_h)
        o, h = origins[o_pos], h + self.min_horizon_hours
        keep = (o + h < grid.n_hours) & (o >= grid.first_valid[s] + 23)
        s, o, h = s[keep], o[keep], h[keep]
        features, level = build_model_inputs(grid, s, o, h)
        if self.use_weather:
            self._weather = self._weather_arrays(weather, grid, "observed")
            # An input the weather has no value for (a source without wind) is left out, so
            # predict() does not wait for it (wf.variables_used).
            built = wf.weather_columns(self._weather, s, o, h)
            features.update({k: v for k, v in built.items() if np.isfinite(v).any()})
        y = grid.value(s, o + h)
        # The relative target: log(y / level); predictions decode as level * exp(output).
        target = log_ratio(y, level)
        ok = np.isfinite(target) & np.isfinite(level) & (level > 0)
        if ok.sum() < 100:
            raise ValueError(
                f"only {int(ok.sum())} usable training rows: need at least a few days of hourly data"
            )
        X = self._frame(features, grid, s)[ok].reset_index(drop=True)
        target, level_ok, h_ok = target[ok], level[ok], h[ok]
        self.feature_names = list(X.columns)
        rounds = int(self.params.get("num_boost_round", 500))
        halflife = self.params.get("recency_halflife_days")
        # Optional: recent origins weigh more (the newest regime is the one we forecast into).
        weight = (
            0.5 ** ((grid.n_hours - 1 - o[ok]) / (24.0 * float(halflife))) if halflife else None
        )
        self._fit_boosters(X, target, weight, bag, rounds)
        raw = self._raw_predict(X)
        # Quantiles of in-sample relative residuals per horizon (optimistic; the holdout's
        # residuals are averaged in by _resolve_shape_blend).
        self.interval_quantiles = intervals.in_sample_quantiles(
            y[ok], level_ok * np.exp(raw), h_ok, H
        )
        self.shape_blend = self._resolve_shape_blend(consumption, grid)
        self._calibration = None
        calibration_days = int(self.params.get("calibration_days") or 0)
        if not self.use_weather and calibration_days > 0:
            self._calibration = self._calibration_holdout(consumption, grid)
            if self._calibration is not None:
                self.interval_quantiles = intervals.calibrated(
                    self.interval_quantiles, self._calibration.points, calibration_days
                )
        if weather is not None and not self.use_weather:
            self._fit_weather_variant(consumption, weather, grid)
        self.fit_seconds = time.perf_counter() - started
        return self

    def _fit_boosters(self, X: pd.DataFrame, target, weight, bag: int, rounds: int) -> None:
        """`bag` boosters, one per disjoint share of the rows, each its own seed (bag 1: one
        booster on every row, with the forecaster's seed; a weather model: WEATHER_BAG)."""
        share = np.random.default_rng(self.random_state).permutation(len(X)) % bag
        boosters = []
        for k in range(bag):
            rows = share == k
            data = lgb.Dataset(
                X[rows],
                target[rows],
                weight=None if weight is None else weight[rows],
                categorical_feature=list(MODEL_CATEGORICAL_INPUTS),
                free_raw_data=True,
            )
            params = {**self._lgb_params(), "seed": self.random_state + 1000 * k}
            boosters.append(lgb.train(params, data, num_boost_round=rounds))
        self.booster, self.bag_boosters = boosters[0], boosters[1:]

    def _raw_predict(self, X: pd.DataFrame) -> np.ndarray:
        """The trees' log-ratio: the booster's, or the mean of a weather model's bag."""
        if self.booster is None:
            raise RuntimeError("GlobalLGBMForecaster is not fitted; call fit() or load()")
        boosters = [self.booster, *self.bag_boosters]
        raws = [np.asarray(b.predict(X, num_threads=self.num_threads)) for b in boosters]
        return np.mean(raws, axis=0)

    def _resolve_shape_blend(self, consumption: pd.DataFrame, grid: _Grid) -> float:
        """The weekly-shape weight: params' number, or for "auto" the holdout's best weight.

        "auto" refits the trees (same params, no blend) on all but the last
        SHAPE_BLEND_HOLDOUT_DAYS days (fewer when the data is short), forecasts those days from
        daily origins and keeps the SHAPE_BLEND_GRID weight with the lowest pooled MAPE there.
        With too little data for a 2-day holdout (under ~14 days) the trees are used alone.
        """
        setting = self.params.get("shape_blend", 0.0)
        self.shape_blend_holdout = {}
        if setting != "auto":
            return float(setting or 0.0)
        H = self.horizon_hours
        # The inner model needs MIN_HISTORY_HOURS plus a few days of training origins.
        days = min(SHAPE_BLEND_HOLDOUT_DAYS, _spare_days(grid, H))
        if days < 2:
            return 0.0
        cutoff = _holdout_cutoff(grid, H, days)
        inner = GlobalLGBMForecaster(
            {**self.params, "shape_blend": 0.0},
            horizon_hours=H,
            random_state=self.random_state,
            num_threads=self.num_threads,
            min_horizon_hours=self.min_horizon_hours,
        )
        # The weight is one number: a sample of series scores it as well as all of them, and
        # keeps the holdout's predict small at 10,000 series.
        if len(grid.series) > SHAPE_BLEND_MAX_SERIES:
            rng = np.random.default_rng(self.random_state)
            pick = rng.choice(len(grid.series), SHAPE_BLEND_MAX_SERIES, replace=False)
            sample = pd.MultiIndex.from_tuples([grid.series[i] for i in pick])
            keys = pd.MultiIndex.from_arrays(
                [consumption["area"].astype(str), consumption["segment"].astype(str)]
            )
            scored_rows = consumption[keys.isin(sample)]
        else:
            scored_rows = consumption
        try:
            inner.fit(consumption[consumption["datetime_utc"] <= cutoff])
            origins = [cutoff + pd.Timedelta(hours=24) * k for k in range(days)]
            paths = inner._tree_paths(scored_rows, origins)
        except ValueError:
            return 0.0  # e.g. a gap near the end: no evidence, keep the trees alone
        holdout, s, o, h = paths.grid, paths.s, paths.o, paths.h
        actual = holdout.value(s, o + h)
        # Rows predict() would hand to its seasonal-naive fallback are not the trees' to score.
        scored = (
            np.isfinite(actual)
            & (actual > 0)
            & ~paths.short
            & np.isfinite(paths.trees)
            & (paths.level > 0)
        )
        if scored.sum() < 24:
            return 0.0
        blended = {}
        for weight in SHAPE_BLEND_GRID:
            blended[weight] = blend_weekly_shape(paths.trees, holdout, s, o, h, weight)
            ape = np.abs(blended[weight] - actual) / np.where(scored, actual, 1.0)
            self.shape_blend_holdout[str(weight)] = float(ape[scored].mean())
        best = float(min(SHAPE_BLEND_GRID, key=lambda w: self.shape_blend_holdout[str(w)]))
        self.interval_quantiles = intervals.with_holdout(
            self.interval_quantiles, actual[scored], blended[best][scored], h[scored], H
        )
        return best

    def _holdout_origins(self, grid: _Grid, max_days: int) -> list[pd.Timestamp]:
        """The last daily origins of the training window (at most max_days, fewer when the data
        is short: the inner model needs MIN_HISTORY_HOURS plus a few days of training origins)."""
        H = self.horizon_hours
        days = min(int(max_days), _spare_days(grid, H))
        if days < 2:
            return []
        cutoff = _holdout_cutoff(grid, H, days)
        return [cutoff + pd.Timedelta(hours=24) * k for k in range(days)]

    def _calibration_holdout(self, consumption: pd.DataFrame, grid: _Grid) -> _Holdout | None:
        """Forecasts of the last CALIBRATION_HOLDOUT_DAYS daily origins by a model with this
        one's parameters and shape blend trained before them, joined with their actuals: the
        out-of-sample residuals the band is calibrated on, and the weather rule's no-weather side
        (the same window, so one fit serves both). None when the data is too short, or when the
        holdout would be more than CALIBRATION_MAX_SHARE of the window: a model trained on much
        less data than the served one overstates the error (docs/decisions/0011)."""
        origins = self._holdout_origins(grid, CALIBRATION_HOLDOUT_DAYS)
        window_days = (grid.end - grid.start) / pd.Timedelta(days=1)
        if not origins or len(origins) > CALIBRATION_MAX_SHARE * window_days:
            return None
        inner = GlobalLGBMForecaster(
            {**self.params, "shape_blend": self.shape_blend, "calibration_days": 0},
            horizon_hours=self.horizon_hours,
            random_state=self.random_state,
            num_threads=self.num_threads,
            min_horizon_hours=self.min_horizon_hours,
        )
        try:
            inner.fit(consumption[consumption["datetime_utc"] <= origins[0]])
            forecast = inner._predict_one_model(consumption, origins)
        except ValueError:
            return None  # e.g. a gap near the end: keep the fit's own quantiles
        return _Holdout(origins, forecast, _scored(forecast, consumption))

    # ------------------------------------------------------------------ prediction
    def _predict_one_model(self, history: pd.DataFrame, origins=None, weather=None) -> pd.DataFrame:
        """Forecast horizon 1..horizon_hours after each origin for every series in `history`.

        history: CLEAN data up to (and including) the origin(s); anything after an origin is never
        read for that origin. origins: a Timestamp or a sequence of them (UTC hours); default the
        last hour in history. Returns the FORECASTS contract columns plus `model_used`
        ("lightgbm" or "seasonal_naive" for the short-history fallback).
        """
        paths = self._tree_paths(history, origins, weather)
        grid, s, o, h, level = paths.grid, paths.s, paths.o, paths.h, paths.level
        H = self.horizon_hours
        prediction = blend_weekly_shape(paths.trees, grid, s, o, h, self.shape_blend)
        naive = grid.value(s, o + h - 24 * np.ceil(h / 24).astype(np.int64))
        naive = np.where(np.isnan(naive), grid.value(s, o), naive)
        fallback = paths.short | ~np.isfinite(prediction) | ~(level > 0)
        prediction = np.clip(np.where(fallback, naive, prediction), 0, None)
        quantiles = intervals.quantile_forecasts(prediction, self.interval_quantiles, h, H)
        areas = np.array([a for a, _ in grid.series], dtype=object)[s]
        types = np.array([c for _, c in grid.series], dtype=object)[s]
        origin_times = grid.start + pd.to_timedelta(o, unit="h")
        out = pd.DataFrame(
            {
                "area": areas.astype(str),
                "segment": types,
                "forecast_origin": origin_times,
                "datetime_utc": origin_times + pd.to_timedelta(h, unit="h"),
                "horizon_hours": h.astype(np.int64),
                "prediction": prediction,
                **quantiles,
                "prediction_lower": quantiles["p10"],
                "prediction_upper": quantiles["p90"],
                "model_used": np.where(fallback, "seasonal_naive", "lightgbm"),
            }
        )[FORECASTER_OUTPUT_COLUMNS]
        return out.sort_values(list(FORECASTS.key), kind="stable").reset_index(drop=True)

    def _tree_paths(self, history: pd.DataFrame, origins, weather=None) -> _TreePaths:
        """The trees' forecast for every active (series, origin, horizon) row of `history`."""
        if self.booster is None:
            raise RuntimeError("GlobalLGBMForecaster is not fitted; call fit() or load()")
        H = self.horizon_hours
        grid = _Grid(history, extra_hours=H)
        if origins is None:
            origin_list = [grid.end]
        elif isinstance(origins, (str, pd.Timestamp)) or not isinstance(
            origins, Sequence | pd.Index | np.ndarray
        ):
            origin_list = [origins]
        else:
            origin_list = list(origins)
        origin_ts = pd.DatetimeIndex([pd.Timestamp(x) for x in origin_list])
        if origin_ts.tz is None:
            origin_ts = origin_ts.tz_localize("UTC")
        origin_ts = origin_ts.tz_convert("UTC")
        o_idx = np.asarray((origin_ts - grid.start) // _HOUR, dtype=np.int64)
        bad = (
            (o_idx < 0)
            | (o_idx >= grid.n_hours)
            | ((origin_ts - grid.start) % _HOUR != pd.Timedelta(0))
        )
        if bad.any():
            raise ValueError(
                f"origin {origin_ts[bad][0]} is not an hour inside the history "
                f"({grid.start} .. {grid.end})"
            )
        n_s = len(grid.series)
        horizons = np.arange(self.min_horizon_hours, H + 1)
        s, o, h = (a.ravel() for a in np.meshgrid(np.arange(n_s), o_idx, horizons, indexing="ij"))
        # A series with no observation within MAX_FILL_HOURS of the origin (discontinued, or not
        # started yet) is inactive there: nothing to forecast from, so it is left out.
        active = ~np.isnan(grid.values[s, o])
        s, o, h = s[active], o[active], h[active]
        # Series without enough history at the origin -> seasonal-naive fallback (documented).
        short = o - grid.first_valid[s] + 1 < MIN_HISTORY_HOURS
        gaps = grid.missing_in(s, o - MIN_HISTORY_HOURS + 1, o)
        broken = (~short) & (gaps > 0)
        if broken.any():
            i = int(np.argmax(broken))
            window = grid.values[s[i], max(o[i] - MIN_HISTORY_HOURS + 1, 0) : o[i] + 1]
            first = max(o[i] - MIN_HISTORY_HOURS + 1, 0) + int(np.argmax(np.isnan(window)))
            while first > 0 and grid.raw_missing[s[i], first - 1]:
                first -= 1  # report where the gap starts, not where forward-filling gave up
            raise ValueError(
                f"series {grid.series[s[i]]} has a gap longer than {MAX_FILL_HOURS} h (missing "
                f"hours or NaNs) starting at {grid.start + first * _HOUR}, inside the "
                f"{MIN_HISTORY_HOURS} h the forecast from {grid.start + int(o[i]) * _HOUR} reads; "
                "repair or re-ingest those hours"
            )
        features, level = build_model_inputs(grid, s, o, h)
        if self.use_weather:
            arrays = self._weather_arrays(weather, grid, None)
            features.update(wf.weather_columns(arrays, s, o, h))
        X = self._frame(features, grid, s)[self.feature_names]
        raw = self._raw_predict(X)
        trees = level * np.exp(raw)
        return _TreePaths(grid, s, o, h, level, trees, short)

    # ------------------------------------------------------------------ weather
    def predict(self, history: pd.DataFrame, origins=None, weather=None) -> pd.DataFrame:
        """Forecast horizon 1..horizon_hours after each origin for every series in `history`.

        history: CLEAN data up to (and including) the origin(s); anything after an origin is never
        read for that origin. origins: a Timestamp or a sequence of them (UTC hours); default the
        last hour in history. weather: the WEATHER table (forecasts issued at each origin) or
        hourly weather (the observations standing in for forecasts); used only when fit()
        chose the weather model and only for origins whose weather is complete: the others come
        from the no-weather model. Returns the FORECASTS contract columns plus `model_used`
        ("lightgbm" or "seasonal_naive" for the short-history fallback); `frame.attrs["weather"]`
        says whether weather was used and why not (metadata_keys-style dict).
        """
        if self.use_weather:  # a weather variant itself (measurement): weather is required
            forced = self._predict_one_model(history, origins, weather)
            forced.attrs["weather"] = {"weather_used": True}
            return forced
        plain = self._predict_one_model(history, origins)
        model = self.weather_model
        status: dict = {"weather_used": False}
        if model is None:
            status["reason"] = self.weather_decision.get("reason", "no weather model")
        elif weather is None:
            status["reason"] = "no weather given for the forecast; served by the no-weather model"
        else:
            given = wf.WeatherInput.of(weather)
            covered, missing, lacking = self._origins_with_weather(
                plain, given, wf.variables_used(model.feature_names)
            )
            if covered:
                with_weather = wf.mix_forecasts(
                    model._predict_one_model(history, covered, given),
                    plain[plain["forecast_origin"].isin(covered)],
                    self.weather_mix,
                )
                # The mix's own band (fit() calibrated the weather model's quantiles on it).
                with_weather = intervals.with_band(
                    with_weather, model.interval_quantiles, self.horizon_hours
                )
                rest = plain[~plain["forecast_origin"].isin(covered)]
                plain = pd.concat([rest, with_weather], ignore_index=True)
                plain = plain.sort_values(list(FORECASTS.key), kind="stable").reset_index(drop=True)
            status["weather_used"] = bool(covered)
            status["origins_with_weather"] = len(covered)
            if missing:
                shown = ", ".join(t.strftime("%Y-%m-%dT%H:%MZ") for t in missing[:3])
                status["reason"] = (
                    f"weather ({', '.join(lacking)}) missing or incomplete for {len(missing)} "
                    f"origin(s) ({shown}{' …' if len(missing) > 3 else ''}); those came from the "
                    "no-weather model"
                )
        plain.attrs["weather"] = status
        return plain

    def _origins_with_weather(
        self, forecasts: pd.DataFrame, weather: wf.WeatherInput, variables: tuple[str, ...]
    ) -> tuple[list[pd.Timestamp], list[pd.Timestamp], list[str]]:
        """Origins (of `forecasts`) whose weather columns (`variables`) are complete for every
        area, those that are not, and the columns that are incomplete for them (the reason names
        them)."""
        origins = pd.DatetimeIndex(forecasts["forecast_origin"].unique()).sort_values()
        if len(origins) == 0:
            return [], [], []
        # The observed hours the weather inputs read before an origin (complete_at checks them).
        start = origins.min() - pd.Timedelta(hours=WEATHER_LOOKBACK_HOURS)
        n_hours = int((origins.max() - start) // _HOUR) + self.horizon_hours + 2
        areas = sorted(forecasts["area"].astype(str).unique())
        arrays = wf.WeatherArrays(weather, start, n_hours, areas)
        o = np.asarray((origins - start) // _HOUR, dtype=np.int64)
        complete = {}
        for variable in variables:
            complete[variable] = np.ones(len(o), dtype=bool)
            for i in range(len(areas)):
                a = np.full(len(o), arrays.area_index[i])
                complete[variable] &= arrays.complete_at(a, o, self.horizon_hours, (variable,))
        ok = np.logical_and.reduce(list(complete.values()))
        lacking = [v for v in variables if not complete[v].all()]
        return list(origins[ok]), list(origins[~ok]), lacking

    def _weather_arrays(self, weather, grid: _Grid, mode: str | None) -> wf.WeatherArrays:
        if weather is None:
            raise ValueError("this forecaster uses weather features: pass `weather`")
        given = wf.WeatherInput.of(weather)
        if mode is not None:
            given = given.with_mode(mode)
        return wf.WeatherArrays(given, grid.start, grid.n_calendar, [a for a, _ in grid.series])

    def _fit_weather_variant(self, consumption: pd.DataFrame, weather, grid: _Grid) -> None:
        """Decide from evidence whether predict() serves a weather model (weather_features.decide).

        Enough weather history in the window, then a holdout of the last WEATHER_HOLDOUT_DAYS
        daily origins (longer than the shape blend's 7: one week of Christmas would decide the
        whole winter otherwise): a model with and one without weather, both
        trained before it with the shape blend each serves with, forecast it (with the weather
        given: the issued forecasts of a WEATHER table, or offline the observations), the weather
        one scored as it would serve (mixed with the no-weather forecast, wf.WEATHER_MIX). Only a
        weather model that wins there is trained on the whole window and kept.
        """
        given = wf.WeatherInput.of(weather)
        self.weather_mix = wf.WEATHER_MIX
        history_days = given.history_days(grid.start, grid.end)
        if history_days < wf.WEATHER_MIN_HISTORY_DAYS:
            self.weather_decision = wf.decide(history_days, None, None)
            return
        origins = self._holdout_origins(grid, wf.WEATHER_HOLDOUT_DAYS)
        mape: dict[bool, float | None] = {False: None, True: None}
        mixed_points = None
        if origins:
            train = consumption[consumption["datetime_utc"] <= origins[0]]
            calibration = self._calibration
            if calibration is not None and calibration.origins == origins:
                plain = calibration.forecast  # the same model the band was calibrated with
            else:
                plain = (
                    GlobalLGBMForecaster(
                        {**self.params, "shape_blend": self.shape_blend, "calibration_days": 0},
                        horizon_hours=self.horizon_hours,
                        random_state=self.random_state,
                        num_threads=self.num_threads,
                        min_horizon_hours=self.min_horizon_hours,
                    )
                    .fit(train)
                    ._predict_one_model(consumption, origins)
                )
            weather_alone = GlobalLGBMForecaster(
                {**self.params, "shape_blend": wf.WEATHER_SHAPE_BLEND, "calibration_days": 0},
                horizon_hours=self.horizon_hours,
                random_state=self.random_state,
                num_threads=self.num_threads,
                min_horizon_hours=self.min_horizon_hours,
                use_weather=True,
            ).fit(train, given.with_mode("observed"))
            forecasts = {
                False: plain,
                # Scored as it would serve: mixed with the no-weather forecast.
                True: wf.mix_forecasts(
                    weather_alone._predict_one_model(consumption, origins, given),
                    plain,
                    wf.WEATHER_MIX,
                ),
            }
            for use, forecast in forecasts.items():
                points = _scored(forecast, consumption)
                if len(points) >= 24:
                    ape = (points["prediction"] - points["actual"]).abs()
                    mape[use] = float((ape / points["actual"]).mean())
            mixed_points = _scored(forecasts[True], consumption)
            self._weather_calibration = mixed_points
        self.weather_decision = wf.decide(history_days, mape[False], mape[True])
        if self.weather_decision["weather_used"]:
            self.weather_model = self._train_weather_model(consumption, given)
            calibration_days = int(self.params.get("calibration_days") or 0)
            if mixed_points is not None and calibration_days > 0:
                # The served forecast is the mix: its band is calibrated on the mix's residuals.
                self.weather_model.interval_quantiles = intervals.calibrated(
                    self.weather_model.interval_quantiles, mixed_points, calibration_days
                )

    def _train_weather_model(self, consumption: pd.DataFrame, weather) -> GlobalLGBMForecaster:
        """The weather model fit() keeps when the rule says yes (the backtest measures it too)."""
        given = wf.WeatherInput.of(weather)
        model = GlobalLGBMForecaster(
            {**self.params, "shape_blend": wf.WEATHER_SHAPE_BLEND},
            horizon_hours=self.horizon_hours,
            random_state=self.random_state,
            num_threads=self.num_threads,
            use_weather=True,
            min_horizon_hours=self.min_horizon_hours,
        ).fit(consumption, given.with_mode("observed"))
        # The no-weather model's calibrated intervals until fit() calibrates the mix's.
        model.interval_quantiles = dict(self.interval_quantiles)
        return model

    # ------------------------------------------------------------------ persistence
    def _metadata(self) -> dict:
        return {
            "format": MODEL_FORMAT,
            "params": self.params,
            "horizon_hours": self.horizon_hours,
            "min_horizon_hours": self.min_horizon_hours,
            "random_state": self.random_state,
            "num_threads": self.num_threads,
            "feature_names": self.feature_names,
            "series": [[a, c] for a, c in self.series],
            "areas": self.areas,
            "segments": self.segments,
            "training_start": self.training_start.isoformat()
            if self.training_start is not None
            else None,
            "training_end": self.training_end.isoformat()
            if self.training_end is not None
            else None,
            "interval_quantiles": self.interval_quantiles,
            "shape_blend": self.shape_blend,
            "shape_blend_holdout": self.shape_blend_holdout,
            "use_weather": self.use_weather,
            "weather_decision": self.weather_decision,
            "weather_mix": self.weather_mix,
            "bag_boosters": len(self.bag_boosters),
        }

    def save(self, path) -> Path:
        """Write metadata.json + model.txt (the LightGBM text model) into directory `path`."""
        if self.booster is None:
            raise RuntimeError("nothing to save: the forecaster is not fitted")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / MODEL_FILE).write_text(self.booster.model_to_string())
        (path / "metadata.json").write_text(json.dumps(self._metadata(), indent=2))
        for k, booster in enumerate(self.bag_boosters, start=1):
            (path / f"model_bag_{k}.txt").write_text(booster.model_to_string())
        if self.weather_model is not None:
            self.weather_model.save(path / WEATHER_MODEL_DIR)
        return path

    @classmethod
    def load(cls, path) -> GlobalLGBMForecaster:
        """Load a forecaster written by save(); predictions are identical to the saved one's.

        Only this MODEL_FORMAT loads: older formats named their inputs differently (the
        contract's MODEL_INPUTS, docs/decisions/0006-model-inputs.md), so they are retrained.
        """
        path = Path(path)
        meta = json.loads((path / "metadata.json").read_text())
        if meta.get("format") != MODEL_FORMAT:
            raise ValueError(
                f"{path}: a forecaster saved as {meta.get('format')!r}, this code reads "
                f"{MODEL_FORMAT!r} (the model inputs were renamed); retrain it (materialise "
                f"{FORECASTING_MODEL_ASSET})"
            )
        model = cls(
            meta["params"],
            horizon_hours=meta["horizon_hours"],
            random_state=meta["random_state"],
            num_threads=meta["num_threads"],
            use_weather=meta.get("use_weather", False),
            min_horizon_hours=int(meta.get("min_horizon_hours", 1)),
        )
        model.weather_decision = meta.get("weather_decision", model.weather_decision)
        # Saved before the mix: the weather model served alone.
        model.weather_mix = float(meta.get("weather_mix", 1.0))
        model.bag_boosters = [
            lgb.Booster(model_str=(path / f"model_bag_{k}.txt").read_text())
            for k in range(1, int(meta.get("bag_boosters", 0)) + 1)
        ]
        if (path / WEATHER_MODEL_DIR).exists():
            model.weather_model = cls.load(path / WEATHER_MODEL_DIR)
        model.feature_names = meta["feature_names"]
        model.series = [(str(a), str(c)) for a, c in meta["series"]]
        model.areas = meta["areas"]
        model.segments = [str(c) for c in meta["segments"]]
        model.training_start = pd.Timestamp(meta["training_start"])
        model.training_end = pd.Timestamp(meta["training_end"])
        model.interval_quantiles = meta["interval_quantiles"]
        model.shape_blend = float(meta.get("shape_blend", 0.0))
        model.shape_blend_holdout = meta.get("shape_blend_holdout", {})
        model.booster = lgb.Booster(model_str=(path / MODEL_FILE).read_text())
        return model

    def feature_importance(self) -> pd.DataFrame:
        """Total gain per feature, largest first."""
        if self.booster is None:
            raise RuntimeError("GlobalLGBMForecaster is not fitted; call fit() or load()")
        gain = self.booster.feature_importance(importance_type="gain")
        return (
            pd.DataFrame({"feature": self.feature_names, "gain": np.asarray(gain, dtype=float)})
            .sort_values("gain", ascending=False)
            .reset_index(drop=True)
        )
