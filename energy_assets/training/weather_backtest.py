"""Backtest with and without weather on one window: what `energy-assets backtest --weather` adds.

`weather_backtest(consumption, weather, cutoff, origins)` trains on data <= cutoff and forecasts
the daily origins after it six ways, scored on the same points (those with an actual):

* `no_weather`: the forecaster without weather (what serves when the rule says no);
* `weather_observed`: the weather forecast as it would serve (the weather model mixed with the
  no-weather forecast, `weather_features.WEATHER_MIX`) given the observed weather of the target
  hours (a perfect forecast: the best a real forecast could do);
* `weather_persistence`: the same given only the weather up to the origin, the last observed
  day repeated (the floor: a useless forecast);
* `weather_simulated`: the same given a simulated day-ahead forecast, the observed weather plus
  errors of a real forecast's size (`weather_features.simulated_forecast`: an assumption, not a
  measured forecast) — where a real forecast would land;
* `weather_alone`: the weather model alone (no mix), observed weather;
* `served`: what the forecaster's evidence rule serves (`weather_decision` says which and why),
  with the observed weather as its forecast.

A real weather forecast falls between the observed and the persistence rows, near the simulated
one. Training rows
before the weather starts are kept with their weather features missing. Every variant is scored
by `backtest.score_forecasts` on the same points as the backtest (pooled MAPE, WAPE, median
per-series MAPE, the p10-p90 band's coverage and the pinball loss); `compare_weather` also
returns the served variant as the backtest's result, so `energy-assets backtest --weather`
writes and prints what it served.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from energy_assets.contracts import utc
from energy_assets.training import weather_features as wf
from energy_assets.training.backtest import BacktestResult, daily_origins, score_forecasts
from energy_assets.training.forecaster import GlobalLGBMForecaster, _Grid

VARIANTS = (
    "no_weather",
    "weather_observed",
    "weather_simulated",
    "weather_persistence",
    "weather_alone",
    "served",
)


def weather_backtest(
    consumption: pd.DataFrame,
    weather: pd.DataFrame | wf.WeatherInput,
    cutoff: Any,
    origins: int | Sequence,
    horizon_hours: int = 24,
    params: Mapping | None = None,
    random_state: int = 0,
    num_threads: int = 1,
) -> dict:
    """Metrics per variant (VARIANTS), the rule's decision, and fit / predict seconds."""
    return compare_weather(
        consumption, weather, cutoff, origins, horizon_hours, params, random_state, num_threads
    )[0]


def compare_weather(
    consumption: pd.DataFrame,
    weather: pd.DataFrame | wf.WeatherInput,
    cutoff: Any,
    origins: int | Sequence,
    horizon_hours: int = 24,
    params: Mapping | None = None,
    random_state: int = 0,
    num_threads: int = 1,
) -> tuple[dict, BacktestResult]:
    """weather_backtest's summary, and the served variant as a BacktestResult: its points and
    metrics exactly as `backtest` scores them (the JSON's top level with --weather)."""
    cutoff = utc(cutoff)
    origin_list = (
        daily_origins(cutoff, origins) if isinstance(origins, int) else [utc(o) for o in origins]
    )
    given = wf.WeatherInput.of(weather)
    observed = given.with_mode("observed")
    train = consumption[consumption["datetime_utc"] <= cutoff]
    history = consumption[consumption["datetime_utc"] <= max(origin_list)]
    seconds: dict[str, float] = {}

    started = time.perf_counter()
    model = GlobalLGBMForecaster(
        params, horizon_hours=horizon_hours, random_state=random_state, num_threads=num_threads
    ).fit(train)
    seconds["fit_no_weather"] = time.perf_counter() - started
    started = time.perf_counter()
    model._fit_weather_variant(train, observed, _Grid(train))  # the rule, as fit() runs it
    seconds["fit_weather_rule"] = time.perf_counter() - started
    weather_model = model.weather_model
    if weather_model is None:  # the rule said no: train the weather model anyway, to measure it
        started = time.perf_counter()
        weather_model = model._train_weather_model(train, observed)
        seconds["fit_weather_model"] = time.perf_counter() - started
    # The forecaster with its weather model forced in: what serving weather would give.
    forced = copy.copy(model)
    forced.weather_model = weather_model

    forecasts: dict[str, pd.DataFrame] = {}
    started = time.perf_counter()
    forecasts["no_weather"] = model.predict(history, origin_list)
    seconds["predict_no_weather"] = time.perf_counter() - started
    started = time.perf_counter()
    forecasts["weather_observed"] = forced.predict(history, origin_list, observed)
    seconds["predict_weather"] = time.perf_counter() - started
    forecasts["weather_simulated"] = forced.predict(
        history, origin_list, wf.simulated_forecast(observed, origin_list, seed=random_state)
    )
    forecasts["weather_persistence"] = forced.predict(
        history, origin_list, given.with_mode("persistence")
    )
    forecasts["weather_alone"] = weather_model.predict(history, origin_list, observed)
    started = time.perf_counter()
    forecasts["served"] = model.predict(history, origin_list, observed)
    seconds["predict_served"] = time.perf_counter() - started

    metrics = {}
    served: tuple[pd.DataFrame, dict, dict] | None = None
    for name, frame in forecasts.items():
        points, scored, field_scores = score_forecasts(consumption, frame)
        metrics[name] = scored["model"]
        if name == "served":
            served = points, scored, field_scores
    assert served is not None
    summary = {
        "cutoff": cutoff.isoformat(),
        "origins": len(origin_list),
        "weather_history_days": round(
            observed.history_days(train["datetime_utc"].min(), cutoff), 1
        ),
        "decision": model.weather_decision,
        "metrics": metrics,
        "seconds": seconds,
    }
    result = BacktestResult(
        predictions=served[0],
        metrics=served[1],
        field_metrics=served[2],
        fit_seconds=seconds["fit_no_weather"] + seconds["fit_weather_rule"],
        predict_seconds=seconds["predict_served"],
        cutoff=cutoff,
        origins=origin_list,
        params=dict(model.params),
    )
    return summary, result


def weather_summary(result: Mapping) -> str:
    """One screen: the four variants' metrics and the rule's decision."""
    lines = [
        f"weather backtest cutoff {result['cutoff']}  origins {result['origins']}  "
        f"weather history {result['weather_history_days']} days",
        f"{'variant':<22}{'MAPE':>9}{'WAPE':>9}{'coverage 80%':>14}",
    ]
    for name in VARIANTS:
        r = result["metrics"][name]
        coverage = f"{r['coverage']:>14.1%}" if "coverage" in r else f"{'-':>14}"
        lines.append(f"{name:<22}{r['mape']:>9.2%}{r['wape']:>9.2%}{coverage}")
    decision = result["decision"]
    lines.append(
        f"rule: {'weather' if decision['weather_used'] else 'no weather'} ({decision['reason']})"
    )
    return "\n".join(lines)
