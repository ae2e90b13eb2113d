"""The asset keys (*contract*), one constant each: jobs, sensors and `deps` select assets by these."""

from __future__ import annotations

import dagster as dg

from energy_assets import contracts, sources

RAW_CONSUMPTION = dg.AssetKey(sources.RAW_ASSET)
CONSUMPTION_FEATURES = dg.AssetKey(contracts.FEATURES.name)
FORECASTING_MODEL = dg.AssetKey(contracts.FORECASTING_MODEL_ASSET)
FORECASTS = dg.AssetKey(contracts.FORECASTS.name)
FORECAST_ACCURACY = dg.AssetKey(contracts.FORECAST_ACCURACY_ASSET)
DRIFT_REPORT = dg.AssetKey(contracts.DRIFT_REPORT_ASSET)
WEATHER = dg.AssetKey(contracts.WEATHER_ASSET)
REALTIME_LOAD = dg.AssetKey(contracts.REALTIME_LOAD.name)

ALL = (
    RAW_CONSUMPTION,
    CONSUMPTION_FEATURES,
    FORECASTING_MODEL,
    FORECASTS,
    FORECAST_ACCURACY,
    DRIFT_REPORT,
    WEATHER,
    REALTIME_LOAD,
)
