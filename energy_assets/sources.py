"""Source specs: one declarative description per Energi Data Service dataset.

A `SourceSpec` says everything the platform needs to know about a dataset: its name, its time
columns, which columns identify a series and how they map to the platform's series key (a price
area plus a segment), the value column and its unit, its first hour, how late it is published,
how long it is corrected afterwards, and which series it is expected to hold. `ENERGIDATA_DATASET`
picks one (`spec_for`); adding a dataset is adding a spec here, nothing else.

The platform's series key: `area` (DK1 / DK2) and `segment`, a string made of the dataset's own
identifying values joined by " / " — "111" (a DE35 code), "Region Hovedstaden / Privat" (a region
and consumer category), "101 / Erhverv" (a municipality number and branch), "total" (a dataset
with one series per price area).

What each spec says was read from the dataset pages on energidataservice.dk and from public
projects that pull the datasets (see docs/how-to/live-dataset.md); no live response was seen
from this machine.

Pure Python (no pandas): the Dagster definitions import it, and loading them must stay light.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from energy_assets.contracts import (
    FINITE,
    FLOAT,
    INTEGER,
    NAIVE_DATETIME,
    PRICE_AREAS,
    STRING,
    Column,
    InputError,
    Table,
)

RAW_ASSET = "raw_consumption"
SEGMENT_SEPARATOR = " / "
# The segment of a dataset with one series per price area.
WHOLE_AREA_SEGMENT = "total"
UNITS_IN_KWH = {"kWh": 1.0, "MWh": 1000.0}


@dataclass(frozen=True)
class SourceSpec:
    """One Energi Data Service dataset as the platform reads it.

    dataset: the API's name (`GET /dataset/<name>`). time_utc / time_local: its hour columns
    (`HourUTC`/`HourDK` in older datasets, `TimeUTC`/`TimeDK` in newer ones). area_column: the
    column the price area is read from; `area_of` maps its values to DK1/DK2 (None: it holds
    them). segment_columns: the columns whose values, joined by " / ", name the segment (empty:
    one series per area, segment "total"); integer_columns: those the API serves as integers.
    value_column / value_unit: the consumption and its unit (stored as kWh). first_hour: the
    dataset's first hour as an hourly partition key; last_hour: its last one when it is no longer
    published (frozen), else None. publication_lag_hours: how long after an hour it appears.
    revision_days: how far back it is still corrected (the revision pass re-reads that far).
    expected_series: the (area, segment) pairs it is known to hold (the series catalogue's
    starting point; accepted changes live in storage).
    """

    dataset: str
    title: str
    time_utc: str
    time_local: str
    area_column: str
    segment_columns: tuple[str, ...]
    value_column: str
    value_unit: str
    first_hour: str
    publication_lag_hours: int
    revision_days: int
    expected_series: tuple[tuple[str, str], ...]
    area_of: Mapping[str, str] | None = None
    integer_columns: frozenset[str] = frozenset()
    last_hour: str | None = None
    successors: tuple[str, ...] = ()
    raw: Table = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.value_unit not in UNITS_IN_KWH:
            raise ValueError(f"{self.dataset}: unit {self.value_unit!r} is not kWh or MWh")
        object.__setattr__(self, "raw", _raw_table(self))

    @property
    def series_columns(self) -> tuple[str, ...]:
        """The raw columns that identify a series, in key order (each once)."""
        return tuple(dict.fromkeys((self.area_column, *self.segment_columns)))

    @property
    def columns(self) -> tuple[str, ...]:
        """The raw columns the platform reads (what the client asks for with `columns`)."""
        return (self.time_utc, self.time_local, *self.series_columns, self.value_column)

    @property
    def sort(self) -> str:
        """The API `sort` that makes offset paging stable: the full key, ascending."""
        return ",".join(f"{name} asc" for name in self.raw.key)

    @property
    def kwh_per_unit(self) -> float:
        return UNITS_IN_KWH[self.value_unit]

    @property
    def is_live(self) -> bool:
        return self.last_hour is None

    @property
    def areas(self) -> tuple[str, ...]:
        """The values the area column may take."""
        return tuple(self.area_of) if self.area_of is not None else PRICE_AREAS


def _raw_table(spec: SourceSpec) -> Table:
    def series_column(name: str) -> Column:
        dtypes = INTEGER if name in spec.integer_columns else (*STRING, *INTEGER)
        allowed: tuple[object, ...] | None = None
        if name == spec.area_column:
            allowed = spec.areas
            if name in spec.integer_columns:
                allowed = tuple(int(value) for value in allowed)
        return Column(name, dtypes, "identifies the series", allowed=allowed)

    return Table(
        name=RAW_ASSET,
        description=f"{spec.dataset}'s records for an hour, columns as the API names them.",
        columns=(
            Column(spec.time_utc, NAIVE_DATETIME, "the hour's start in UTC (naive)"),
            Column(spec.time_local, NAIVE_DATETIME, "the hour's start in Danish time (naive)"),
            *(series_column(name) for name in spec.series_columns),
            Column(
                spec.value_column,
                (*FLOAT, *INTEGER),
                f"consumption in {spec.value_unit}",
                min_value=0,
                max_value=FINITE,
            ),
        ),
        key=(spec.time_utc, *spec.series_columns),
        time_column=spec.time_utc,
        series_columns=spec.series_columns,
        value_column=spec.value_column,
    )


# --------------------------------------------------------------------------- reference tables

DE35_CONSUMER_TYPES: tuple[int, ...] = (
    111, 112, 119, 121, 122, 123, 130, 211, 212, 215, 220, 310, 320, 330, 340, 350, 360, 370,
    381, 382, 390, 410, 421, 422, 431, 432, 433, 441, 442, 443, 444, 445, 446, 447, 450, 461,
    462, 999,
)  # fmt: skip

# Denmark's five regions and the price area each lies in (the Great Belt divides DK1 from DK2).
REGION_AREAS: Mapping[str, str] = MappingProxyType(
    {
        "Region Hovedstaden": "DK2",
        "Region Midtjylland": "DK1",
        "Region Nordjylland": "DK1",
        "Region Sjælland": "DK2",
        "Region Syddanmark": "DK1",
    }
)
CONSUMER_CATEGORIES = ("Erhverv", "Offentlige foretagender", "Privat")

# The 98 municipalities by number (Danmarks Statistik's codes), grouped by region.
_MUNICIPALITIES_BY_REGION: dict[str, tuple[int, ...]] = {
    "Region Hovedstaden": (
        101, 147, 151, 153, 155, 157, 159, 161, 163, 165, 167, 169, 173, 175, 183, 185, 187, 190,
        201, 210, 217, 219, 223, 230, 240, 250, 260, 270, 400,
    ),
    "Region Sjælland": (
        253, 259, 265, 269, 306, 316, 320, 326, 329, 330, 336, 340, 350, 360, 370, 376, 390,
    ),
    "Region Syddanmark": (
        410, 420, 430, 440, 450, 461, 479, 480, 482, 492, 510, 530, 540, 550, 561, 563, 573, 575,
        580, 607, 621, 630,
    ),
    "Region Midtjylland": (
        615, 657, 661, 665, 671, 706, 707, 710, 727, 730, 740, 741, 746, 751, 756, 760, 766, 779,
        791,
    ),
    "Region Nordjylland": (773, 787, 810, 813, 820, 825, 840, 846, 849, 851, 860),
}  # fmt: skip
MUNICIPALITY_AREAS: Mapping[str, str] = MappingProxyType(
    {
        str(number): REGION_AREAS[region]
        for region, numbers in _MUNICIPALITIES_BY_REGION.items()
        for number in numbers
    }
)
BRANCHES = ("Erhverv", "Offentligt", "Privat")


def segment_of(*values: object) -> str:
    """The segment named by a series' identifying values ("total" when there are none)."""
    return SEGMENT_SEPARATOR.join(str(v) for v in values) if values else WHOLE_AREA_SEGMENT


# --------------------------------------------------------------------------- the specs

CONSUMPTION_DE35_HOUR = SourceSpec(
    dataset="ConsumptionDE35Hour",
    title="Consumption per DE35 industry code per hour (discontinued)",
    time_utc="HourUTC",
    time_local="HourDK",
    area_column="PriceArea",
    segment_columns=("ConsumerType_DE35",),
    integer_columns=frozenset({"ConsumerType_DE35"}),
    value_column="TotalCon",
    value_unit="kWh",
    first_hour="2020-06-30-22:00",
    last_hour="2023-06-30-21:00",
    publication_lag_hours=15 * 24,
    revision_days=90,
    expected_series=tuple(
        (area, segment_of(code)) for area in PRICE_AREAS for code in DE35_CONSUMER_TYPES
    ),
    successors=("ConsumptionConsumerCategoryHour", "ConsumptionIndustry"),
)

CONSUMPTION_CONSUMER_CATEGORY_HOUR = SourceSpec(
    dataset="ConsumptionConsumerCategoryHour",
    title="Consumption per region and consumer category per hour",
    time_utc="TimeUTC",
    time_local="TimeDK",
    area_column="RegionName",
    area_of=REGION_AREAS,
    segment_columns=("RegionName", "ConsumerCategory3"),
    value_column="ConsumptionkWh",
    value_unit="kWh",
    first_hour="2021-07-31-22:00",
    publication_lag_hours=9 * 24,
    revision_days=730,
    expected_series=tuple(
        (area, segment_of(region, category))
        for region, area in REGION_AREAS.items()
        for category in CONSUMER_CATEGORIES
    ),
)

CONSUMPTION_INDUSTRY = SourceSpec(
    dataset="ConsumptionIndustry",
    title="Consumption per municipality and branch per hour",
    time_utc="HourUTC",
    time_local="HourDK",
    area_column="MunicipalityNo",
    area_of=MUNICIPALITY_AREAS,
    segment_columns=("MunicipalityNo", "Branche"),
    integer_columns=frozenset({"MunicipalityNo"}),
    value_column="ConsumptionkWh",
    value_unit="kWh",
    first_hour="2020-12-31-23:00",
    publication_lag_hours=9 * 24,
    revision_days=730,
    expected_series=tuple(
        (area, segment_of(number, branch))
        for number, area in MUNICIPALITY_AREAS.items()
        for branch in BRANCHES
    ),
)

PRODUCTION_CONSUMPTION_SETTLEMENT = SourceSpec(
    dataset="ProductionConsumptionSettlement",
    title="Gross consumption per price area per hour (settlement)",
    time_utc="HourUTC",
    time_local="HourDK",
    area_column="PriceArea",
    segment_columns=(),
    value_column="GrossConsumptionMWh",
    value_unit="MWh",
    first_hour="2014-12-31-23:00",
    publication_lag_hours=9 * 24,
    revision_days=730,
    expected_series=tuple((area, WHOLE_AREA_SEGMENT) for area in PRICE_AREAS),
)

# Each price area's total load from Energinet's SCADA online measurements, published within the
# hour (the page: "based on online power measurements for SCADA, and therefore with some delay").
# Not a consumption dataset of segments: it gives the areas' level hours after they happen, where
# the settled datasets arrive 8-9 days late (docs/concepts/realtime-level.md). `TotalLoad` is MW
# averaged over the hour = MWh; the dataset's other columns (production by type, exchange) are
# not read. Checked against the page's schema and a real week of its download; never against a
# live response (docs/decisions/0008-realtime-level.md).
ELECTRICITY_BALANCE_NONV = SourceSpec(
    dataset="ElectricityBalanceNonv",
    title="Total load per price area per hour, non-validated (SCADA, near real time)",
    time_utc="HourUTC",
    time_local="HourDK",
    area_column="PriceArea",
    segment_columns=(),
    value_column="TotalLoad",
    value_unit="MWh",
    # The first hour this project holds (the shared file's); the dataset goes back further.
    first_hour="2023-01-01-00:00",
    # An hour is complete when it ends and appears "with some delay" (minutes): one hour after
    # its start plus the schedule's minutes past the hour (defs/realtime.py).
    publication_lag_hours=1,
    # Non-validated values are not revised here: the validated ones are a dataset of their own
    # (ProductionConsumptionSettlement). Two days re-reads what a late SCADA fix could touch.
    revision_days=2,
    expected_series=tuple((area, WHOLE_AREA_SEGMENT) for area in PRICE_AREAS),
)

SOURCES: Mapping[str, SourceSpec] = MappingProxyType(
    {
        spec.dataset: spec
        for spec in (
            CONSUMPTION_DE35_HOUR,
            CONSUMPTION_CONSUMER_CATEGORY_HOUR,
            CONSUMPTION_INDUSTRY,
            PRODUCTION_CONSUMPTION_SETTLEMENT,
            ELECTRICITY_BALANCE_NONV,
        )
    }
)
DEFAULT_DATASET = CONSUMPTION_DE35_HOUR.dataset
LIVE_DATASETS = tuple(name for name, spec in SOURCES.items() if spec.is_live)


class UnknownDatasetError(InputError):
    """A dataset name with no source spec; the message lists the specs there are."""


def spec_for(dataset: str) -> SourceSpec:
    """The source spec of `dataset` (case-insensitive). Raises UnknownDatasetError naming the
    datasets that have a spec."""
    for name, spec in SOURCES.items():
        if name.lower() == dataset.strip().lower():
            return spec
    raise UnknownDatasetError(
        f"ENERGIDATA_DATASET={dataset!r} has no source spec; choose one of "
        f"{', '.join(SOURCES)} (live: {', '.join(LIVE_DATASETS)}), or add a SourceSpec to "
        "energy_assets/sources.py"
    )
