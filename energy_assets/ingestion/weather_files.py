"""Weather files and the `weather` table built from hourly values; no Dagster.

`read_weather_file(path)` reads either DMI's national hourly means as in
`energy_assets/data/weather_dmi_national_hourly.csv.gz` (columns `Datetime`, `mean_temp`,
`mean_wind_speed`, `mean_radiation`, `wind_dir_sin`, `wind_dir_cos`) or an Open-Meteo answer
saved as JSON (`hourly` arrays), and returns the hourly frame `OpenMeteoApi.fetch_hours` returns:
`datetime_utc` (UTC), `area` (DK for DMI's national means), `temperature_c`, `wind_speed_ms`,
`radiation_wm2`, `wind_dir_sin`, `wind_dir_cos`.

`issue_table(hourly, start, end)` turns such a frame into WEATHER rows: for each issue hour H in
[start, end) and area, lead 0 (the value at H) and leads 1..48 (WEATHER_LEAD_HOURS: the values for H+1..H+48 as the
source gave them when asked at H). Offline, the source's "forecast" is the observation itself: a
perfect forecast, which overstates what a real forecast is worth (docs/decisions/0005-weather.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from energy_assets.contracts import (
    NATIONAL_AREA,
    WEATHER,
    WEATHER_LEAD_HOURS,
    WEATHER_VALUE_COLUMNS,
    InputError,
)

DMI_COLUMNS = {
    "mean_temp": "temperature_c",
    "mean_wind_speed": "wind_speed_ms",
    "mean_radiation": "radiation_wm2",
    "wind_dir_sin": "wind_dir_sin",
    "wind_dir_cos": "wind_dir_cos",
}
DMI_SAMPLE_NAME = "weather_dmi_national_hourly.csv.gz"


def read_weather_file(path: str | Path) -> pd.DataFrame:
    """Hourly weather from a DMI CSV (national means, area DK) or an Open-Meteo JSON answer.

    Raises InputError (one line: the file, what is wrong, what to do) for a missing file, missing
    columns or times that do not parse.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"weather file {path} does not exist")
    if path.suffix == ".json":
        from energy_assets.ingestion.weather_api import parse_hourly

        try:
            document = json.loads(path.read_text())
        except ValueError as error:
            raise InputError(f"weather file {path} is not JSON ({error})") from None
        try:
            return parse_hourly(document, NATIONAL_AREA, str(path))
        except RuntimeError as error:
            raise InputError(str(error)) from None
    frame = pd.read_csv(path)
    missing = [c for c in ("Datetime", *DMI_COLUMNS) if c not in frame.columns]
    if missing:
        raise InputError(
            f"weather file {path} has no {', '.join(missing)} column(s) (columns are "
            f"{list(frame.columns)}); give DMI's hourly national means or an Open-Meteo JSON answer"
        )
    try:
        times = pd.to_datetime(frame["Datetime"], utc=True, format="ISO8601")
    except (ValueError, TypeError):
        raise InputError(f"weather file {path}: column Datetime has unparseable times") from None
    out = pd.DataFrame({"datetime_utc": times.dt.floor("h"), "area": NATIONAL_AREA})
    for source, column in DMI_COLUMNS.items():
        out[column] = pd.to_numeric(frame[source], errors="coerce").astype("float64")
    return out.sort_values("datetime_utc", kind="stable").reset_index(drop=True)


def issue_table(hourly: pd.DataFrame, start, end) -> pd.DataFrame:
    """WEATHER rows for the issue hours [start, end): lead 0..WEATHER_LEAD_HOURS per (issue hour, area).

    `hourly` must cover [start, end + WEATHER_LEAD_HOURS h); an hour it lacks gives NaN values in the rows that
    need it (the weather checks then block them). Vectorised: one merge, no loop over hours.
    """
    issued = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="h", inclusive="left")
    return issue_rows(hourly, issued)


def issue_rows(hourly: pd.DataFrame, issued: pd.DatetimeIndex) -> pd.DataFrame:
    """WEATHER rows for the given issue hours (any, not only a range): lead 0..WEATHER_LEAD_HOURS per (issue
    hour, area), ordered issue hour, area, lead; values from `hourly` as in `issue_table`."""
    if issued.tz is None:
        issued = issued.tz_localize("UTC")
    areas = sorted(hourly["area"].astype(str).unique()) or [NATIONAL_AREA]
    leads = np.arange(WEATHER_LEAD_HOURS + 1)
    n_i, n_a, n_l = len(issued), len(areas), len(leads)
    grid = pd.DataFrame(
        {
            "issued_utc": np.repeat(issued.to_numpy(), n_a * n_l),
            "area": np.tile(np.repeat(np.array(areas, dtype=object), n_l), n_i),
            "lead_hours": np.tile(leads, n_i * n_a).astype("int64"),
        }
    )
    grid["issued_utc"] = pd.to_datetime(grid["issued_utc"], utc=True)
    grid["datetime_utc"] = grid["issued_utc"] + pd.to_timedelta(grid["lead_hours"], unit="h")
    values = hourly.drop_duplicates(["datetime_utc", "area"], keep="last")
    table = grid.merge(
        values[["datetime_utc", "area", *WEATHER_VALUE_COLUMNS]],
        on=["datetime_utc", "area"],
        how="left",
    )
    return table[WEATHER.names].reset_index(drop=True)


def weather_area(area: str, available: list[str]) -> str | None:
    """The weather area a price area reads: its own, else national (DK), else the only one."""
    if area in available:
        return area
    if NATIONAL_AREA in available:
        return NATIONAL_AREA
    return available[0] if len(available) == 1 else None


def observed(weather: pd.DataFrame) -> pd.DataFrame:
    """The observed hourly values of a WEATHER frame (its lead-0 rows), one per (hour, area)."""
    rows = weather[weather["lead_hours"] == 0]
    return rows[["datetime_utc", "area", *WEATHER_VALUE_COLUMNS]].reset_index(drop=True)
