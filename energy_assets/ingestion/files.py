"""Files in a dataset's own columns (CSV, CSV.gz, parquet): the replay API serves them, the backtest
and the benchmarks read them. One reader, so a bad file gets the same clear error everywhere.

CSV comes in two conventions: the API's (`,`-separated, `.` decimals, ISO timestamps) and the
website's download (`;`-separated, decimal commas, "2017-07-14 08:00"); the reader tells them apart
by the header line.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from energy_assets.contracts import DANISH_TZ, InputError
from energy_assets.sources import SourceSpec


class ApiFileError(InputError):
    """A data file that cannot be read as API records; the message names the file and the fix."""


def read_api_frame(
    data: pd.DataFrame | str | Path, spec: SourceSpec, required: Sequence[str] | None = None
) -> pd.DataFrame:
    """Records in `spec`'s dataset columns from a CSV / CSV.gz / parquet file (or a frame), typed.

    The spec's UTC and Danish time columns become naive datetime64[ns] (tz-aware values are
    converted to UTC and Danish time); the rest keep their types. `required` columns (default:
    the UTC time column) must be present. Raises ApiFileError (one line: the file, the row or
    column, what to do) for a missing or unreadable file, a missing column or a timestamp that
    does not parse.
    """
    source = "the frame" if isinstance(data, pd.DataFrame) else str(data)
    if isinstance(data, pd.DataFrame):
        frame = data.copy()
    else:
        frame = _read_file(Path(data), spec)
    required = (spec.time_utc,) if required is None else required
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ApiFileError(
            f"{source} has no {', '.join(missing)} column(s); columns are {list(frame.columns)}. "
            f"It needs the API's columns of {spec.dataset} ({', '.join(spec.raw.names)}); is "
            "--dataset right?"
        )
    for column, tz in ((spec.time_utc, "UTC"), (spec.time_local, DANISH_TZ)):
        if column in frame.columns:
            values = _parse_times(frame[column], column, source, is_csv=_is_csv(data))
            if getattr(values.dt, "tz", None) is not None:
                values = values.dt.tz_convert(tz).dt.tz_localize(None)
            frame[column] = values.astype("datetime64[ns]")
    return frame.reset_index(drop=True)


def _is_csv(data: pd.DataFrame | str | Path) -> bool:
    return not isinstance(data, pd.DataFrame) and Path(data).suffix != ".parquet"


def _read_file(path: Path, spec: SourceSpec) -> pd.DataFrame:
    if not path.is_file():
        what = "a folder, not a file" if path.is_dir() else "no such file"
        raise ApiFileError(f"{path}: {what}; give a CSV, CSV.gz or parquet file")
    kind = "parquet" if path.suffix == ".parquet" else "CSV"
    try:
        if kind == "parquet":
            return pd.read_parquet(path)
        text_columns = {
            name: str for name in spec.series_columns if name not in spec.integer_columns
        }
        if _website_download(path):
            return pd.read_csv(path, sep=";", decimal=",", dtype=text_columns)
        return pd.read_csv(path, dtype=text_columns)
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        # pyarrow / the CSV parser explain in several lines; the first one says enough.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ApiFileError(f"{path}: cannot be read as {kind} ({reason})") from None


def _website_download(path: Path) -> bool:
    """Whether a CSV is the website's download (`;`-separated, decimal commas): by its header."""
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline()
    return header.count(";") > header.count(",")


def _parse_times(values: pd.Series, column: str, source: str, is_csv: bool) -> pd.Series:
    """A timestamp column parsed; ApiFileError naming the first bad row if any value does not."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    try:
        return pd.to_datetime(values, format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        pass
    try:
        # Not uniform ISO 8601 (e.g. "2023-01-10 12:00:00+01:00" next to "2023-01-10T11:00Z").
        return pd.to_datetime(values, format="mixed")
    except (ValueError, TypeError, OverflowError):
        pass
    parsed = pd.to_datetime(values, format="mixed", errors="coerce")
    bad = values.notna() & parsed.isna()
    where = values.index[bad.to_numpy()] if bad.any() else values.index[values.isna().to_numpy()]
    position = int(values.index.get_loc(where[0])) if len(where) else 0
    # A CSV's line: one header line, then row 0 on line 2.
    place = f"line {position + 2}" if is_csv else f"row {position}"
    count = int(bad.sum()) or int(values.isna().sum())
    raise ApiFileError(
        f"{source}: {column} on {place} is {values.iloc[position]!r}, not a timestamp "
        f"({count} such row(s)); fix or remove those rows (ISO 8601, e.g. 2023-01-10T12:00:00)"
    )
