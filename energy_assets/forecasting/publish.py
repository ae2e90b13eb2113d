"""Publishing forecasts: check the history covers every origin, forecast with the champion, and
keep a copy of the newest origin at a fixed path for the programs that read the bucket.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from energy_assets.contracts import CLEAN_COLUMNS, FORECASTS, SERIES_KEYS, hour_text
from energy_assets.features.plausibility import without_implausible

if TYPE_CHECKING:
    from energy_assets.storage.parquet_store import ParquetStore
    from energy_assets.training.forecaster import GlobalLGBMForecaster

# Written as {storage}/forecasts/latest/data.parquet: what a web app reads.
LATEST_FORECAST_ASSET = f"{FORECASTS.name}/latest"


def origin_coverage_problems(history: pd.DataFrame, origins: pd.DatetimeIndex) -> list[str]:
    """Origins whose own hour has no features at all (not materialised, or blocked by a check).

    A series missing at an origin while others are there is not a problem here: it was retired
    or has a gap, and `absent_series` names it; the others are forecast (the series catalogue
    check says what to do about it)."""
    present = set(history["datetime_utc"].unique())
    return [f"{hour_text(origin)} has no series" for origin in origins if origin not in present]


def absent_series(history: pd.DataFrame, origins: pd.DatetimeIndex) -> dict[tuple[str, str], int]:
    """Series in `history` that lack their row at some of `origins`: (area, segment) → how many.
    They are not forecast in that run (their newest value would be stale)."""
    at_origins = history[history["datetime_utc"].isin(origins)]
    counts = at_origins.groupby(SERIES_KEYS, observed=True)["datetime_utc"].nunique()
    n_origins = int(at_origins["datetime_utc"].nunique())
    seen = {(str(a), str(s)): int(n) for (a, s), n in counts.items()}
    every = history[SERIES_KEYS].drop_duplicates().itertuples(index=False)
    absent = {(str(a), str(s)): n_origins - seen.get((str(a), str(s)), 0) for a, s in every}
    return {key: n for key, n in sorted(absent.items()) if n > 0}


def drop_absent(predictions: pd.DataFrame, absent: dict[tuple[str, str], int]) -> pd.DataFrame:
    """`predictions` without the `absent` series (from every origin of the run: the forecasts'
    check wants the same series at each origin, and a range run then stays one consistent set)."""
    keys = pd.MultiIndex.from_frame(predictions[SERIES_KEYS].astype(str))
    gone = pd.MultiIndex.from_tuples(list(absent), names=SERIES_KEYS)
    return predictions[~keys.isin(gone)].reset_index(drop=True)


def forecast_origins(
    features: pd.DataFrame,
    origins: pd.DatetimeIndex,
    forecaster: GlobalLGBMForecaster,
    model_version: str,
    weather: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The FORECASTS rows for `origins` from the CLEAN columns of `features` (read up to each
    origin only), tagged with the model version. A value the plausibility check flagged
    (`implausible_value`) is read as missing: the forecaster treats it like a gap. `weather`
    (WEATHER rows) is used only where the forecaster serves a weather model;
    `attrs["weather"]` says whether it was used."""
    history = without_implausible(features)[CLEAN_COLUMNS]
    predictions = forecaster.predict(history, origins=list(origins), weather=weather)
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
