"""The near-real-time level: each price area's total load per hour (no Dagster).

`ElectricityBalanceNonv` (Energinet, from SCADA online measurements) publishes DK1's and DK2's
`TotalLoad` (MW averaged over the hour = MWh) minutes after the hour, where the settled datasets
arrive 8-9 days late. `realtime_load_table` turns its records into the REALTIME_LOAD table
(`datetime_utc`, `area`, `total_load_mwh`, `implausible`) and judges every hour against its
area's trailing week (`contracts.REALTIME_PLAUSIBILITY`): the feed has single-hour spikes of
1.5-4x that are meter errors, not load.

`read_total_load_file` reads the same table from a file: the dataset's own API columns
(`HourUTC, HourDK, PriceArea, TotalLoad`, CSV or the website's `;` download) or the ENTSO-E
export of the same actuals (`HourUTC, PriceArea, actual_MW, day_ahead_forecast_MW`), whose
Energinet day-ahead forecast is kept beside it as `benchmark_mwh` for comparison (never an input).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from energy_assets.contracts import (
    CLEAN,
    REALTIME_LOAD,
    REALTIME_PLAUSIBILITY,
    InputError,
    Plausibility,
    naive_utc,
    utc_series,
)
from energy_assets.sources import ELECTRICITY_BALANCE_NONV, WHOLE_AREA_SEGMENT, SourceSpec

# The ENTSO-E export of the same actuals (../shared/data/total_load_DK1_DK2_entsoe.csv.gz).
ENTSOE_ACTUAL = "actual_MW"
ENTSOE_DAY_AHEAD = "day_ahead_forecast_MW"
# Energinet's own day-ahead forecast of the hour, MWh, where the file carries it.
BENCHMARK_COLUMN = "benchmark_mwh"
VALUE = str(REALTIME_LOAD.value_column)


def realtime_load_table(
    raw: pd.DataFrame,
    start: Any | None = None,
    end: Any | None = None,
    spec: SourceSpec = ELECTRICITY_BALANCE_NONV,
    rule: Plausibility = REALTIME_PLAUSIBILITY,
) -> pd.DataFrame:
    """The REALTIME_LOAD rows of the UTC hours [start, end) (None: every hour of `raw`).

    `raw` holds the dataset's records in `spec`'s columns (naive UTC times, the value in the
    spec's unit) and may reach back before `start`: those hours are the history the plausibility
    rule judges by (a week; with less than two days behind it an hour is not judged). Values are
    kept as served: a negative load or a missing area is the checks' to catch, a flagged hour is
    kept and marked `implausible`. Sorted by (datetime_utc, area).
    """
    area = raw[spec.area_column].astype(str)
    if spec.area_of is not None:
        area = area.map(dict(spec.area_of)).fillna(area)
    table = pd.DataFrame(
        {
            "datetime_utc": utc_series(raw[spec.time_utc]).to_numpy(),
            "area": area.astype(object).to_numpy(),
            VALUE: pd.to_numeric(raw[spec.value_column], errors="coerce").to_numpy(dtype=float)
            * spec.kwh_per_unit
            / 1000.0,
        }
    )
    table["datetime_utc"] = utc_series(table["datetime_utc"])
    table[rule.flag_column] = judge_load(table, rule)
    if start is not None:
        table = table[table["datetime_utc"] >= utc_series([naive_utc(start)]).iloc[0]]
    if end is not None:
        table = table[table["datetime_utc"] < utc_series([naive_utc(end)]).iloc[0]]
    return table.sort_values(list(REALTIME_LOAD.key), kind="stable").reset_index(drop=True)[
        REALTIME_LOAD.names
    ]


def judge_load(table: pd.DataFrame, rule: Plausibility = REALTIME_PLAUSIBILITY) -> np.ndarray:
    """Per row of a REALTIME_LOAD-shaped frame, whether its load is implausible for its area:
    the per-series rule of `features.plausibility` with the totals' own (tighter) ratio."""
    from energy_assets.features.plausibility import judge_values

    clean = pd.DataFrame(
        {
            CLEAN.time_column: table["datetime_utc"].to_numpy(),
            "area": table["area"].to_numpy(),
            "segment": WHOLE_AREA_SEGMENT,
            str(CLEAN.value_column): table[VALUE].to_numpy(dtype=float),
        },
        index=table.index,
    )
    clean[CLEAN.time_column] = utc_series(clean[CLEAN.time_column]).to_numpy()
    return judge_values(clean, rule)["implausible"].to_numpy(dtype=bool)


class TotalLoadFileError(InputError):
    """A total-load file the platform cannot read; the message names the file and the fix."""


def read_total_load_file(path: str | Path) -> pd.DataFrame:
    """REALTIME_LOAD (whole file, judged) from a file of each area's hourly total load, plus
    `benchmark_mwh` (Energinet's day-ahead forecast) when the file is the ENTSO-E export.

    Accepts `ElectricityBalanceNonv`'s API columns (CSV / CSV.gz / parquet, or the website's
    `;` download) or the ENTSO-E export (`HourUTC, PriceArea, actual_MW[,
    day_ahead_forecast_MW]`, MW over the hour = MWh). Raises TotalLoadFileError otherwise.
    """
    from energy_assets.ingestion.files import read_api_frame

    path = Path(path)
    spec = ELECTRICITY_BALANCE_NONV
    frame = read_api_frame(path, spec, required=(spec.time_utc, spec.area_column))
    benchmark = None
    if spec.value_column not in frame.columns:
        if ENTSOE_ACTUAL not in frame.columns:
            raise TotalLoadFileError(
                f"{path}: no {spec.value_column} or {ENTSOE_ACTUAL} column (columns are "
                f"{list(frame.columns)}); give ElectricityBalanceNonv's API columns or the "
                "ENTSO-E total-load export"
            )
        frame = frame.rename(columns={ENTSOE_ACTUAL: spec.value_column})
        if ENTSOE_DAY_AHEAD in frame.columns:
            benchmark = frame[[spec.time_utc, spec.area_column, ENTSOE_DAY_AHEAD]]
    table = realtime_load_table(frame, spec=spec)
    if benchmark is not None:
        keyed = pd.DataFrame(
            {
                "datetime_utc": utc_series(benchmark[spec.time_utc]).to_numpy(),
                "area": benchmark[spec.area_column].astype(str).to_numpy(),
                BENCHMARK_COLUMN: pd.to_numeric(
                    benchmark[ENTSOE_DAY_AHEAD], errors="coerce"
                ).to_numpy(dtype=float),
            }
        )
        keyed["datetime_utc"] = utc_series(keyed["datetime_utc"])
        table = table.merge(keyed, on=["datetime_utc", "area"], how="left")
    return table
