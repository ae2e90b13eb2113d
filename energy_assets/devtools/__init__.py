"""Tools around the platform, not part of it: the replay API, the synthetic data generator, the
demo and the course's pipeline (a baseline). Reached through the `energy-assets` console script;
the Dagster definitions never import this package.
"""

from pathlib import Path

# The bundled real 27-day slice of ConsumptionDE35Hour (see energy_assets/data/README.md).
SAMPLE_DATA_PATH = Path(__file__).resolve().parents[1] / "data" / "ConsumptionDE35Hour.csv.gz"
# One bundled file per source spec, in that dataset's own columns: the demo's and the tests' data.
DATA_DIR = SAMPLE_DATA_PATH.parent
BUNDLED_DATA_PATHS = {
    "ConsumptionDE35Hour": SAMPLE_DATA_PATH,
    "ConsumptionConsumerCategoryHour": DATA_DIR / "ConsumptionConsumerCategoryHour_derived.csv.gz",
    "ConsumptionIndustry": DATA_DIR / "ConsumptionIndustry_derived.csv.gz",
    "ProductionConsumptionSettlement": DATA_DIR / "ProductionConsumptionSettlement_DK2.csv.gz",
    "ElectricityBalanceNonv": DATA_DIR / "ElectricityBalanceNonv_DK1_DK2.csv.gz",
}
# DMI's real hourly national weather, 2022-11-02 → 2025-04-29 (see energy_assets/data/README.md).
WEATHER_SAMPLE_PATH = (
    Path(__file__).resolve().parents[1] / "data" / "weather_dmi_national_hourly.csv.gz"
)
