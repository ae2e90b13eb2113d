"""Weather features of the forecaster, and the rule that decides whether it uses them.

Declared once here (the names in WEATHER_FEATURES), built vectorised for rows (series s, origin
o, horizon h) of the forecaster's dense grid, target hour t = o + h:

The shipped inputs are `contracts.WEATHER_INPUTS` (names, meaning and kind, declared once there);
`weather_columns` builds each from its kind:

* `WeatherAtTarget`: the target hour's temperature as forecast at the origin.
* `WeatherPathMean`: the forecast mean over the 24 hours after the origin.
* `WeatherPathChange`: that minus the observed mean of
  the 24 hours up to the origin (days_back 0), or of the 24 hours before those (days_back 1, the
  day the lag-1d reference hours sit in). The model's target is the log-ratio to the last 24
  hours' level, so a colder coming day is the feature that moves the daily level: the part of
  the error weather can cut. The `forecasts` asset reads contracts.WEATHER_LOOKBACK_HOURS (48)
  observed hours before each origin for them.

Each kind reads one variable: the temperature, the wind speed, or the heat loss derived from both
hour by hour (`heat_loss`: (18 °C - t)+ x sqrt(wind), wind chill). The wind and heat-loss inputs
(the path means and changes, and the target hour's heat loss) were added after temperature alone
left DK2's December / January gain short of the issue's reference; they cut the MAPE at every
cutoff (0005).

Measured and dropped (docs/decisions/0005-weather.md): the difference from the lag reference
hours' temperature (t − 24·ceil(h/24), t − 168), heating degree hours (17 °C base, of the target
hour or the coming day), the coming day's min / max, the observed mean of the last 24 hours, its
change over a week, and a 24 h / 72 h exponentially smoothed temperature carried through the
forecast: each made DK2's winter cutoffs worse or no better; `all_weather_columns` still builds
them, by name, for such ablations.

No look-ahead: observed values are read only at hours <= o; target-hour values come from the
forecast issued at o. In training the forecast is the weather observed at each target hour (the
known history; a perfect forecast); in prediction it is the forecast issued at the origin
(`WeatherInput.issued`; offline the observations stand in: `WeatherInput.observed`), or for
measurement a persistence forecast (`WeatherInput.persistence`: the last observed day, repeated).

Pure numpy / pandas, no import of the forecaster (it imports this module).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from energy_assets.contracts import (
    HEAT_LOSS,
    HEAT_LOSS_BASE_C,
    TEMPERATURE,
    WEATHER_DERIVED,
    WEATHER_INPUTS,
    WEATHER_LEAD_HOURS,
    WEATHER_LOOKBACK_HOURS,
    WEATHER_MODEL_VARIABLES,
    WEATHER_VALUE_COLUMNS,
    WIND_SPEED,
    WeatherAtTarget,
    WeatherPathChange,
    WeatherPathMean,
    weather_columns_read,
)
from energy_assets.ingestion.weather_files import issue_rows, weather_area

WEATHER_FEATURES = tuple(spec.name for spec in WEATHER_INPUTS)  # declared in the contract
HEATING_BASE_C = 17.0
# The evidence rule (see `decide`): enough weather history in the training window, so every
# season has been seen, and a holdout gain of at least this fraction of the no-weather MAPE.
WEATHER_MIN_HISTORY_DAYS = 365
WEATHER_MIN_GAIN = 0.01
# Daily origins of that holdout (a 7-day holdout over Christmas rejected weather in a winter
# where it helps by 6 %: one odd week must not decide).
WEATHER_HOLDOUT_DAYS = 21
# The weather model's weekly-shape blend weight: 0, the trees alone (measured on DK2: the weather
# model with the no-weather model's blend scored 3.32 % at Jan 2024, alone 3.12 %).
WEATHER_SHAPE_BLEND = 0.0
# The weather model is the mean of WEATHER_BAG boosters, each trained on its own sample of
# max_train_rows rows (its temperature splits rest on the quarter of rows with weather, so one
# booster's forecast is noisy), and it serves mixed with the no-weather forecast:
# WEATHER_MIX x weather + (1 - WEATHER_MIX) x no weather. Measured on DK2 (0005): the bag of
# three cut MAPE at every winter cutoff; the weather model alone lost at Dec 2023 (it overshoots
# the first cold days), mixed 0.5-0.75 it gains at all four; 0.6 keeps Dec's gain with a margin
# and gives up little of Jan's (chosen on those cutoffs: tuned in-sample, see 0005).
WEATHER_BAG = 3
WEATHER_MIX = 0.6
_HOUR = pd.Timedelta(hours=1)
MODES = ("issued", "observed", "persistence")
# A day-ahead forecast's error, simulated for measurement only (`simulated_forecast`): its standard
# deviation at lead 1 and at lead 24 (linear between) per variable, correlated from one lead to the
# next. An assumption about a real forecast's skill at a point (day-ahead temperature errors of
# 1-2 °C, wind 1.5-2 m/s), not a measurement: a national mean's errors are smaller.
SIMULATED_ERROR_SD = {TEMPERATURE: (0.5, 1.5), WIND_SPEED: (0.5, 2.0)}
SIMULATED_ERROR_CORRELATION = 0.95
_SIMULATED_DAY_LEADS = 24  # SIMULATED_ERROR_SD's second value is the sd at this lead
# The issued forecasts the weather model reads reach this far: its horizon (FORECAST_HORIZON_HOURS);
# the WEATHER table's longer leads (WEATHER_LEAD_HOURS) serve the products, not this model.
MODEL_WEATHER_LEADS = 24


@dataclass(frozen=True)
class WeatherInput:
    """Hourly weather per weather area, and how forecasts at an origin are made from it.

    observed: frame with `datetime_utc` (UTC), `area`, `temperature_c` and those of the other
    WEATHER_MODEL_VARIABLES (wind speed) the source has: what was observed.
    mode: "observed" (the forecast at o for t is what was observed at t: training, and the
    offline stand-in), "persistence" (the last 24 observed hours repeated), or "issued" (the
    WEATHER table's leads 1..24 issued at o, in `issues`).
    """

    observed: pd.DataFrame
    mode: str = "observed"
    issues: pd.DataFrame | None = None

    @classmethod
    def from_frame(cls, weather: pd.DataFrame, mode: str | None = None) -> WeatherInput:
        """A WEATHER table (issued_utc, lead_hours, ...) -> "issued" (its lead-0 rows are the
        observations); an hourly frame (datetime_utc, area, temperature_c) -> `mode` or
        "observed"."""
        columns = [
            "datetime_utc",
            "area",
            *(v for v in WEATHER_MODEL_VARIABLES if v in weather.columns or v == TEMPERATURE),
        ]
        if "issued_utc" in weather.columns:
            lead0 = weather[weather["lead_hours"] == 0]
            return cls(lead0[columns].reset_index(drop=True), mode or "issued", weather)
        missing = [c for c in columns if c not in weather]
        if missing:
            raise ValueError(f"weather frame lacks columns {missing}")
        if mode == "issued":
            raise ValueError("mode 'issued' needs a WEATHER table (issued_utc, lead_hours)")
        return cls(weather[columns], mode or "observed")

    @classmethod
    def of(cls, weather: pd.DataFrame | WeatherInput) -> WeatherInput:
        """`weather` itself when it is a WeatherInput, else `from_frame(weather)`."""
        return weather if isinstance(weather, WeatherInput) else cls.from_frame(weather)

    def with_mode(self, mode: str) -> WeatherInput:
        if mode not in MODES:
            raise ValueError(f"weather mode {mode!r} is not one of {MODES}")
        return WeatherInput(self.observed, mode, self.issues)

    def areas(self) -> list[str]:
        return sorted(self.observed["area"].astype(str).unique())

    def history_days(self, start: pd.Timestamp, end: pd.Timestamp) -> float:
        """Days of observed temperature inside [start, end]."""
        times = pd.to_datetime(self.observed["datetime_utc"], utc=True)
        inside = (times >= start) & (times <= end) & self.observed["temperature_c"].notna()
        return float(times[inside].nunique()) / 24.0


def simulated_forecast(weather: WeatherInput, origins, seed: int = 0) -> WeatherInput:
    """An "issued" WeatherInput whose forecast at each of `origins` is the observed weather of
    leads 1..WEATHER_LEAD_HOURS plus a random error (SIMULATED_ERROR_SD, growing with the lead,
    AR(1) across leads; wind floored at 0); the hours up to each origin stay observed. For the
    backtest's middle row between a perfect forecast (observed) and a useless one (persistence).

    Leads 1..24 are drawn exactly as when the table stopped at 24 (same generator, same order,
    same sd); the longer leads continue each path (AR(1)) with shocks from a second generator
    and the sd's line continued at its slope (temperature 2.5 °C, wind 3.6 m/s at 48 h)."""
    observed = weather.observed
    stamps = pd.DatetimeIndex([pd.Timestamp(o) for o in origins])
    # The value columns the source lacks come out missing (the observed frame holds the model's).
    hourly = observed.reindex(columns=["datetime_utc", "area", *WEATHER_VALUE_COLUMNS])
    hourly["datetime_utc"] = pd.to_datetime(hourly["datetime_utc"], utc=True)
    table = issue_rows(hourly, stamps)  # ordered origin, area, lead: blocks of n_l rows
    n_l = WEATHER_LEAD_HOURS + 1
    day = min(n_l, _SIMULATED_DAY_LEADS + 1)  # leads 0..24: drawn as they always were
    rng = np.random.default_rng(seed)
    beyond = np.random.default_rng([seed, _SIMULATED_DAY_LEADS])  # leads 25..: their own draws
    rho = SIMULATED_ERROR_CORRELATION
    for variable, (first, last) in SIMULATED_ERROR_SD.items():
        n_blocks = len(table) // n_l
        shocks = np.hstack(
            [rng.standard_normal((n_blocks, day)), beyond.standard_normal((n_blocks, n_l - day))]
        )
        path = np.zeros_like(shocks)  # lead 0 is the observation: no error
        path[:, 1] = shocks[:, 1]  # then unit variance at every lead, correlated rho
        for k in range(2, n_l):
            path[:, k] = rho * path[:, k - 1] + np.sqrt(1 - rho**2) * shocks[:, k]
        # sd: first at lead 1 to last at lead 24 (linspace, as always), the line continued beyond
        slope = (last - first) / (_SIMULATED_DAY_LEADS - 1)
        further = first + slope * np.arange(day - 1, n_l - 1)
        sd = np.concatenate([[0.0], np.linspace(first, last, day - 1), further])
        error = (path * sd).ravel()
        noisy = table[variable].to_numpy(dtype=float) + error
        table[variable] = np.clip(noisy, 0, None) if variable == WIND_SPEED else noisy
    return WeatherInput(observed, "issued", table)


class WeatherArrays:
    """A WeatherInput on a grid's hour axis: obs(a, t) and forecast(a, o, lead) per variable
    (WEATHER_MODEL_VARIABLES; one the source lacks reads as missing)."""

    def __init__(self, weather: WeatherInput, start: pd.Timestamp, n_hours: int, areas: list[str]):
        available = weather.areas()
        self.start, self.n_hours, self.mode = start, n_hours, weather.mode
        names = [weather_area(a, available) for a in areas]
        self.series_area = {a: n for a, n in zip(areas, names, strict=True)}
        self.names = sorted({n for n in names if n is not None})
        index = {n: i for i, n in enumerate(self.names)}
        self.area_index = np.array([index.get(n, -1) if n else -1 for n in names], dtype=np.int64)
        variables = [v for v in WEATHER_MODEL_VARIABLES if v in weather.observed.columns]
        self.grids = {
            v: self._on_grid(weather.observed, "datetime_utc", index, v) for v in variables
        }
        self._derive(self.grids)
        self.observed = self.grids[TEMPERATURE]
        self._ewm: dict[float, np.ndarray] = {}
        self.issued: dict[str, np.ndarray] | None = None
        if weather.mode == "issued" and weather.issues is not None:
            self.issued = {
                v: self._issued_on_grid(weather.issues, index, v)
                for v in variables
                if v in weather.issues.columns
            }
            self._derive(self.issued)

    @staticmethod
    def _derive(grids: dict[str, np.ndarray]) -> None:
        """Add the WEATHER_DERIVED variables whose sources are all there."""
        if all(v in grids for v in WEATHER_DERIVED[HEAT_LOSS]):
            grids[HEAT_LOSS] = heat_loss(*(grids[v] for v in WEATHER_DERIVED[HEAT_LOSS]))

    def _hour_index(self, times: pd.Series) -> np.ndarray:
        stamps = pd.to_datetime(times, utc=True)
        return np.asarray((stamps - self.start) // _HOUR, dtype=np.int64)

    def _on_grid(
        self, frame: pd.DataFrame, time_column: str, index: dict, variable: str
    ) -> np.ndarray:
        out = np.full((max(len(self.names), 1), self.n_hours), np.nan)
        t = self._hour_index(frame[time_column])
        a = frame["area"].astype(str).map(index).to_numpy()
        ok = (t >= 0) & (t < self.n_hours) & pd.notna(a)
        out[a[ok].astype(np.int64), t[ok]] = frame[variable].to_numpy(dtype=float)[ok]
        return out

    def _issued_on_grid(self, issues: pd.DataFrame, index: dict, variable: str) -> np.ndarray:
        # issued[a, o, lead]: only origins in the grid (a forecast run's few origins).
        out = np.full((max(len(self.names), 1), self.n_hours, MODEL_WEATHER_LEADS + 1), np.nan)
        o = self._hour_index(issues["issued_utc"])
        a = issues["area"].astype(str).map(index).to_numpy()
        lead = issues["lead_hours"].to_numpy(dtype=np.int64)
        ok = (o >= 0) & (o < self.n_hours) & pd.notna(a) & (lead <= MODEL_WEATHER_LEADS)
        out[a[ok].astype(np.int64), o[ok], lead[ok]] = issues[variable].to_numpy(dtype=float)[ok]
        return out

    def obs(self, a: np.ndarray, t: np.ndarray, variable: str = TEMPERATURE) -> np.ndarray:
        out = np.full(t.shape, np.nan)
        grid = self.grids.get(variable)
        if grid is None:  # the source does not have it
            return out
        ok = (a >= 0) & (t >= 0) & (t < self.n_hours)
        out[ok] = grid[a[ok], t[ok]]
        return out

    def forecast(
        self, a: np.ndarray, o: np.ndarray, lead: np.ndarray, variable: str = TEMPERATURE
    ) -> np.ndarray:
        """`variable` at o + lead as forecast at origin o (lead 1..24)."""
        if self.mode == "observed":
            return self.obs(a, o + lead, variable)
        if self.mode == "persistence":  # the last observed day, repeated
            return self.obs(a, o - 24 + ((lead - 1) % 24) + 1, variable)
        issued = (self.issued or {}).get(variable)
        if issued is None:
            return np.full(o.shape, np.nan)
        ok = (a >= 0) & (o >= 0) & (o < self.n_hours) & (lead <= MODEL_WEATHER_LEADS)
        out = np.full(o.shape, np.nan)
        out[ok] = issued[a[ok], o[ok], lead[ok]]
        return out

    def path_values(self, a: np.ndarray, o: np.ndarray, variable: str = TEMPERATURE) -> np.ndarray:
        """The forecast issued at o for leads 1..24, shape (24, rows)."""
        return np.vstack([self.forecast(a, o, np.full(o.shape, k), variable) for k in range(1, 25)])

    def observed_ewm(self, halflife_hours: float) -> np.ndarray:
        """Exponentially weighted mean of the observed temperature at each hour (hours <= t only)."""
        key = float(halflife_hours)
        if key not in self._ewm:
            frame = pd.DataFrame(self.observed.T)
            self._ewm[key] = frame.ewm(halflife=key, ignore_na=True).mean().to_numpy().T
        return self._ewm[key]

    def observed_ewm_at(self, a: np.ndarray, t: np.ndarray, halflife_hours: float) -> np.ndarray:
        ok = (a >= 0) & (t >= 0) & (t < self.n_hours)
        out = np.full(t.shape, np.nan)
        out[ok] = self.observed_ewm(halflife_hours)[a[ok], t[ok]]
        return out

    def smoothed_target(
        self, a: np.ndarray, o: np.ndarray, h: np.ndarray, halflife_hours: float
    ) -> np.ndarray:
        """The observed EWM at the origin carried through the forecast up to the target hour."""
        decay = 0.5 ** (1.0 / halflife_hours)
        value = self.observed_ewm_at(a, o, halflife_hours)
        for k in range(1, int(h.max(initial=0)) + 1):
            step = h >= k
            f = self.forecast(a, o, np.full(o.shape, k))
            value = np.where(step, decay * value + (1 - decay) * f, value)
        return value

    def observed_mean(
        self, a: np.ndarray, o: np.ndarray, variable: str = TEMPERATURE
    ) -> np.ndarray:
        values = np.vstack([self.obs(a, o - k, variable) for k in range(24)])
        return values.mean(axis=0)

    def complete_at(
        self,
        a: np.ndarray,
        o: np.ndarray,
        horizon_hours: int,
        variables: tuple[str, ...] = (TEMPERATURE,),
    ) -> np.ndarray:
        """Whether every weather value the features of origin o read is there (per row), for
        each of `variables`: the WEATHER_LOOKBACK_HOURS observed hours up to o and the forecast
        for the next hours."""
        ok = np.ones(o.shape, dtype=bool)
        for variable in variables:
            # The coming 24 hours (the path inputs and every target hour up to 24) ...
            ok &= np.isfinite(self.path_values(a, o, variable)).all(axis=0)
            for k in range(25, horizon_hours + 1):  # ... and the target hours beyond them
                ok &= np.isfinite(self.forecast(a, o, np.full(o.shape, k), variable))
            for day in range(WEATHER_LOOKBACK_HOURS // 24):
                # NaN if any hour is missing
                ok &= np.isfinite(self.observed_mean(a, o - 24 * day, variable))
        return ok


def heat_loss(temperature_c: np.ndarray, wind_speed_ms: np.ndarray) -> np.ndarray:
    """contracts.HEAT_LOSS: max(HEAT_LOSS_BASE_C - temperature, 0) x sqrt(wind speed)."""
    return np.clip(HEAT_LOSS_BASE_C - temperature_c, 0, None) * np.sqrt(
        np.clip(wind_speed_ms, 0, None)
    )


def variables_used(feature_names) -> tuple[str, ...]:
    """The WEATHER value columns a model with these feature names reads (temperature at least; a
    derived variable by its sources, contracts.weather_columns_read): what complete_at checks
    before the model serves an origin."""
    names = set(feature_names)
    used = weather_columns_read(spec for spec in WEATHER_INPUTS if spec.name in names)
    return tuple(dict.fromkeys((TEMPERATURE, *used)))


def weather_columns(
    arrays: WeatherArrays, series_areas: np.ndarray, o: np.ndarray, h: np.ndarray
) -> dict[str, np.ndarray]:
    """The WEATHER_FEATURES columns for rows (series area index, origin o, horizon h)."""
    return all_weather_columns(arrays, series_areas, o, h, WEATHER_FEATURES)


def all_weather_columns(
    arrays: WeatherArrays,
    series_areas: np.ndarray,
    o: np.ndarray,
    h: np.ndarray,
    names: tuple[str, ...] | None = None,
) -> dict[str, np.ndarray]:
    """Weather feature columns by name: `names` (default every feature tried, the dropped ones
    included, for ablations; see the module docstring). Only the named ones are computed."""
    a = arrays.area_index[series_areas]
    t = o + h
    k1 = np.ceil(h / 24).astype(np.int64)
    cache: dict[str, np.ndarray] = {}

    def once(key: str, make) -> np.ndarray:
        if key not in cache:
            cache[key] = make()
        return cache[key]

    def target(variable: str = TEMPERATURE) -> np.ndarray:
        return once(f"target {variable}", lambda: arrays.forecast(a, o, h, variable))

    def path(variable: str = TEMPERATURE) -> np.ndarray:
        return once(f"path {variable}", lambda: arrays.path_values(a, o, variable))

    def observed_mean() -> np.ndarray:
        return once("observed_mean", lambda: arrays.observed_mean(a, o))

    def smoothed(halflife: float) -> np.ndarray:
        return once(f"ewm{halflife}", lambda: arrays.smoothed_target(a, o, h, halflife))

    def shipped(kind) -> Callable[[], np.ndarray]:
        if isinstance(kind, WeatherAtTarget):
            return lambda: target(kind.variable)
        if isinstance(kind, WeatherPathMean | WeatherPathChange) and kind.hours != 24:
            raise ValueError(f"{kind}: the weather table holds 24 hours of forecast per origin")
        if isinstance(kind, WeatherPathMean):
            return lambda: path(kind.variable).mean(axis=0)  # NaN when any hour is missing
        if isinstance(kind, WeatherPathChange):
            return lambda: (
                path(kind.variable).mean(axis=0)
                - arrays.observed_mean(a, o - 24 * kind.days_back, kind.variable)
            )
        raise ValueError(f"no weather builder for input kind {kind!r}")

    builders = {
        **{spec.name: shipped(spec.kind) for spec in WEATHER_INPUTS},
        # Measured and dropped (docs/decisions/0005-weather.md):
        "temp_diff_1d": lambda: target() - arrays.obs(a, t - 24 * k1),
        "temp_diff_7d": lambda: target() - arrays.obs(a, t - 168),
        "hdh_target": lambda: np.clip(HEATING_BASE_C - target(), 0, None),
        "hdh_path": lambda: np.clip(HEATING_BASE_C - path(), 0, None).mean(axis=0),
        "temp_path_min": lambda: path().min(axis=0),
        "temp_path_max": lambda: path().max(axis=0),
        "temp_observed_mean": observed_mean,
        "temp_change_7d": lambda: observed_mean() - arrays.observed_mean(a, o - 168),
        "temp_ewm24_target": lambda: smoothed(24.0),
        "temp_ewm72_target": lambda: smoothed(72.0),
        "temp_ewm72_change": lambda: smoothed(72.0) - arrays.observed_ewm_at(a, t - 24 * k1, 72.0),
    }
    unknown = [n for n in (names or ()) if n not in builders]
    if unknown:
        raise ValueError(f"unknown weather feature(s) {unknown}; known: {sorted(builders)}")
    return {name: builders[name]() for name in (names or tuple(builders))}


def mix_forecasts(weather: pd.DataFrame, plain: pd.DataFrame, weight: float) -> pd.DataFrame:
    """`weight` x the weather model's forecast + (1 - weight) x the no-weather model's, row by
    row on the FORECASTS key (point and quantiles alike); rows only the weather frame has keep
    its values. The weather model's temperature splits rest on the few years with weather, so
    its forecast is noisy: a share of the no-weather forecast damps that (measured in 0005)."""
    if weight >= 1.0:
        return weather
    key = ["forecast_origin", "area", "segment", "horizon_hours"]
    columns = [c for c in ("prediction", "p10", "p50", "p90") if c in weather.columns]
    other = weather[key].merge(plain[key + columns], on=key, how="left")
    out = weather.copy()
    for column in columns:
        theirs = other[column].to_numpy(dtype=float)
        mine = out[column].to_numpy(dtype=float)
        out[column] = np.where(np.isfinite(theirs), weight * mine + (1 - weight) * theirs, mine)
    if "prediction_lower" in out.columns and "p10" in out.columns:
        out["prediction_lower"] = out["p10"]
        out["prediction_upper"] = out["p90"]
    return out


def decide(
    history_days: float,
    no_weather_mape: float | None,
    weather_mape: float | None,
    min_history_days: float | None = None,
    min_gain: float | None = None,
) -> dict:
    """Whether the forecaster serves its weather model: numbers in, decision and reason out.

    Weather serves only when the training window holds at least `min_history_days` of weather
    (every season seen, so the model has learnt how consumption answers the temperature rather
    than a few weeks' coincidences) AND on the fit's own holdout the weather model's pooled MAPE
    is at least `min_gain` (relative) below the no-weather model's. Defaults: the module's
    WEATHER_MIN_HISTORY_DAYS and WEATHER_MIN_GAIN.
    """
    if min_history_days is None:
        min_history_days = WEATHER_MIN_HISTORY_DAYS
    if min_gain is None:
        min_gain = WEATHER_MIN_GAIN
    if history_days < min_history_days:
        return {
            "weather_used": False,
            "reason": (
                f"only {history_days:.0f} days of weather in the training window; the weather "
                f"model needs {min_history_days:.0f} (every season) before it may serve"
            ),
            "weather_history_days": round(history_days, 1),
        }
    if no_weather_mape is None or weather_mape is None:
        return {
            "weather_used": False,
            "reason": "no holdout to compare the weather and no-weather models on",
            "weather_history_days": round(history_days, 1),
        }
    used = weather_mape <= (1 - min_gain) * no_weather_mape
    verdict = "beats" if used else "does not beat"
    return {
        "weather_used": bool(used),
        "reason": (
            f"on the fit's holdout the weather model's MAPE {weather_mape:.2%} {verdict} the "
            f"no-weather model's {no_weather_mape:.2%} by the required {min_gain:.0%}"
        ),
        "weather_history_days": round(history_days, 1),
        "holdout_mape_no_weather": no_weather_mape,
        "holdout_mape_weather": weather_mape,
    }
