"""Writing what the platform stores, through the project's `ParquetStore`, for the API tests:
`forecasts` origins (as the asset writes them, + forecasts/latest), consumption_features hours,
forecast_accuracy days, and the product tables (day_ahead_forecasts, intraday_forecasts) in the
shared product schema."""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_assets.contracts import hour_key
from energy_assets.forecasting.publish import publish_latest
from energy_assets.storage.parquet_store import ParquetStore


def series_list(n: int) -> list[tuple[str, str]]:
    """`n` series over DK1 / DK2 with segment codes like the DE35 ones."""
    return [("DK1" if i % 2 == 0 else "DK2", f"{100 + i}") for i in range(n)]


def forecast_frame(
    origin: pd.Timestamp, series: list[tuple[str, str]], seed: int = 0
) -> pd.DataFrame:
    """A FORECASTS partition for `origin` with awkward floats (nothing rounds to itself)."""
    rng = np.random.default_rng(seed + int(origin.timestamp()) // 3600)
    n = len(series) * 24
    prediction = rng.uniform(50, 2e6, n) / 3
    areas = np.repeat([a for a, _ in series], 24)
    segments = np.repeat([s for _, s in series], 24)
    horizons = np.tile(np.arange(1, 25), len(series))
    return pd.DataFrame(
        {
            "area": areas,
            "segment": segments,
            "forecast_origin": origin,
            "datetime_utc": origin + pd.to_timedelta(horizons, unit="h"),
            "horizon_hours": horizons.astype("int64"),
            "prediction": prediction,
            "p10": prediction * 0.9,
            "p50": prediction * 1.01,
            "p90": prediction * 1.1,
            "prediction_lower": prediction * 0.9,
            "prediction_upper": prediction * 1.1,
            "model_used": "lightgbm",
            "model_version": "3",
        }
    )


def write_forecasts(
    store: ParquetStore, origins: list[pd.Timestamp], series: list[tuple[str, str]], seed: int = 0
) -> dict[pd.Timestamp, pd.DataFrame]:
    """Each origin's partition (as the IO manager writes it) and the newest to forecasts/latest."""
    frames = {origin: forecast_frame(origin, series, seed) for origin in origins}
    for origin, frame in frames.items():
        store.write("forecasts", hour_key(origin), frame)
        publish_latest(store, frame)
    return frames


def write_actuals(
    store: ParquetStore, hours: pd.DatetimeIndex, series: list[tuple[str, str]]
) -> None:
    """consumption_features hours (CLEAN columns + the plausibility flag)."""
    rng = np.random.default_rng(7)
    frames = {}
    for hour in hours:
        frames[hour_key(hour)] = pd.DataFrame(
            {
                "datetime_utc": hour,
                "area": [a for a, _ in series],
                "segment": [s for _, s in series],
                "energy_consumption": rng.uniform(50, 2e6, len(series)) / 3,
                "implausible_value": False,
            }
        )
    store.write_many("consumption_features", frames)


def write_accuracy(store: ParquetStore, day: str, series: list[tuple[str, str]]) -> pd.DataFrame:
    """A forecast_accuracy day as `accuracy_table` writes it (overall, series, horizon rows)."""
    rows = [{"level": "overall", "n_points": 24 * len(series), "mape": 0.05, "wape": 0.04,
             "coverage": 0.8, "pinball": 10.0}]  # fmt: skip
    for i, (area, segment) in enumerate(series):
        rows.append({"level": "series", "area": area, "segment": segment, "n_points": 24,
                     "mape": 0.01 * (i + 1), "wape": 0.04, "coverage": 0.75, "pinball": 9.0})  # fmt: skip
    rows.append({"level": "horizon", "horizon_hours": 1, "n_points": len(series), "mape": 0.02,
                 "wape": 0.02, "coverage": 0.8, "pinball": 5.0})  # fmt: skip
    frame = pd.DataFrame(rows)
    store.write("forecast_accuracy", day, frame)
    return frame


PRODUCT_COLUMNS = [
    "issued_at", "area", "segment", "datetime_utc", "lead_hours", "data_origin", "prediction",
    "p10", "p50", "p90", "model_version", "quality", "quality_reason", "level_source",
    "weather_used",
]  # fmt: skip


def product_frame(
    issued_at: pd.Timestamp, targets: pd.DatetimeIndex, series: list[tuple[str, str]], seed: int = 0
) -> pd.DataFrame:
    """Rows of a product table (day_ahead_forecasts / intraday_forecasts) for one issue."""
    rng = np.random.default_rng(seed + int(issued_at.timestamp()) // 3600)
    rows = []
    for area, segment in series:
        for target in targets:
            prediction = float(rng.uniform(50, 2e6)) / 3
            rows.append(
                {
                    "issued_at": issued_at,
                    "area": area,
                    "segment": segment,
                    "datetime_utc": target,
                    "lead_hours": int((target - issued_at) / pd.Timedelta(hours=1)),
                    "data_origin": issued_at.floor("D") - pd.Timedelta(days=9),
                    "prediction": prediction,
                    "p10": prediction * 0.88,
                    "p50": prediction,
                    "p90": prediction * 1.12,
                    "model_version": "4",
                    "quality": "fallback" if segment.endswith("1") else "model",
                    "quality_reason": "short history" if segment.endswith("1") else None,
                    "level_source": "settled",
                    "weather_used": True,
                }
            )
    return pd.DataFrame(rows, columns=PRODUCT_COLUMNS)


def day_ahead_issue(issued_at: pd.Timestamp, series: list[tuple[str, str]]) -> pd.DataFrame:
    """A day-ahead issue: the 24 hours of the next Danish day (23 or 25 around DST)."""
    local = issued_at.tz_convert("Europe/Copenhagen").normalize() + pd.Timedelta(days=1)
    targets = pd.date_range(local, local + pd.Timedelta(days=1), freq="h", inclusive="left")
    return product_frame(issued_at, targets.tz_convert("UTC"), series)


def daily_shape(
    series: list[tuple[str, str]], hours: pd.DatetimeIndex, seed: int = 3
) -> pd.DataFrame:
    """Actuals with a daily cycle per series (sizes spread over two orders of magnitude)."""
    rng = np.random.default_rng(seed)
    frames = []
    for i, (area, segment) in enumerate(series):
        base = 2_000.0 * (1.6**i)
        cycle = 1 + 0.3 * np.sin(2 * np.pi * (hours.hour.to_numpy() - 9) / 24)
        noise = 1 + 0.04 * rng.standard_normal(len(hours))
        frames.append(pd.DataFrame({"datetime_utc": hours, "area": area, "segment": segment,
                                    "energy_consumption": base * cycle * noise}))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def write_dashboard_platform(
    store: ParquetStore, series: list[tuple[str, str]], end: pd.Timestamp
) -> None:
    """What a few days of the platform leave: hourly actuals up to `end`, hourly forecast origins
    over the last two days (each close to what happened, with an 80 % band), and accuracy days."""
    hours = pd.date_range(end - pd.Timedelta(days=12), end, freq="h")
    actual = daily_shape(series, hours)
    frames = {
        hour_key(hour): rows.assign(implausible_value=False).reset_index(drop=True)
        for hour, rows in actual.groupby("datetime_utc")
    }
    store.write_many("consumption_features", frames)
    truth = actual.set_index(["area", "segment", "datetime_utc"])["energy_consumption"]
    rng = np.random.default_rng(11)
    origins = pd.date_range(end - pd.Timedelta(hours=47), end - pd.Timedelta(hours=1), freq="h")
    for origin in origins:
        frame = forecast_frame(origin, series)
        future = daily_shape(series, pd.DatetimeIndex(frame["datetime_utc"].unique()), seed=5)
        level = future.set_index(["area", "segment", "datetime_utc"])["energy_consumption"]
        keys = list(zip(frame["area"], frame["segment"], frame["datetime_utc"], strict=True))
        known = [truth.get(k, level.get(k)) for k in keys]
        prediction = np.asarray(known) * (1 + 0.05 * rng.standard_normal(len(keys)))
        frame["prediction"] = prediction
        frame["p50"] = prediction
        frame["p10"] = frame["prediction_lower"] = prediction * (
            0.92 - 0.002 * frame["horizon_hours"]
        )
        frame["p90"] = frame["prediction_upper"] = prediction * (
            1.08 + 0.002 * frame["horizon_hours"]
        )
        store.write("forecasts", hour_key(origin), frame)
        publish_latest(store, frame)
    for day in pd.date_range(end - pd.Timedelta(days=10), end - pd.Timedelta(days=1), freq="D"):
        accuracy = write_accuracy(store, f"{day:%Y-%m-%d}", series)
        shift = 1 + 0.3 * np.sin(day.day)
        accuracy["mape"] = accuracy["mape"] * shift
        accuracy["coverage"] = (accuracy["coverage"] + 0.05 * np.cos(day.day)).clip(0, 1)
        store.write("forecast_accuracy", f"{day:%Y-%m-%d}", accuracy)
