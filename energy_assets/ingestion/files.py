"""Files in the API's columns (CSV, CSV.gz, parquet): the replay API serves them, the backtest and
the benchmarks read them. One reader, so a bad file gets the same clear error everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from energy_assets.contracts import DANISH_TZ, RAW


class ApiFileError(ValueError):
    """A data file that cannot be read as API records; the message names the file and the fix."""


def read_api_frame(
    data: pd.DataFrame | str | Path, required: Sequence[str] = (RAW.time_column,)
) -> pd.DataFrame:
    """Records in the API's columns from a CSV / CSV.gz / parquet file (or a frame), typed.

    HourUTC and HourDK become naive datetime64[ns] (tz-aware values are converted to UTC and
    Danish time); the rest keep their types. `required` columns must be present.
    """
    source = "the frame" if isinstance(data, pd.DataFrame) else str(data)
    if isinstance(data, pd.DataFrame):
        frame = data.copy()
    else:
        path = Path(data)
        if not path.is_file():
            raise ApiFileError(f"{path}: no such file")
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, dtype={"PriceArea": str})
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ApiFileError(
            f"{source} has no {', '.join(missing)} column(s); columns are {list(frame.columns)}"
        )
    for column, tz in ((RAW.time_column, "UTC"), ("HourDK", DANISH_TZ)):
        if column in frame.columns:
            values = pd.to_datetime(frame[column])
            if getattr(values.dt, "tz", None) is not None:
                values = values.dt.tz_convert(tz).dt.tz_localize(None)
            frame[column] = values.astype("datetime64[ns]")
    return frame.reset_index(drop=True)
