"""Seeded synthetic hourly consumption in the API's columns, for demos and scale tests.

Each series is (PriceArea, ConsumerType_DE35). Its hourly kWh is

    level × daily profile(local hour, day type) × yearly cycle × weather drift × exp(AR(1) noise)

where the profile depends on the consumer type's group (households peak mornings and evenings and
on weekends; industry and agriculture run flat on working days and drop on weekends and holidays;
services follow office hours), day types come from Danish local time with Danish public holidays
(energy_assets.features.calendar), levels spread log-normally like the real data (about 89 …
1.6M kWh), and a slow temperature-like random walk per price area adds winter/summer weather swings.

The first 76 series are the real DE35 grid (DK1/DK2 × the 38 codes). Beyond 76 the series get
invented integer codes 1000, 1001, … (alternating areas): they exist for scale tests only and
deliberately fail the DE35 allowed-code checks.

`spec=` (`--dataset NAME`) writes any source spec's columns instead: the spec's expected series first
(segments split back into its columns; the profile group from the segment: Privat → households,
Offentlig… → services, Erhverv → industry, a DE35 code by its first digit, "total" → households),
then invented ones ("Synthetic 1000", … in the spec's last segment column), values in the spec's
unit (MWh datasets get kWh / 1000). A spec with no segment columns has only its areas' series.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from energy_assets.contracts import DANISH_TZ, PRICE_AREAS, InputError, utc
from energy_assets.features.calendar import calendar_features
from energy_assets.settings import Settings
from energy_assets.sources import (
    CONSUMPTION_DE35_HOUR,
    DE35_CONSUMER_TYPES,
    SEGMENT_SEPARATOR,
    SourceSpec,
)

FIRST_INVENTED_CODE = 1000
MIN_KWH, MAX_KWH = 89.0, 1_652_149.0

# Relative load by local hour (0-23) on a working day, per consumer group (first digit of the code).
_HOURS = np.arange(24)
_PROFILES = {
    # households: night trough, morning bump, evening peak
    "household": 0.55
    + 0.25 * np.exp(-0.5 * ((_HOURS - 7.5) / 1.5) ** 2)
    + 0.75 * np.exp(-0.5 * ((_HOURS - 18.5) / 2.2) ** 2)
    + 0.15 * ((_HOURS >= 8) & (_HOURS <= 16)),
    # industry: high plateau over shifts, night stays fairly high
    "industry": 0.75
    + 0.35 * ((_HOURS >= 6) & (_HOURS <= 21))
    + 0.1 * ((_HOURS >= 7) & (_HOURS <= 15)),
    # agriculture: daylight work plus early milking
    "agriculture": 0.7
    + 0.3 * np.exp(-0.5 * ((_HOURS - 6) / 1.5) ** 2)
    + 0.35 * ((_HOURS >= 7) & (_HOURS <= 18)),
    # services / public: office hours
    "services": 0.45
    + 0.8 * ((_HOURS >= 7) & (_HOURS <= 17))
    + 0.2 * ((_HOURS >= 18) & (_HOURS <= 21)),
}
_GROUPS = {"1": "household", "2": "agriculture", "3": "industry", "4": "services", "9": "household"}
# (weekend factor, holiday factor, winter amplitude, temperature sensitivity) per group
_DAY_TYPE = {
    "household": (1.08, 1.12, 0.22, 0.10),
    "industry": (0.62, 0.55, 0.05, 0.02),
    "agriculture": (0.85, 0.8, 0.10, 0.04),
    "services": (0.55, 0.5, 0.12, 0.05),
}


def series_keys(series: int) -> pd.DataFrame:
    """The (PriceArea, ConsumerType_DE35) of `series` series: the DE35 grid first, then invented codes."""
    if series < 1:
        raise ValueError(f"series must be at least 1, got {series}")
    grid = [(area, code) for code in DE35_CONSUMER_TYPES for area in PRICE_AREAS]
    extra = series - len(grid)
    keys = grid[:series] + [
        (PRICE_AREAS[i % 2], FIRST_INVENTED_CODE + i) for i in range(max(0, extra))
    ]
    frame = pd.DataFrame(keys, columns=["PriceArea", "ConsumerType_DE35"])
    return frame.sort_values(["PriceArea", "ConsumerType_DE35"], ignore_index=True)


def _utc_hours(start, end) -> pd.DatetimeIndex:
    first, stop = utc(start).ceil("h"), utc(end)
    return pd.date_range(first, stop, freq="h", inclusive="left")


def spec_series_keys(series: int, spec: SourceSpec) -> pd.DataFrame:
    """`series` series of `spec` as its raw identifying columns plus `area` and `group` (the
    profile): the spec's expected series first, then invented segments. InputError when the spec
    cannot hold that many (no segment column to invent values in)."""
    if series < 1:
        raise ValueError(f"series must be at least 1, got {series}")
    expected = list(spec.expected_series)
    extra = series - len(expected)
    if extra > 0 and not spec.segment_columns:
        raise InputError(
            f"{spec.dataset} has one series per price area ({len(expected)}); ask for "
            f"--series {len(expected)} or fewer, or pick a dataset with segments"
        )
    free = [c for c in spec.segment_columns if c != spec.area_column]
    rows = []

    def split(segment: str) -> dict[str, str]:
        if not spec.segment_columns:
            return {}  # the segment is "total"
        return dict(zip(spec.segment_columns, segment.split(SEGMENT_SEPARATOR), strict=True))

    for area, segment in expected[:series]:
        values = split(segment)
        rows.append((area, values, _group_of(segment)))
    for i in range(max(0, extra)):
        area, segment = expected[i % len(expected)]
        values = split(segment)
        # Invented values go in the last column that is not the area's own.
        column = free[-1] if free else spec.segment_columns[-1]
        values[column] = f"Synthetic {FIRST_INVENTED_CODE + i}"
        rows.append((area, values, list(_PROFILES)[i % len(_PROFILES)]))
    frame = pd.DataFrame(
        [
            {
                **({spec.area_column: area} if spec.area_of is None else {}),
                **{
                    c: int(v) if c in spec.integer_columns and v.isdigit() else v
                    for c, v in values.items()
                },
                "area": area,
                "group": group,
            }
            for area, values, group in rows
        ]
    )
    return frame.sort_values(list(spec.series_columns), ignore_index=True, key=_sort_key)


def _sort_key(values: pd.Series) -> pd.Series:
    return values.astype(str).str.zfill(12) if values.dtype != object else values.astype(str)


def _group_of(segment: str) -> str:
    last = segment.split(SEGMENT_SEPARATOR)[-1]
    if last.isdigit():
        return _GROUPS.get(last[0], "household")
    if last == "Privat" or last == "total":
        return "household"
    if last.startswith("Offentlig"):
        return "services"
    return "industry"


def synthesize(
    series: int, start, end, seed: int = 0, spec: SourceSpec = CONSUMPTION_DE35_HOUR
) -> pd.DataFrame:
    """A seeded synthetic dataset in the API's columns, hours in [start, end) UTC.

    Returns HourUTC / HourDK (naive datetime64[ns]; HourDK is Danish wall-clock time, so it repeats
    one hour on the autumn DST night and skips one in spring), PriceArea (str), ConsumerType_DE35
    (int64) and TotalCon (float64 whole kWh, > 0), sorted by HourUTC, PriceArea, ConsumerType_DE35.
    The same (series, start, end, seed) always gives the same frame.
    """
    from scipy.signal import lfilter  # 1.3 s to import: only when synthesising

    rng = np.random.default_rng(seed)
    hours = _utc_hours(start, end)
    if spec.dataset == CONSUMPTION_DE35_HOUR.dataset:
        keys = series_keys(series)
        codes = keys["ConsumerType_DE35"].to_numpy()
        areas = keys["PriceArea"].to_numpy()
        # Invented codes cycle through the groups so scale tests see every shape.
        group_names = np.array(
            [
                _GROUPS.get(str(code)[0], "household")
                if code < FIRST_INVENTED_CODE
                else list(_PROFILES)[code % len(_PROFILES)]
                for code in codes
            ]
        )
    else:
        keys = spec_series_keys(series, spec)
        areas = keys["area"].to_numpy()
        group_names = keys["group"].to_numpy()
    n_hours, n_series = len(hours), len(keys)

    calendar = calendar_features(hours)
    local_hour = calendar["hour_of_day"].to_numpy(np.int64)
    is_weekend = calendar["is_weekend"].to_numpy()
    is_holiday = calendar["is_holiday"].to_numpy() | calendar["is_bridge_day"].to_numpy()
    day_of_year = calendar["day_of_year"].to_numpy(np.float64)

    # Per-series parameters, drawn in a fixed order so a seed fixes them.
    level = np.exp(rng.normal(np.log(25_000.0), 1.9, n_series)).clip(MIN_KWH * 3, MAX_KWH * 0.6)
    shape_strength = rng.uniform(0.6, 1.3, n_series)
    noise_sigma = rng.uniform(0.015, 0.06, n_series)
    noise_phi = rng.uniform(0.7, 0.95, n_series)
    phase_days = rng.normal(0.0, 8.0, n_series)

    profiles = np.stack([_PROFILES[g] / _PROFILES[g].mean() for g in group_names], axis=1)  # 24×S
    day_type = np.array([_DAY_TYPE[g] for g in group_names])  # S×4
    weekend_factor, holiday_factor, winter_amp, temp_sensitivity = day_type.T

    # Daily shape, scaled per series around 1 (T×S).
    daily = 1.0 + shape_strength * (profiles[local_hour] - 1.0)
    day_factor = np.ones((n_hours, n_series))
    day_factor[is_weekend] = weekend_factor
    # Households use more on holidays, everyone else less: the group's holiday factor replaces all.
    day_factor[is_holiday] = holiday_factor
    yearly = 1.0 + winter_amp * np.cos(
        2 * np.pi * (day_of_year[:, None] - 15.0 - phase_days) / 365.25
    )

    # Weather: a slow AR(1) per price area on a daily grid, interpolated to hours.
    n_days = n_hours // 24 + 2
    hour_days = np.arange(n_hours) / 24.0
    weather = np.empty((n_hours, n_series))
    for area in PRICE_AREAS:
        walk = lfilter([1.0], [1.0, -0.85], rng.normal(0.0, 1.0, n_days)) * 0.5
        weather[:, areas == area] = np.interp(hour_days, np.arange(n_days), walk)[:, None]
    weather = 1.0 + temp_sensitivity * weather

    # AR(1) noise per series, vectorised: filter each column separately (phi differs by series).
    shocks = rng.normal(0.0, 1.0, (n_hours, n_series)) * noise_sigma
    noise = np.empty_like(shocks)
    for phi in np.unique(np.round(noise_phi, 2)):
        columns = np.round(noise_phi, 2) == phi
        noise[:, columns] = lfilter([1.0], [1.0, -phi], shocks[:, columns], axis=0)

    values = level * daily * day_factor * yearly * weather * np.exp(noise)
    total_kwh = np.rint(np.clip(values, MIN_KWH, MAX_KWH)).astype(np.float64)

    hour_utc = hours.tz_localize(None).to_numpy("datetime64[ns]")
    hour_dk = hours.tz_convert(DANISH_TZ).tz_localize(None).to_numpy("datetime64[ns]")
    if spec.dataset != CONSUMPTION_DE35_HOUR.dataset:
        columns = {spec.time_utc: np.repeat(hour_utc, n_series)}
        columns[spec.time_local] = np.repeat(hour_dk, n_series)
        for column in spec.series_columns:
            columns[column] = np.tile(keys[column].to_numpy(), n_hours)
        columns[spec.value_column] = total_kwh.ravel() / spec.kwh_per_unit
        return pd.DataFrame(columns)
    return pd.DataFrame(
        {
            "HourUTC": np.repeat(hour_utc, n_series),
            "HourDK": np.repeat(hour_dk, n_series),
            "PriceArea": np.tile(areas.astype(object), n_hours),
            "ConsumerType_DE35": np.tile(codes.astype(np.int64), n_hours),
            "TotalCon": total_kwh.ravel(),
        }
    )


def write_frame(
    frame: pd.DataFrame, out: str | Path, spec: SourceSpec = CONSUMPTION_DE35_HOUR
) -> Path:
    """Write in the format the extension names: .csv, .csv.gz or .parquet (API timestamp strings in CSV)."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    name = path.name.lower()
    if name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    elif name.endswith(".csv") or name.endswith(".csv.gz"):
        text = frame.copy()
        for column in (spec.time_utc, spec.time_local):
            text[column] = np.datetime_as_string(text[column].to_numpy("datetime64[s]"), unit="s")
        if spec.kwh_per_unit == 1.0:
            text[spec.value_column] = text[spec.value_column].astype(np.int64)
        text.to_csv(path, index=False)
    else:
        raise ValueError(f"--out must end in .csv, .csv.gz or .parquet, got {path.name!r}")
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--series",
        type=int,
        default=None,
        help="number of series (default: the dataset's expected series, 76 for DE35)",
    )
    parser.add_argument(
        "--start", required=True, help="first hour, ISO (UTC unless it has an offset)"
    )
    parser.add_argument("--end", required=True, help="end hour, exclusive")
    parser.add_argument("--out", required=True, help="output file: .csv, .csv.gz or .parquet")
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed: the same seed writes the same file"
    )
    parser.add_argument(
        "--dataset",
        default=CONSUMPTION_DE35_HOUR.dataset,
        help="write this source spec's columns (default ConsumptionDE35Hour)",
    )
    parser.set_defaults(run=run)


def check_arguments(args: argparse.Namespace) -> None:
    """InputError (one line) for arguments synthesize / write_frame cannot use."""
    if args.series is not None and args.series < 1:
        raise InputError(f"--series must be 1 or more (got {args.series})")
    for name, value in (("--start", args.start), ("--end", args.end)):
        try:
            pd.Timestamp(value)
        except (ValueError, TypeError):
            raise InputError(
                f"{name} {value!r} is not a date: use ISO, e.g. 2023-01-01T00:00"
            ) from None
    if len(_utc_hours(args.start, args.end)) == 0:
        raise InputError(
            f"--end {args.end} leaves no whole hour after --start {args.start}: give a later --end"
        )
    if not args.out.lower().endswith((".csv", ".csv.gz", ".parquet")):
        raise InputError(f"--out must end in .csv, .csv.gz or .parquet, got {args.out!r}")


def run(args: argparse.Namespace, settings: Settings | None = None) -> int:
    check_arguments(args)
    started = time.perf_counter()
    from energy_assets.sources import spec_for

    spec = spec_for(getattr(args, "dataset", CONSUMPTION_DE35_HOUR.dataset))
    if args.series is None:
        args.series = len(spec.expected_series)
    frame = synthesize(args.series, args.start, args.end, seed=args.seed, spec=spec)
    path = write_frame(frame, args.out, spec)
    hours = frame[spec.time_utc].nunique()
    print(
        f"wrote {len(frame):,} rows ({args.series} series × {hours} hours) to {path} "
        f"in {time.perf_counter() - started:.1f}s",
        flush=True,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    prog = "energy-assets synth"
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except InputError as exc:  # bad input is one line; anything else keeps its traceback
        print(f"{prog}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
