"""Weather in monitoring: the observed weather beside feature rows (so the drift report compares
it too) and forecast accuracy split by temperature band. No Dagster.

`weather` here is a WEATHER table (its lead-0 rows are the observations) or an hourly frame
(datetime_utc, area, temperature_c, ...); a price area without its own weather reads the
national one (DK).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_assets import metrics
from energy_assets.ingestion.weather_files import observed, weather_area

# The observed columns the drift report compares (the wind direction's sine / cosine say little).
DRIFT_WEATHER_COLUMNS = ("temperature_c", "wind_speed_ms", "radiation_wm2")
# Temperature bands (°C) accuracy is split by: left-closed, the ends open.
TEMPERATURE_BANDS = (-np.inf, 0.0, 5.0, 10.0, 15.0, 20.0, np.inf)


def _hourly(weather: pd.DataFrame) -> pd.DataFrame:
    return observed(weather) if "lead_hours" in weather.columns else weather


def with_weather(frame: pd.DataFrame, weather: pd.DataFrame | None) -> pd.DataFrame:
    """`frame` (rows with datetime_utc, area) plus the observed DRIFT_WEATHER_COLUMNS of the
    row's hour and area (NaN where there is none). Unchanged when weather is None or empty."""
    if weather is None or len(weather) == 0 or len(frame) == 0:
        return frame
    hourly = _hourly(weather)
    available = sorted(hourly["area"].astype(str).unique())
    areas = frame["area"].astype(str)
    lookup = pd.DataFrame(
        {
            "datetime_utc": pd.to_datetime(frame["datetime_utc"], utc=True),
            "_weather_area": areas.map({a: weather_area(a, available) for a in areas.unique()}),
        },
        index=frame.index,
    )
    values = hourly[["datetime_utc", "area", *DRIFT_WEATHER_COLUMNS]].rename(
        columns={"area": "_weather_area"}
    )
    values = values.assign(datetime_utc=pd.to_datetime(values["datetime_utc"], utc=True))
    values = values.drop_duplicates(["datetime_utc", "_weather_area"], keep="last")
    joined = lookup.merge(values, on=["datetime_utc", "_weather_area"], how="left")
    out = frame.copy()
    for column in DRIFT_WEATHER_COLUMNS:
        out[column] = joined[column].to_numpy(dtype="float64")
    return out


def accuracy_by_temperature_band(
    scored: pd.DataFrame, weather: pd.DataFrame | None
) -> pd.DataFrame:
    """MAPE / WAPE of scored forecast points (prediction, actual, datetime_utc, area) per band
    of the observed temperature at the target hour: band, n_points, mape, wape. Points without
    an observed temperature are in band "unknown". Empty when nothing is scored."""
    columns = ["band", "n_points", "mape", "wape"]
    if len(scored) == 0 or weather is None or len(weather) == 0:
        return pd.DataFrame(columns=columns)
    points = with_weather(scored, weather)
    labels = [
        f"{lo:g}…{hi:g} °C".replace("-inf…", "< ").replace("…inf", " ≥")
        for lo, hi in zip(TEMPERATURE_BANDS[:-1], TEMPERATURE_BANDS[1:], strict=True)
    ]
    bands = pd.cut(points["temperature_c"], TEMPERATURE_BANDS, right=False, labels=labels)
    points = points.assign(band=bands.astype(object).where(bands.notna(), "unknown"))
    rows = []
    for band, group in points.groupby("band", sort=False):
        valid = group[group["actual"] > 0]
        rows.append(
            {
                "band": band,
                "n_points": len(group),
                "mape": metrics.pooled_mape(valid["actual"], valid["prediction"])
                if len(valid)
                else float("nan"),
                "wape": metrics.wape(group["actual"], group["prediction"]),
            }
        )
    order = {label: i for i, label in enumerate([*labels, "unknown"])}
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("band", key=lambda b: b.map(order)).reset_index(drop=True)
