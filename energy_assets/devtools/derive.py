"""Derived stand-ins for the live datasets that have no public copy here, made from the real DE35 slice.

`ConsumptionConsumerCategoryHour` (region × consumer category) and `ConsumptionIndustry`
(municipality × branch) are not bundled anywhere we could reach, so these files stand in for them:
realistic in shape and level because every value is a fixed weighted sum of real DE35 series of
the same price area and hour, but **derived, not real** (energy_assets/data/README.md says so).

How (deterministic; `python -m energy_assets.devtools.derive` rewrites the same bytes):
- DE35 codes map to consumer categories: households 111 / 112 / 119 → Privat; the public-service
  codes 441-447 → Offentlige foretagender; every other code → Erhverv (ConsumerCategory2: Privat
  stays Privat, the rest is Erhverv).
- Each region takes a share of its price area's DE35 series: a base share per region (below),
  times a per-(region, code) factor drawn uniformly from [0.8, 1.2] with a seeded generator, then
  normalised over the area's regions so the regions of an area add up to the area exactly.
  A region × category series is the sum over that category's codes of share × DE35 series.
- Each municipality takes a share of its region's series per branch (Offentlige foretagender →
  Offentligt): seeded log-normal weights per (municipality, branch), normalised within the region
  and branch, so the municipalities of a region add up to the region exactly.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from energy_assets.sources import (
    CONSUMPTION_CONSUMER_CATEGORY_HOUR,
    CONSUMPTION_DE35_HOUR,
    CONSUMPTION_INDUSTRY,
    MUNICIPALITY_AREAS,
    REGION_AREAS,
)

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
DE35_PATH = DATA_DIR / "ConsumptionDE35Hour.csv.gz"
CONSUMER_CATEGORY_PATH = DATA_DIR / "ConsumptionConsumerCategoryHour_derived.csv.gz"
INDUSTRY_PATH = DATA_DIR / "ConsumptionIndustry_derived.csv.gz"
SEED = 35

PRIVATE_CODES = frozenset({111, 112, 119})
PUBLIC_CODES = frozenset({441, 442, 443, 444, 445, 446, 447})
# A region's base share of its price area (roughly its share of the area's population).
REGION_BASE_SHARE = {
    "Region Hovedstaden": 0.65,
    "Region Sjælland": 0.35,
    "Region Midtjylland": 0.40,
    "Region Syddanmark": 0.40,
    "Region Nordjylland": 0.20,
}
BRANCH_OF_CATEGORY = {
    "Erhverv": "Erhverv",
    "Offentlige foretagender": "Offentligt",
    "Privat": "Privat",
}


def category_of(code: int) -> str:
    """The ConsumerCategory3 a DE35 code is counted under."""
    if code in PRIVATE_CODES:
        return "Privat"
    if code in PUBLIC_CODES:
        return "Offentlige foretagender"
    return "Erhverv"


def _regions_of(area: str) -> list[str]:
    return sorted(region for region, a in REGION_AREAS.items() if a == area)


def derive_consumer_category(de35: pd.DataFrame, seed: int = SEED) -> pd.DataFrame:
    """ConsumptionConsumerCategoryHour's columns (TimeUTC, TimeDK, RegionName, ConsumerCategory2,
    ConsumerCategory3, ConsumptionkWh in kWh, 3 decimals) from DE35 records (HourUTC, HourDK,
    PriceArea, ConsumerType_DE35, TotalCon)."""
    rng = np.random.default_rng(seed)
    codes = sorted(int(c) for c in de35["ConsumerType_DE35"].unique())
    wide = de35.pivot_table(
        index=["HourUTC", "HourDK"], columns=["PriceArea", "ConsumerType_DE35"], values="TotalCon"
    )
    frames = []
    for area in ("DK1", "DK2"):
        regions = _regions_of(area)
        factors = rng.uniform(0.8, 1.2, (len(regions), len(codes)))
        shares = np.array([REGION_BASE_SHARE[r] for r in regions])[:, None] * factors
        shares /= shares.sum(axis=0, keepdims=True)  # the area's regions add up to the area
        for i, region in enumerate(regions):
            for category in ("Erhverv", "Offentlige foretagender", "Privat"):
                total = sum(
                    shares[i, j] * wide[(area, code)]
                    for j, code in enumerate(codes)
                    if category_of(code) == category
                )
                frames.append(
                    pd.DataFrame(
                        {
                            "TimeUTC": wide.index.get_level_values("HourUTC"),
                            "TimeDK": wide.index.get_level_values("HourDK"),
                            "RegionName": region,
                            "ConsumerCategory2": "Privat" if category == "Privat" else "Erhverv",
                            "ConsumerCategory3": category,
                            "ConsumptionkWh": np.round(np.asarray(total, dtype=float), 3),
                        }
                    )
                )
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["TimeUTC", "RegionName", "ConsumerCategory3"], ignore_index=True)


def derive_industry(consumer_category: pd.DataFrame, seed: int = SEED) -> pd.DataFrame:
    """ConsumptionIndustry's columns (HourUTC, HourDK, MunicipalityNo, Branche, ConsumptionkWh)
    from the region × category frame `derive_consumer_category` returns."""
    from energy_assets.sources import _MUNICIPALITIES_BY_REGION

    rng = np.random.default_rng(seed + 1)
    frames = []
    for region in sorted(_MUNICIPALITIES_BY_REGION):
        numbers = _MUNICIPALITIES_BY_REGION[region]
        for category in ("Erhverv", "Offentlige foretagender", "Privat"):
            source = consumer_category[
                (consumer_category["RegionName"] == region)
                & (consumer_category["ConsumerCategory3"] == category)
            ]
            weights = rng.lognormal(0.0, 0.8, len(numbers))
            weights /= weights.sum()
            for number, weight in zip(numbers, weights, strict=True):
                frames.append(
                    pd.DataFrame(
                        {
                            "HourUTC": source["TimeUTC"].to_numpy(),
                            "HourDK": source["TimeDK"].to_numpy(),
                            "MunicipalityNo": number,
                            "Branche": BRANCH_OF_CATEGORY[category],
                            "ConsumptionkWh": np.round(
                                source["ConsumptionkWh"].to_numpy() * weight, 3
                            ),
                        }
                    )
                )
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["HourUTC", "MunicipalityNo", "Branche"], ignore_index=True)


def write_website_csv(frame: pd.DataFrame, path: Path, time_columns: tuple[str, ...]) -> None:
    """The website's download convention: `;`-separated, decimal commas, "YYYY-MM-DD hh:mm"."""
    text = frame.copy()
    for column in time_columns:
        text[column] = pd.to_datetime(text[column]).dt.strftime("%Y-%m-%d %H:%M")
    # mtime=0: the same data gives the same bytes.
    import gzip

    with gzip.GzipFile(path, "wb", mtime=0) as handle:
        handle.write(text.to_csv(index=False, sep=";", decimal=",").encode("utf-8"))


def write_api_csv(frame: pd.DataFrame, path: Path, time_columns: tuple[str, ...]) -> None:
    """The API's convention: `,`-separated, `.` decimals, ISO timestamps without a zone."""
    import gzip

    text = frame.copy()
    for column in time_columns:
        text[column] = pd.to_datetime(text[column]).dt.strftime("%Y-%m-%dT%H:%M:%S")
    with gzip.GzipFile(path, "wb", mtime=0) as handle:
        handle.write(text.to_csv(index=False).encode("utf-8"))


def build(out_dir: Path = DATA_DIR) -> dict[str, Path]:
    """Write both stand-ins into `out_dir` (the bundled files by default); their paths by dataset."""
    from energy_assets.ingestion.files import read_api_frame

    de35 = read_api_frame(DE35_PATH, CONSUMPTION_DE35_HOUR)
    consumer_category = derive_consumer_category(de35)
    industry = derive_industry(consumer_category)
    assert set(industry["MunicipalityNo"].astype(str)) == set(MUNICIPALITY_AREAS)
    paths = {}
    for spec, frame, write, name in (
        (
            CONSUMPTION_CONSUMER_CATEGORY_HOUR,
            consumer_category,
            write_website_csv,
            CONSUMER_CATEGORY_PATH.name,
        ),
        (CONSUMPTION_INDUSTRY, industry, write_api_csv, INDUSTRY_PATH.name),
    ):
        path = Path(out_dir) / name
        write(frame, path, (spec.time_utc, spec.time_local))
        print(f"wrote {len(frame):,} rows to {path} ({path.stat().st_size:,} bytes)")
        paths[spec.dataset] = path
    return paths


def main(argv: list[str] | None = None) -> int:
    build()
    return 0


if __name__ == "__main__":
    sys.exit(main())
