"""Publishing forecasts: check the history covers every origin, forecast with the champion, and
keep a copy of the newest origin at a fixed path for the programs that read the bucket.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pandas as pd

from energy_assets.contracts import CLEAN_COLUMNS, FORECASTS, hour_text
from energy_assets.features.plausibility import with_estimates

if TYPE_CHECKING:
    from energy_assets.storage.parquet_store import ParquetStore
    from energy_assets.training.forecaster import GlobalLGBMForecaster

# Written as {storage}/forecasts/latest/data.parquet: what a web app reads.
LATEST_FORECAST_ASSET = f"{FORECASTS.name}/latest"


def origin_coverage_problems(history: pd.DataFrame, origins: pd.DatetimeIndex) -> list[str]:
    """Origins whose own hour has no features at all (not materialised, or blocked by a check).

    A series missing at an origin while others are there is not a problem here: it was retired
    or has a gap, and gets the labelled fallback (`fallback.complete_forecasts`) while it is
    expected (the series catalogue check says what to do about it)."""
    present = set(history["datetime_utc"].unique())
    return [f"{hour_text(origin)} has no series" for origin in origins if origin not in present]


def forecast_origins(
    features: pd.DataFrame,
    origins: pd.DatetimeIndex,
    forecaster: GlobalLGBMForecaster,
    model_version: str,
    weather: pd.DataFrame | None = None,
    expected: Iterable[tuple[str, str]] = (),
) -> pd.DataFrame:
    """The FORECASTS rows for `origins` from the CLEAN columns of `features` (read up to each
    origin only), tagged with the model version: every series in `features` or `expected` at
    every origin, labelled `quality` model or fallback (`fallback.complete_forecasts`). A value
    the plausibility check flagged (`implausible_value`) is read as its estimate
    (`implausible_estimate`: the same hour last week at the day's level), or as a gap where
    there is none. `weather` (WEATHER rows) is used only where the forecaster serves a
    weather model; `attrs["weather"]` says whether it was used, `attrs["fallbacks"]` counts the
    fallback series by reason."""
    from energy_assets.forecasting.fallback import complete_forecasts
    from energy_assets.training.forecaster import MIN_HISTORY_HOURS

    history = with_estimates(features)[CLEAN_COLUMNS]
    predictions = complete_forecasts(
        history,
        expected,
        list(origins),
        lambda frame, group: forecaster.predict(frame, origins=group, weather=weather),
        horizon_hours=forecaster.horizon_hours,
        min_history_hours=MIN_HISTORY_HOURS,
    )
    predictions["model_version"] = str(model_version)
    out = predictions[[c for c in FORECASTS.names if c in predictions.columns]]
    out.attrs = dict(predictions.attrs)
    return out


def publish_latest(store: ParquetStore, predictions: pd.DataFrame) -> str | None:
    """Copy the newest origin to a fixed path, unless a newer one is already there."""
    newest_origin = predictions["forecast_origin"].max()
    newest = predictions[predictions["forecast_origin"] == newest_origin].reset_index(drop=True)
    try:
        current = store.read(LATEST_FORECAST_ASSET, None)
        if len(current) and current["forecast_origin"].max() > newest_origin:
            return None
    except FileNotFoundError:
        pass
    return store.write(LATEST_FORECAST_ASSET, None, newest)
