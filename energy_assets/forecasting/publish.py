"""Publishing forecasts: check the history covers every origin, forecast with the champion, and
keep a copy of the newest origin at a fixed path for the programs that read the bucket.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from energy_assets.contracts import CLEAN_COLUMNS, FORECASTS, SERIES_KEYS, hour_text

if TYPE_CHECKING:
    from energy_assets.storage.parquet_store import ParquetStore
    from energy_assets.training.forecaster import GlobalLGBMForecaster

# Written as {storage}/forecasts/latest/data.parquet: what a web app reads.
LATEST_FORECAST_ASSET = f"{FORECASTS.name}/latest"


def origin_coverage_problems(history: pd.DataFrame, origins: pd.DatetimeIndex) -> list[str]:
    """Origins whose own hour is missing for some series (not materialised, or blocked by a check)."""
    present = history.groupby("datetime_utc")[SERIES_KEYS].size()
    n_series = history[SERIES_KEYS].drop_duplicates().shape[0]
    problems = []
    for origin in origins:
        count = int(present.get(origin, 0))
        if count < n_series:
            problems.append(f"{hour_text(origin)} has {count}/{n_series} series")
    return problems


def forecast_origins(
    features: pd.DataFrame,
    origins: pd.DatetimeIndex,
    forecaster: GlobalLGBMForecaster,
    model_version: str,
    weather: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The FORECASTS rows for `origins` from the CLEAN columns of `features` (read up to each
    origin only), tagged with the model version. `weather` (WEATHER rows) is used only where
    the forecaster serves a weather model; `attrs["weather"]` says whether it was used."""
    predictions = forecaster.predict(
        features[CLEAN_COLUMNS], origins=list(origins), weather=weather
    )
    predictions["model_version"] = str(model_version)
    return predictions


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
