"""The platform's data contracts, declared once: tables, columns, dtypes, keys, allowed values,
partition key formats and how time is handled.

Four tables flow through the asset graph:

    RAW        `raw_consumption`: the API's records for an hour, columns as the API names them
               (declared per dataset by its source spec: `energy_assets.sources`)
    CLEAN      the typed rows every later stage works on (the first columns of FEATURES)
    FEATURES   `consumption_features`: CLEAN plus calendar, lag and rolling features
    FORECASTS  `forecasts`: for each origin hour, predictions for the next 24 hours per series

and what the forecaster consumes: MODEL_INPUTS (+ WEATHER_INPUTS), built at fit / forecast time
by `energy_assets.features.model_inputs` (not stored: docs/decisions/0006-model-inputs.md).

Time: every timestamp is an hour in UTC. RAW keeps the API's naive `HourUTC` / `TimeUTC`;
CLEAN, FEATURES and FORECASTS hold tz-aware UTC. Local Danish time is only used to compute
calendar features. Partition keys are Dagster's: hourly "2023-01-05-10:00", daily "2023-01-05".

The Great Expectations suites (`energy_assets.validation.suites`) are generated from these
declarations, `Table.invalid_rows` reads the same declarations as a per-row mask (what lags and
rolling statistics may use), and every other module imports names from here instead of spelling
them again.

Pure Python on purpose: the Dagster definitions import this module, and loading them must cost
little more than `import dagster` (no pandas). The time helpers import pandas when first called.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

# --------------------------------------------------------------------------- series

# The platform's price areas. A series is (area, segment); each dataset's source spec
# (`energy_assets.sources`) says how its own columns make one.
PRICE_AREAS: tuple[str, ...] = ("DK1", "DK2")
DANISH_TZ = "Europe/Copenhagen"

# Asset names (contract) besides the tables below (RAW, FEATURES and FORECASTS name their own).
FORECASTING_MODEL_ASSET = "forecasting_model"
FORECAST_ACCURACY_ASSET = "forecast_accuracy"
DRIFT_REPORT_ASSET = "drift_report"
WEATHER_ASSET = "weather"

# The registered MLflow model and the alias hourly forecasts use.
REGISTERED_MODEL_NAME = "energy_consumption_forecaster"
CHAMPION_ALIAS = "champion"
# The runner-up of the last retrain (the configuration that lost), kept for comparison/rollback.
CHALLENGER_ALIAS = "challenger"
# The Optuna study every retrain adds its trials to (one study per registered model).
STUDY_NAME = REGISTERED_MODEL_NAME

# --------------------------------------------------------------------------- bad input


class InputError(ValueError):
    """Bad input from a person (a file, a command-line argument, a setting): the message is one
    line naming what is wrong and what to do. The CLI prints it without a traceback; any other
    exception is a bug and keeps its traceback."""


# --------------------------------------------------------------------------- partition keys

HOUR_KEY_FORMAT = "%Y-%m-%d-%H:%M"
DAY_KEY_FORMAT = "%Y-%m-%d"
HOURLY_KEY = re.compile(r"^(\d{4}-\d{2}-\d{2})-(\d{2}):00$")
DAILY_KEY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# How hours are written in messages and metadata: "2023-01-05T10:00Z".
HOUR_TEXT_FORMAT = "%Y-%m-%dT%H:%MZ"

# --------------------------------------------------------------------------- dtypes

NAIVE_DATETIME = ("datetime64[ns]", "datetime64[us]", "datetime64[ms]", "datetime64[s]")
UTC_DATETIME = tuple(f"{dtype[:-1]}, UTC]" for dtype in NAIVE_DATETIME)
STRING = ("object", "str", "string", "string[python]", "string[pyarrow]", "large_string")
INTEGER = ("int64", "Int64", "int32")
FLOAT = ("float64", "float32")
NUMERIC = (*INTEGER, *FLOAT, "bool", "boolean", "int8", "int16", "uint8")
# Upper bound that only +-inf exceeds: GX skips NaN in range checks, so this is a finiteness check.
FINITE = 1e300


@dataclass(frozen=True)
class Column:
    """One column of a table.

    dtypes: the pandas dtype names it may have. nullable: NaN / None allowed. allowed: the only
    values it may take. min_value / max_value: inclusive range (NaN is not checked by a range).
    required: a frame without the column breaks the contract (optional columns are checked
    when present). min_length: the shortest allowed string.
    """

    name: str
    dtypes: tuple[str, ...]
    description: str = ""
    nullable: bool = False
    allowed: tuple[Any, ...] | None = None
    min_value: float | None = None
    max_value: float | None = None
    required: bool = True
    min_length: int | None = None  # for strings: the shortest allowed value


@dataclass(frozen=True)
class Table:
    """A table's columns (in order), its key (one row per key) and its time / series columns.

    `name` is the asset name and the folder its partitions are stored under (CLEAN is not an
    asset of its own: it is the first columns of FEATURES).
    """

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    time_column: str
    series_columns: tuple[str, ...]
    description: str = ""
    # The measured value: shown next to the key wherever a check names offending rows.
    value_column: str | None = None
    # How a column the table does not declare is checked; None: it is ignored.
    other_columns: Column | None = None
    _by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})

    @property
    def names(self) -> list[str]:
        """Every column name, in order."""
        return [c.name for c in self.columns]

    @property
    def required_names(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def invalid_rows(self, frame: pd.DataFrame) -> pd.Series:
        """Per row of `frame`, whether it breaks this table's row rules: the rules the GX suites
        check row by row (`validation.suites`), read from the same column declarations.

        A row is invalid when a declared column present in `frame` is null but not nullable,
        takes a value outside `allowed`, outside [min_value, max_value], or (strings) is shorter
        than `min_length`; or when another row has the same key (a conflicting duplicate: which
        value is right cannot be told). Column-level rules (dtype, presence, completeness) are
        not per row and not checked here. Returns a boolean Series aligned with `frame.index`.
        """
        import numpy as np
        import pandas as pd

        invalid = np.zeros(len(frame), dtype=bool)
        for column in self.columns:
            if column.name not in frame.columns:
                continue
            values = frame[column.name]
            null = values.isna().to_numpy()
            if not column.nullable:
                invalid |= null
            if column.allowed is not None:
                invalid |= ~null & ~values.isin(column.allowed).to_numpy()
            ranged = column.min_value is not None or column.max_value is not None
            # As the suites do: a range applies to numeric columns (a wrong dtype fails its own rule).
            numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(
                values
            )
            if ranged and numeric:
                numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
                low = -np.inf if column.min_value is None else column.min_value
                high = np.inf if column.max_value is None else column.max_value
                with np.errstate(invalid="ignore"):
                    invalid |= ~null & ~((numbers >= low) & (numbers <= high))
            if column.min_length is not None:
                lengths = values.astype(str).str.len().to_numpy()
                invalid |= ~null & (lengths < column.min_length)
        if all(name in frame.columns for name in self.key):
            invalid |= frame.duplicated(list(self.key), keep=False).to_numpy()
        return pd.Series(invalid, index=frame.index, name="invalid")


# --------------------------------------------------------------------------- CLEAN

SEGMENT_COLUMN = "segment"
CLEAN_COLUMN_DEFS = (
    Column("datetime_utc", UTC_DATETIME, "the hour's start, tz-aware UTC"),
    Column("area", STRING, "price area", allowed=PRICE_AREAS),
    Column(SEGMENT_COLUMN, STRING, "the series within its area (see sources)", min_length=1),
    Column("energy_consumption", FLOAT, "consumption in kWh", min_value=0, max_value=FINITE),
)
CLEAN = Table(
    name="clean",
    description="Typed, cleaned rows: one per (hour, area, segment).",
    columns=CLEAN_COLUMN_DEFS,
    key=("datetime_utc", "area", "segment"),
    time_column="datetime_utc",
    series_columns=("area", "segment"),
    value_column="energy_consumption",
)
SERIES_KEYS = list(CLEAN.series_columns)
CLEAN_COLUMNS = CLEAN.names


@dataclass(frozen=True)
class Plausibility:
    """When a CLEAN value is implausible for its series: too far outside the series' own recent
    range to be a real reading (a meter error), judged by `features.plausibility`.

    The series' recent range is [low_quantile, high_quantile] of its valid positive values in
    the trailing `window_hours` before the row's hour; a value more than `max_ratio` times above
    it or below it is implausible. A zero is implausible when that window holds at most
    `max_zero_share` zeros (the series is "never zero"). Rows with fewer than
    `min_history_hours` values behind them are not judged. A flatliner (a meter or feed stuck:
    the same value `flat_hours` consecutive hours or more) is implausible from its
    `flat_hours`-th hour on, unless the series catalogue accepts the series as flat (a closed
    site). `flag_column` is the FEATURES column that records the verdict; flagged values are
    kept out of lags, rolling statistics, training, forecast inputs and scoring.
    """

    flag_column: str
    window_hours: int
    low_quantile: float
    high_quantile: float
    max_ratio: float
    max_zero_share: float
    min_history_hours: int
    flat_hours: int = 6


PLAUSIBILITY = Plausibility(
    flag_column="implausible_value",
    window_hours=168,  # a week: every hour of the day and every weekday (= LOOKBACK_HOURS)
    low_quantile=0.02,  # with 168 values, the 3 lowest / highest (a past error among them)
    high_quantile=0.98,  # do not widen the range
    max_ratio=10.0,  # real data reaches 4.6x beyond its range (DE35 on 2 January), see docs/decisions/0002
    max_zero_share=0.01,
    min_history_hours=48,
    # The longest real constant run: 2 h in the DE35 slice and the bundled files, 1 h in five
    # years of DK2 (docs/decisions/0010): 6 h is 3x that, and flags a stuck meter by 06:00.
    flat_hours=6,
)

# --------------------------------------------------------------------------- FEATURES

LAG_HOURS = (1, 24, 168)
ROLLING_WINDOWS_HOURS = (24, 168)
# History a features partition needs from upstream: the longest lag / rolling window.
LOOKBACK_HOURS = max(max(LAG_HOURS), max(ROLLING_WINDOWS_HOURS))


def _feature(
    name: str, description: str, low: float = -FINITE, high: float = FINITE, nullable: bool = False
) -> Column:
    # Feature columns are checked when present; only finite numbers (or NaN where nullable).
    return Column(name, NUMERIC, description, nullable=nullable, min_value=low, max_value=high,
                  required=False)  # fmt: skip


_CALENDAR = (
    _feature("hour_of_day", "local hour 0-23", 0, 23),
    _feature("day_of_week", "local weekday, 0 = Monday", 0, 6),
    _feature("day_of_year", "local day of year", 1, 366),
    _feature("is_weekend", "Saturday or Sunday (local)"),
    _feature("is_holiday", "Danish public holiday or holiday-like day"),
    _feature("is_holiday_eve", "the next local day is a holiday"),
    _feature("is_bridge_day", "a working day between a holiday and a weekend"),
)
# Functions of the timestamp alone: never missing.
CALENDAR_COLUMNS = tuple(c.name for c in _CALENDAR)
# Lags and rolling statistics are NaN where the history does not reach back far enough.
_HISTORY = (
    *(_feature(f"lag_{h}h", f"kWh {h} h before", nullable=True) for h in LAG_HOURS),
    *(
        _feature(f"rolling_{stat}_{w}h", f"{stat} of the {w} h ending here", nullable=True)
        for stat in ("mean", "std")
        for w in ROLLING_WINDOWS_HOURS
    ),
    _feature("relative_to_weekly_mean", "kWh over the 168 h mean", nullable=True),
)
FEATURES = Table(
    name="consumption_features",
    description="CLEAN rows plus calendar, Danish holiday, lag and rolling features.",
    columns=(
        *CLEAN_COLUMN_DEFS,
        *_CALENDAR,
        *_HISTORY,
        Column(
            PLAUSIBILITY.flag_column,
            ("bool",),
            "the kWh is implausible for its series (PLAUSIBILITY): not a model input",
            required=False,  # objects stored before the rule existed lack it
        ),
        Column(
            "implausible_estimate",
            FLOAT,
            "on a flagged row: the estimate the later hours' lags and the forecasts read instead "
            "(the same hour last week at the day's level; NaN when none)",
            nullable=True,
            min_value=0,
            max_value=FINITE,
            required=False,
        ),
    ),
    key=CLEAN.key,
    time_column=CLEAN.time_column,
    series_columns=CLEAN.series_columns,
    value_column=CLEAN.value_column,
    # Any further column is a feature too (a new one being tried): finite numbers or NaN.
    other_columns=_feature("*", "any other feature", nullable=True),
)
FEATURE_COLUMNS = [name for name in FEATURES.names if name not in CLEAN_COLUMNS]

# --------------------------------------------------------------------------- MODEL INPUTS
# What the forecaster consumes, declared once (docs/decisions/0006-model-inputs.md). Each row is
# (series, origin o, horizon h) with target hour t = o + h; `features/model_inputs.py` builds
# them vectorised for fit, predict, the backtest and the drift report. The `ratio_*` inputs are
# log-ratios log(x / level), level = the series' mean of the 24 h up to the origin: not the kWh
# lag / rolling columns of FEATURES above. "Latest" reference days: the same hour of day on the
# latest day observed at the origin (t - 24 * ceil(h / 24)), then the days before it; "fixed":
# exactly `days` days before the target, missing when that is after the origin.

# Day kinds the model reads besides the calendar columns: computed in features/calendar.py.
YEAR_END_BREAK = "is_year_end_break"  # 24 Dec ... 1 Jan (local): holiday-like every year
OFF_DAY = "is_off_day"  # weekend, holiday or year-end break


@dataclass(frozen=True)
class Horizon:
    """The horizon h in hours (1..24)."""


@dataclass(frozen=True)
class TargetCalendar:
    """A calendar column (CALENDAR_COLUMNS or a day kind) of the target hour t."""

    column: str


@dataclass(frozen=True)
class OriginCalendar:
    """A calendar column of the origin hour o."""

    column: str


@dataclass(frozen=True)
class ReferenceDayCalendar:
    """A calendar column of the same hour `days` back (latest=True: from the latest day)."""

    column: str
    days: int
    latest: bool


@dataclass(frozen=True)
class LogLevel:
    """log of the level: the series' mean over the `hours` up to the origin."""

    hours: int = 24


@dataclass(frozen=True)
class OriginValue:
    """Log-ratio of the origin hour's value to the level."""


@dataclass(frozen=True)
class SameHourLag:
    """Log-ratio of the target's hour of day `days` back (see the note above) to the level."""

    days: int
    latest: bool


@dataclass(frozen=True)
class Profile:
    """Log-ratio of the mean of the same hour over the `days` latest days to the level;
    same_kind: only days of the target's kind (working vs off day)."""

    days: int
    same_kind: bool


@dataclass(frozen=True)
class ReferenceShape:
    """Log-ratio of the same-hour lag to ITS day's level (the 24 h up to the reference origin):
    the reference day's shape, which survives level shifts (holiday -> working day)."""

    days: int
    latest: bool


@dataclass(frozen=True)
class WindowMean:
    """Log-ratio of the mean of the `hours` up to the origin to the level."""

    hours: int


@dataclass(frozen=True)
class WindowStd:
    """Standard deviation of the `hours` up to the origin over the level (not a log)."""

    hours: int


@dataclass(frozen=True)
class OriginChange:
    """Log-ratio of the origin hour to the same hour `days` before it."""

    days: int


@dataclass(frozen=True)
class Anchor:
    """The reference day's value carried forward by how the origin compares with the reference
    origin: lag * origin_mean / reference_origin_mean over `origin_hours` hours, as a log-ratio to
    the level. Trees cannot form this product themselves."""

    days: int
    latest: bool
    origin_hours: int = 1


# The weather variable a weather input reads: a WEATHER value column (temperature by default),
# or one derived hour by hour from them (WEATHER_DERIVED).
TEMPERATURE = "temperature_c"
WIND_SPEED = "wind_speed_ms"
# A building's heat loss grows with the indoor-outdoor difference and with the wind (wind chill):
# max(HEAT_LOSS_BASE_C - temperature, 0) x sqrt(wind speed), built by
# training/weather_features.heat_loss.
HEAT_LOSS = "heat_loss"
HEAT_LOSS_BASE_C = 18.0
WEATHER_DERIVED: dict[str, tuple[str, ...]] = {HEAT_LOSS: (TEMPERATURE, WIND_SPEED)}


@dataclass(frozen=True)
class WeatherAtTarget:
    """The target hour's `variable` as forecast at the origin."""

    variable: str = TEMPERATURE


@dataclass(frozen=True)
class WeatherPathMean:
    """The forecast mean of `variable` over the `hours` after the origin."""

    hours: int = 24
    variable: str = TEMPERATURE


@dataclass(frozen=True)
class WeatherPathChange:
    """That forecast mean minus the observed mean of the `hours` ending `days_back` days before
    the origin: 0, the hours up to the origin (the model's level); 1, the day before them
    (where the lag-1d reference hours sit)."""

    hours: int = 24
    days_back: int = 0
    variable: str = TEMPERATURE


WeatherKind = WeatherAtTarget | WeatherPathMean | WeatherPathChange


def weather_variable(kind: object) -> str:
    """The weather variable a weather input kind reads."""
    if not isinstance(kind, WeatherKind):
        raise TypeError(f"{kind!r} is not a weather input kind")
    return kind.variable


InputKind = (
    Horizon | TargetCalendar | OriginCalendar | ReferenceDayCalendar | LogLevel | OriginValue
    | SameHourLag | Profile | ReferenceShape | WindowMean | WindowStd | OriginChange | Anchor
    | WeatherAtTarget | WeatherPathMean | WeatherPathChange
)  # fmt: skip


@dataclass(frozen=True)
class ModelInput:
    """One model input column: its name, what it means, and how it is built (its kind)."""

    name: str
    description: str
    kind: InputKind


def _target_calendar(column: str, description: str) -> ModelInput:
    return ModelInput(column, f"{description}, of the target hour", TargetCalendar(column))


# The order is the model's column order (a saved model's feature_names): append, never reorder.
MODEL_INPUTS: tuple[ModelInput, ...] = (
    ModelInput("horizon_hours", "hours from the origin to the target, 1..24", Horizon()),
    # The target's calendar without day_of_year: a few weeks of data would only let it memorise dates.
    *(_target_calendar(c.name, c.description) for c in _CALENDAR if c.name != "day_of_year"),
    ModelInput("origin_hour_of_day", "local hour of the origin", OriginCalendar("hour_of_day")),
    ModelInput("is_holiday_ref_1d", "the latest same-hour reference day is a holiday",
               ReferenceDayCalendar("is_holiday", days=1, latest=True)),
    ModelInput("is_holiday_ref_7d", "the target's day a week earlier was a holiday",
               ReferenceDayCalendar("is_holiday", days=7, latest=False)),
    ModelInput("is_weekend_ref_1d", "the latest same-hour reference day is a weekend day",
               ReferenceDayCalendar("is_weekend", days=1, latest=True)),
    ModelInput("is_holiday_origin", "the origin hour is on a holiday", OriginCalendar("is_holiday")),
    _target_calendar(YEAR_END_BREAK, "in the Christmas - New Year break"),
    ModelInput("is_off_day_ref_1d", "the latest same-hour reference day is an off day",
               ReferenceDayCalendar(OFF_DAY, days=1, latest=True)),
    ModelInput("is_off_day_ref_7d", "the target's day a week earlier was an off day",
               ReferenceDayCalendar(OFF_DAY, days=7, latest=False)),
    ModelInput("is_year_end_break_ref_7d", "the target's day a week earlier was in the break",
               ReferenceDayCalendar(YEAR_END_BREAK, days=7, latest=False)),
    ModelInput("is_year_end_break_origin", "the origin is in the year-end break",
               OriginCalendar(YEAR_END_BREAK)),
    ModelInput("log_level", "log of the mean kWh of the 24 h up to the origin", LogLevel(24)),
    ModelInput("ratio_origin", "the origin hour over the level", OriginValue()),
    ModelInput("ratio_same_hour_1d", "the target's hour on the latest observed day, over the level",
               SameHourLag(days=1, latest=True)),
    ModelInput("ratio_same_hour_2d", "the target's hour on the day before that, over the level",
               SameHourLag(days=2, latest=True)),
    ModelInput("ratio_same_hour_7d", "the target hour a week earlier, over the level",
               SameHourLag(days=7, latest=False)),
    ModelInput("ratio_same_hour_14d", "the target hour two weeks earlier, over the level",
               SameHourLag(days=14, latest=False)),
    ModelInput("ratio_profile_7d", "mean of the target's hour over the 7 latest days, over the level",
               Profile(days=7, same_kind=False)),
    ModelInput("ratio_profile_14d_same_kind",
               "mean of the target's hour over the 14 latest days of the target's kind "
               "(working vs off day), over the level: not fooled by last week's holidays",
               Profile(days=14, same_kind=True)),
    ModelInput("ratio_shape_1d", "the latest reference hour over its own day's level",
               ReferenceShape(days=1, latest=True)),
    ModelInput("ratio_shape_7d", "the hour a week earlier over its own day's level",
               ReferenceShape(days=7, latest=False)),
    ModelInput("ratio_mean_168h", "mean of the 168 h up to the origin, over the level",
               WindowMean(168)),
    ModelInput("ratio_std_24h", "std of the 24 h up to the origin, over the level", WindowStd(24)),
    ModelInput("ratio_origin_change_1d", "the origin hour over the same hour a day before",
               OriginChange(days=1)),
    ModelInput("ratio_anchor_1d", "the latest reference hour scaled by origin / reference origin",
               Anchor(days=1, latest=True)),
    ModelInput("ratio_anchor_7d", "the hour a week earlier scaled by origin / week-ago origin",
               Anchor(days=7, latest=False)),
    ModelInput("ratio_anchor_7d_3h", "the hour a week earlier scaled by the last 3 h / those "
               "3 h a week earlier", Anchor(days=7, latest=False, origin_hours=3)),
)  # fmt: skip
# The series keys, categorical model inputs after MODEL_INPUTS (unknown series: missing).
MODEL_CATEGORICAL_INPUTS = tuple(CLEAN.series_columns)
# Weather inputs (training/weather_features.py builds them; used only by the weather variant,
# appended after MODEL_INPUTS: docs/decisions/0005-weather.md).
WEATHER_INPUTS: tuple[ModelInput, ...] = (
    ModelInput("temp_target", "the target hour's temperature forecast at the origin, °C",
               WeatherAtTarget()),
    ModelInput("temp_path_mean", "forecast mean temperature of the 24 h after the origin, °C",
               WeatherPathMean(24)),
    ModelInput("temp_path_change", "that minus the observed mean of the 24 h up to the origin, °C",
               WeatherPathChange(24)),
    ModelInput("temp_path_change_1d", "that forecast mean minus the observed mean of the 24 h "
               "before the last 24, °C", WeatherPathChange(24, days_back=1)),
    # Appended (issue 16): wind, and the heat loss it adds to the cold, cut DK2's MAPE at every
    # cutoff (docs/decisions/0005-weather.md).
    ModelInput("wind_path_mean", "forecast mean wind speed of the 24 h after the origin, m/s",
               WeatherPathMean(24, variable=WIND_SPEED)),
    ModelInput("wind_path_change", "that minus the observed mean wind speed of the 24 h up to "
               "the origin, m/s", WeatherPathChange(24, variable=WIND_SPEED)),
    ModelInput("heat_loss_path_mean", "forecast mean heat loss (18 °C minus the temperature, "
               "floored at 0, times the square root of the wind speed) of the 24 h after the "
               "origin", WeatherPathMean(24, variable=HEAT_LOSS)),
    ModelInput("heat_loss_path_change", "that minus the observed mean heat loss of the 24 h up "
               "to the origin", WeatherPathChange(24, variable=HEAT_LOSS)),
    ModelInput("heat_loss_target", "the target hour's heat loss as forecast at the origin",
               WeatherAtTarget(HEAT_LOSS)),
)  # fmt: skip


def weather_columns_read(inputs: Iterable[ModelInput]) -> tuple[str, ...]:
    """The WEATHER value columns weather `inputs` read, a derived variable by its sources
    (WEATHER_DERIVED): an origin is forecast with weather only when each is there for every hour
    its inputs read."""
    variables = (weather_variable(spec.kind) for spec in inputs)
    return tuple(dict.fromkeys(s for v in variables for s in WEATHER_DERIVED.get(v, (v,))))


WEATHER_MODEL_VARIABLES: tuple[str, ...] = weather_columns_read(WEATHER_INPUTS)
# Observed weather hours (the origin's included) the weather inputs of one origin read: the
# `forecasts` asset loads that many `weather` partitions up to each origin.
WEATHER_LOOKBACK_HOURS = max(
    24 * (getattr(spec.kind, "days_back", 0) + 1) for spec in WEATHER_INPUTS
)
MODEL_INPUT_NAMES = tuple(i.name for i in MODEL_INPUTS)

# --------------------------------------------------------------------------- FORECASTS

FORECASTS = Table(
    name="forecasts",
    description="For origin hour H: predictions for H+1 … H+24 for every series.",
    columns=(
        Column("area", STRING, "price area", allowed=PRICE_AREAS),
        Column(SEGMENT_COLUMN, STRING, "the series within its area (see sources)", min_length=1),
        Column("forecast_origin", UTC_DATETIME, "the last observed hour the forecast uses"),
        Column("datetime_utc", UTC_DATETIME, "the forecast hour: origin + horizon"),
        Column("horizon_hours", INTEGER, "hours ahead of the origin", min_value=1),
        Column("prediction", FLOAT, "kWh", min_value=0, max_value=FINITE),
        Column(
            "p10",
            FLOAT,
            "10% quantile, kWh (calibrated at each retrain)",
            nullable=True,
            min_value=0,
            max_value=FINITE,
            required=False,
        ),
        Column(
            "p50",
            FLOAT,
            "50% quantile (median), kWh",
            nullable=True,
            min_value=0,
            max_value=FINITE,
            required=False,
        ),
        Column(
            "p90",
            FLOAT,
            "90% quantile, kWh",
            nullable=True,
            min_value=0,
            max_value=FINITE,
            required=False,
        ),
        # The 80% band's edges under their first names (= p10 / p90), for readers of older
        # partitions and of the CLI's output.
        Column(
            "prediction_lower",
            FLOAT,
            "80% interval, lower (= p10)",
            nullable=True,
            min_value=0,
            max_value=FINITE,
            required=False,
        ),
        Column(
            "prediction_upper",
            FLOAT,
            "80% interval, upper (= p90)",
            nullable=True,
            min_value=0,
            max_value=FINITE,
            required=False,
        ),
        Column(
            "model_used",
            STRING,
            "lightgbm, seasonal_naive for short history, weekly_profile for a fallback",
            allowed=("lightgbm", "seasonal_naive", "weekly_profile"),
            required=False,
        ),
        Column("model_version", STRING, "the registered model version", min_length=1),
        # Written since the fallback forecasts (forecasting/fallback.py); older partitions lack
        # them and were all the model's.
        Column(
            "quality",
            STRING,
            "model, or fallback: the weekly profile served where the model could not",
            allowed=("model", "fallback"),
            required=False,
        ),
        Column(
            "quality_reason",
            STRING,
            "why a fallback (no recent data, new series without history, model failed for it)",
            nullable=True,
            required=False,
        ),
    ),
    key=("forecast_origin", "area", "segment", "horizon_hours"),
    time_column="forecast_origin",
    series_columns=("area", "segment"),
)
# What the forecaster returns: the FORECASTS columns the asset does not add itself.
# The quantiles every forecast carries (FORECASTS columns p10 / p50 / p90).
FORECAST_QUANTILES = (0.1, 0.5, 0.9)
QUANTILE_COLUMNS = ("p10", "p50", "p90")
FORECASTER_OUTPUT_COLUMNS = [
    name for name in FORECASTS.names if name not in ("model_version", "quality", "quality_reason")
]
FORECAST_HORIZON_HOURS = 24
# Hours of features one origin's forecast reads (the origin's own hour included): the
# forecaster's longest lag is a week plus its rolling windows; two weeks is ample.
FORECAST_HISTORY_HOURS = 24 * 15

# --------------------------------------------------------------------------- REALTIME LOAD

# Each price area's total load from Energinet's near-real-time feed (`ElectricityBalanceNonv`):
# the level of DK1 / DK2 up to the last hour, where the settled datasets are 8-9 days late
# (docs/concepts/realtime-level.md).
REALTIME_FLAG_COLUMN = "implausible"
REALTIME_LOAD = Table(
    name="realtime_load",
    description="Each price area's total load per UTC hour from the near-real-time feed.",
    columns=(
        Column("datetime_utc", UTC_DATETIME, "the hour's start, tz-aware UTC"),
        Column("area", STRING, "price area", allowed=PRICE_AREAS),
        Column(
            "total_load_mwh",
            FLOAT,
            "the area's total load (production + exchange), MW over the hour = MWh",
            min_value=0,
            max_value=FINITE,
        ),
        Column(
            REALTIME_FLAG_COLUMN,
            ("bool",),
            "the load is implausible for its area (REALTIME_PLAUSIBILITY): not a model input",
        ),
    ),
    key=("datetime_utc", "area"),
    time_column="datetime_utc",
    series_columns=("area",),
    value_column="total_load_mwh",
)
# An area's total is a smooth sum of a million meters: its hours stay within 1.21x of their
# trailing week's [P2, P98] range on 18 months of DK1 / DK2, while the feed's known single-hour
# errors lie 1.54x (DK2 2023-06-08T10Z) to 2-4x outside it. So the ratio is much tighter than
# the per-segment rule's 10 (docs/decisions/0008-realtime-level.md).
REALTIME_PLAUSIBILITY = Plausibility(
    flag_column=REALTIME_FLAG_COLUMN,
    window_hours=168,
    low_quantile=0.02,
    high_quantile=0.98,
    max_ratio=1.4,
    max_zero_share=0.01,
    min_history_hours=48,
)

# --------------------------------------------------------------------------- WEATHER

# Where a weather source has no price-area split (DMI's national means, the replay), rows carry
# this area; the forecaster then uses it for every price area.
NATIONAL_AREA = "DK"
WEATHER_AREAS: tuple[str, ...] = (*PRICE_AREAS, NATIONAL_AREA)
# The forecast stored with each hour reaches this far ahead. 48, not the hourly model's 24: the
# day-ahead product issued at 10:00 Europe/Copenhagen forecasts to 24:00 of the next Danish day,
# lead 37 h (38 h on the 25-hour day), and the intraday product issued in the hour after local
# midnight reaches the end of tomorrow at lead 47 h (48 h when tomorrow has 25 hours); 48 covers
# both exactly (Open-Meteo's forecast reaches 7-16 days). The hourly weather model reads leads
# 1..24 only (training/weather_features.MODEL_WEATHER_LEADS).
WEATHER_LEAD_HOURS = 48
WEATHER_VALUE_COLUMNS = (
    "temperature_c",
    "wind_speed_ms",
    "radiation_wm2",
    "wind_dir_sin",
    "wind_dir_cos",
)
WEATHER = Table(
    name="weather",
    description=(
        "For each issue hour: the weather observed then (lead 0) and the forecast issued then "
        f"for the next {WEATHER_LEAD_HOURS} hours (leads 1-{WEATHER_LEAD_HOURS}), per price area or "
        "national (DK)."
    ),
    columns=(
        Column("issued_utc", UTC_DATETIME, "the hour the forecast was issued (the partition)"),
        Column("area", STRING, "price area, or DK for national means", allowed=WEATHER_AREAS),
        Column(
            "lead_hours",
            INTEGER,
            f"0 = observed at issued_utc; 1-{WEATHER_LEAD_HOURS} = forecast",
            min_value=0,
            max_value=WEATHER_LEAD_HOURS,
        ),  # fmt: skip
        Column("datetime_utc", UTC_DATETIME, "the hour the values describe: issued + lead"),
        Column("temperature_c", FLOAT, "air temperature, °C", min_value=-50, max_value=50),
        Column("wind_speed_ms", FLOAT, "mean wind speed, m/s", min_value=0, max_value=75),
        # Nullable: DMI's national radiation has single missing hours (the model does not use it).
        Column(
            "radiation_wm2",
            FLOAT,
            "global radiation, W/m²",
            nullable=True,
            min_value=0,
            max_value=1500,
        ),  # fmt: skip
        Column(
            "wind_dir_sin",
            FLOAT,
            "sine of the wind direction",
            nullable=True,
            min_value=-1,
            max_value=1,
            required=False,
        ),  # fmt: skip
        Column(
            "wind_dir_cos",
            FLOAT,
            "cosine of the wind direction",
            nullable=True,
            min_value=-1,
            max_value=1,
            required=False,
        ),  # fmt: skip
    ),
    key=("issued_utc", "area", "lead_hours"),
    time_column="issued_utc",
    series_columns=("area",),
    value_column="temperature_c",
)
# Units as the contract declares them (shown in the asset's metadata and the docs).
WEATHER_UNITS = {
    "temperature_c": "°C",
    "wind_speed_ms": "m/s",
    "radiation_wm2": "W/m²",
    "wind_dir_sin": "1",
    "wind_dir_cos": "1",
}

# --------------------------------------------------------------------------- time


def utc(value: Any) -> pd.Timestamp:
    """A timestamp as tz-aware UTC; naive input is taken to be UTC already."""
    import pandas as pd

    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def parse_hour(text: str, name: str) -> pd.Timestamp:
    """`text` (ISO 8601; UTC unless it has an offset) as a tz-aware UTC hour.

    Raises InputError naming `name` (e.g. "--cutoff") when it does not parse or is not on the
    hour.
    """
    import pandas as pd

    try:
        stamp = utc(pd.Timestamp(str(text).strip()))
    except (ValueError, TypeError, OverflowError):
        raise InputError(
            f"{name} {text!r} is not a date and hour: give an ISO hour in UTC such as "
            "2023-01-10T22:00"
        ) from None
    if stamp is pd.NaT or pd.isna(stamp):
        raise InputError(
            f"{name} {text!r} is not a date and hour: give one such as 2023-01-10T22:00"
        )
    if stamp != stamp.floor("h"):
        raise InputError(
            f"{name} {text!r} is not on the hour: give a whole hour such as "
            f"{stamp.floor('h').strftime('%Y-%m-%dT%H:%M')}"
        )
    return stamp


def naive_utc(value: Any) -> pd.Timestamp:
    """A timestamp as naive UTC (RAW's convention); naive input is taken to be UTC already."""
    import pandas as pd

    stamp = pd.Timestamp(value)
    return stamp if stamp.tzinfo is None else stamp.tz_convert("UTC").tz_localize(None)


def utc_series(values: Any) -> pd.Series:
    """A column of timestamps as tz-aware UTC (naive values are UTC)."""
    import pandas as pd

    times = pd.to_datetime(pd.Series(values))
    return times.dt.tz_localize("UTC") if times.dt.tz is None else times.dt.tz_convert("UTC")


def naive_utc_series(values: Any) -> pd.Series:
    """A column of timestamps as naive UTC datetime64[ns] (tz-aware values are converted)."""
    import pandas as pd

    times = pd.to_datetime(pd.Series(values))
    if times.dt.tz is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    return times.astype("datetime64[ns]")


def hour_key(value: Any) -> str:
    """The hourly partition key of the UTC hour containing `value`."""
    return utc(value).floor("h").strftime(HOUR_KEY_FORMAT)


def day_key(value: Any) -> str:
    """The daily partition key of the UTC day containing `value`."""
    return utc(value).strftime(DAY_KEY_FORMAT)


def hour_keys(start: Any, end: Any) -> list[str]:
    """Hourly partition keys of the UTC hours in [start, end)."""
    import pandas as pd

    hours = pd.date_range(utc(start), utc(end), freq="h", inclusive="left")
    return [hour.strftime(HOUR_KEY_FORMAT) for hour in hours]


def hour_of_key(key: str) -> pd.Timestamp:
    """The UTC hour (tz-aware) an hourly partition key names."""
    import pandas as pd

    return pd.to_datetime(key, format=HOUR_KEY_FORMAT).tz_localize("UTC")


def hour_text(value: Any) -> str:
    """'2023-01-05T10:00Z': how an hour is named in messages and metadata."""
    return utc(value).strftime(HOUR_TEXT_FORMAT)


def hour_range_text(start: Any, end: Any) -> str:
    """'2023-01-01T00:00Z–2023-01-02T00:00Z' (end exclusive)."""
    return f"{hour_text(start)}–{hour_text(end)}"


# --------------------------------------------------------------------------- FORECAST PRODUCTS
# Forecasts in wall-clock time (docs/concepts/forecast-products.md): issued at a moment, for
# hours still ahead of it, from only what was known at that moment. One row per
# (issued_at, area, segment, datetime_utc); stored as issued, never overwritten.
DAY_AHEAD_FORECASTS_ASSET = "day_ahead_forecasts"
INTRADAY_FORECASTS_ASSET = "intraday_forecasts"
DAY_AHEAD_ISSUE_TIME = "10:00"  # local (Europe/Copenhagen): before the 12:00 CET auction
QUALITY_VALUES = ("model", "fallback")
LEVEL_SOURCES = ("realtime", "settled")
# Hours after the issue hour a product may reach: the intraday issued at 00:00 local covers
# today and tomorrow (48 h, 49 on the autumn DST day).
PRODUCT_MAX_LEAD_HOURS = 49


@dataclass(frozen=True)
class InputAvailability:
    """When a model input becomes known: `delay_hours` after the hour it describes (consumption:
    the source's publication lag) or after its issue (a weather forecast: 0, known at issue)."""

    name: str
    description: str
    delay_hours: float

    def known_until(self, issued_at: Any) -> pd.Timestamp:
        """The newest hour (UTC, start) of this input known at `issued_at`."""
        import pandas as pd

        return (utc(issued_at) - pd.Timedelta(hours=self.delay_hours)).floor("h")


def input_availability(publication_lag_hours: float) -> dict[str, InputAvailability]:
    """Every input family a product forecast reads and when it becomes known. The consumption
    inputs (MODEL_INPUTS) are all built from hours up to the origin = the consumption's
    `known_until(issued_at)`; weather inputs read the forecast issued at or before the issue;
    the real-time feed (ElectricityBalanceNonv) lags minutes."""
    return {
        "consumption": InputAvailability(
            "consumption", "settled consumption: the dataset's publication lag",
            float(publication_lag_hours),
        ),
        "weather_forecast": InputAvailability(
            "weather_forecast", "the weather forecast issued at or before the issue time", 0.0
        ),
        "realtime": InputAvailability(
            "realtime", "each price area's total load, near real time (about an hour)", 1.0
        ),
    }  # fmt: skip


def _product_table(name: str, description: str) -> Table:
    def money(column: str, text: str, nullable: bool = False) -> Column:
        return Column(column, FLOAT, text, nullable=nullable, min_value=0, max_value=FINITE)

    return Table(
        name=name,
        description=description,
        columns=(
            Column("issued_at", UTC_DATETIME, "when the forecast was issued (UTC)"),
            Column("area", STRING, "price area", allowed=PRICE_AREAS),
            Column(SEGMENT_COLUMN, STRING, "the series within its area", min_length=1),
            Column("datetime_utc", UTC_DATETIME, "the target hour (UTC, start)"),
            Column("lead_hours", INTEGER, "target hour - issued_at, hours", min_value=0),
            Column("data_origin", UTC_DATETIME, "newest published settled hour the forecast used"),
            money("prediction", "kWh"),
            money("p10", "10% quantile, kWh"),
            money("p50", "median, kWh"),
            money("p90", "90% quantile, kWh"),
            Column("model_version", STRING, "the model that issued it", min_length=1),
            Column("quality", STRING, "model, or fallback", allowed=QUALITY_VALUES),
            Column("quality_reason", STRING, "why a fallback", nullable=True),
            Column("level_source", STRING, "where the area level came from", allowed=LEVEL_SOURCES),
            Column("weather_used", ("bool", "boolean"), "a weather forecast was an input"),
        ),
        key=("issued_at", "area", SEGMENT_COLUMN, "datetime_utc"),
        time_column="issued_at",
        series_columns=("area", SEGMENT_COLUMN),
        value_column="prediction",
    )


DAY_AHEAD_FORECASTS = _product_table(
    DAY_AHEAD_FORECASTS_ASSET,
    "Issued once a day (default 10:00 Europe/Copenhagen) for every hour of the next Danish day.",
)
INTRADAY_FORECASTS = _product_table(
    INTRADAY_FORECASTS_ASSET,
    "Issued every hour for the hours from the issue hour to the end of the next Danish day.",
)
