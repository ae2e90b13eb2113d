"""The forecast products the API serves: product name -> stored asset, partitioning and columns.

Each product is stored by the IO manager, one object per partition. The API answers every product
in one set of columns (SERVED_COLUMNS, the product tables' names); `columns` says where each comes
from in a product's own table (the first stored column that exists; none: null).

    forecasts            hourly "YYYY-MM-DD-HH:MM" = the forecast origin (the last settled hour
                         the forecast used); the newest origin is also copied to forecasts/latest
    day_ahead_forecasts  daily "YYYY-MM-DD" = the issue day in Europe/Copenhagen
    intraday_forecasts   hourly "YYYY-MM-DD-HH:MM" = the issue hour (UTC)

A product becomes available as soon as one of its partitions is stored; the default product is
the first available of DEFAULT_ORDER.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from energy_assets.contracts import FORECASTS

HOURLY = "hourly"
DAILY = "daily"

# The columns every forecast answer has, in this order (the product tables' names).
SERVED_COLUMNS = (
    "issued_at",
    "data_origin",
    "area",
    "segment",
    "datetime_utc",
    "lead_hours",
    "prediction",
    "p10",
    "p50",
    "p90",
    "model_version",
    "quality",
    "quality_reason",
    "level_source",
    "weather_used",
)
TIME_COLUMNS = ("issued_at", "data_origin", "datetime_utc")


@dataclass(frozen=True)
class Product:
    """One forecast product: `name` in URLs, its `asset` (storage folder), its partitioning
    (HOURLY or DAILY keys) and `columns` (served column -> stored columns tried in order)."""

    name: str
    asset: str
    partitioning: str
    description: str
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # A fixed-path copy of the newest issue, when the product keeps one.
    latest_asset: str | None = None

    def sources(self, served: str) -> tuple[str, ...]:
        return self.columns.get(served, (served,))


PRODUCTS: dict[str, Product] = {
    product.name: product
    for product in (
        Product(
            name="day-ahead",
            asset="day_ahead_forecasts",
            partitioning=DAILY,
            description="tomorrow's hours (Danish day), issued before the 12:00 CET auction",
        ),
        Product(
            name="intraday",
            asset="intraday_forecasts",
            partitioning=HOURLY,
            description="the hours from the issue hour to the end of tomorrow, issued hourly",
        ),
        Product(
            name="forecasts",
            asset=FORECASTS.name,
            partitioning=HOURLY,
            description="the next 24 hours after each settled origin hour (the forecasts asset)",
            columns={
                # The asset's partition is its origin: the issue it stands for and its data.
                "issued_at": ("forecast_origin",),
                "data_origin": ("forecast_origin",),
                "lead_hours": ("horizon_hours",),
                "p10": ("p10", "prediction_lower"),
                "p50": ("p50", "prediction"),
                "p90": ("p90", "prediction_upper"),
            },
            latest_asset=f"{FORECASTS.name}/latest",
        ),
    )
}
DEFAULT_ORDER = ("day-ahead", "forecasts")


def product_named(name: str) -> Product:
    """The product called `name` (case-insensitive; '_' for '-' too); KeyError if none."""
    key = name.strip().lower().replace("_", "-")
    for product in PRODUCTS.values():
        if key in (product.name, product.asset.replace("_", "-")):
            return product
    raise KeyError(name)
