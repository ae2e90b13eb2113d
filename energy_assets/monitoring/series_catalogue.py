"""The series catalogue: which series the configured dataset is expected to hold, and what changed.

A dataset's series change: a municipality merges, a consumer category is split, Energinet stops
publishing one. The catalogue is the spec's `expected_series` plus the changes someone accepted,
stored as `<storage>/series_catalogue/<dataset>.json` (`{"added": [[area, segment], ...],
"retired": [...], "accepted_at": ...}`), so accepting a change edits data, not code.

`compare` names the series an hour range lacks (retired? a gap?) and those it holds beyond the
catalogue (new); the features' non-blocking check reports them, and `energy-assets series accept`
records the change. Nothing here stops a series from being built or forecast: the known series
keep being forecast meanwhile, and so do new ones (with a short-history fallback).

No Dagster; pandas only inside the functions that need it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from energy_assets.contracts import InputError
from energy_assets.sources import SEGMENT_SEPARATOR, SourceSpec

if TYPE_CHECKING:
    import pandas as pd

    from energy_assets.storage.parquet_store import ParquetStore

CATALOGUE_FOLDER = "series_catalogue"
Series = tuple[str, str]


def catalogue_relpath(dataset: str) -> str:
    return f"{CATALOGUE_FOLDER}/{dataset}.json"


def series_text(series: Series) -> str:
    """`DK2/Region Hovedstaden / Privat`: how a series is named in messages and on the command line."""
    return f"{series[0]}/{series[1]}"


def parse_series(text: str) -> Series:
    """`AREA/SEGMENT` (as `series_text` writes it) → (area, segment); InputError if it is not."""
    area, sep, segment = text.partition("/")
    if not sep or not area.strip() or not segment.strip():
        raise InputError(
            f"{text!r} is not AREA/SEGMENT; write e.g. DK2/total, DK1/111 or "
            f"'DK2/Region Hovedstaden{SEGMENT_SEPARATOR}Privat'"
        )
    return area.strip(), segment.strip()


@dataclass(frozen=True)
class SeriesCatalogue:
    """The expected series of one dataset: the spec's, plus accepted additions, minus retirements."""

    dataset: str
    spec_series: frozenset[Series]
    added: frozenset[Series] = frozenset()
    retired: frozenset[Series] = frozenset()
    accepted_at: str | None = None
    # Series accepted as legitimately flat (a closed site at zero): no flatliner flag
    # (features.plausibility).
    flat_ok: frozenset[Series] = frozenset()

    @property
    def expected(self) -> frozenset[Series]:
        return (self.spec_series | self.added) - self.retired

    def accept(self, add: Iterable[Series] = (), retire: Iterable[Series] = ()) -> SeriesCatalogue:
        """A catalogue with `add` expected and `retire` no longer expected (either may undo the other)."""
        add, retire = frozenset(add), frozenset(retire)
        both = add & retire
        if both:
            raise InputError(
                f"{', '.join(sorted(map(series_text, both)))}: both added and retired; choose one"
            )
        return SeriesCatalogue(
            self.dataset,
            self.spec_series,
            added=(self.added - retire) | (add - self.spec_series),
            retired=(self.retired - add) | (retire & (self.spec_series | self.added)),
            accepted_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            flat_ok=self.flat_ok,
        )

    def accept_flat(self, series: Iterable[Series]) -> SeriesCatalogue:
        """A catalogue where `series` may be flat (a closed site): not flagged as flatliners."""
        return replace(
            self,
            flat_ok=self.flat_ok | frozenset(series),
            accepted_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "dataset": self.dataset,
                "added": sorted(map(list, self.added)),
                "retired": sorted(map(list, self.retired)),
                "flat_ok": sorted(map(list, self.flat_ok)),
                "accepted_at": self.accepted_at,
            },
            indent=2,
            ensure_ascii=False,
        )


def load_catalogue(store: ParquetStore, spec: SourceSpec) -> SeriesCatalogue:
    """The catalogue of `spec`'s dataset: its expected series plus what was accepted in `store`."""
    base = SeriesCatalogue(spec.dataset, frozenset(spec.expected_series))
    try:
        stored = json.loads(store.read_bytes(catalogue_relpath(spec.dataset)))
    except FileNotFoundError:
        return base
    return SeriesCatalogue(
        spec.dataset,
        base.spec_series,
        added=frozenset(tuple(s) for s in stored.get("added", [])),  # type: ignore[misc]
        retired=frozenset(tuple(s) for s in stored.get("retired", [])),  # type: ignore[misc]
        accepted_at=stored.get("accepted_at"),
        flat_ok=frozenset(tuple(s) for s in stored.get("flat_ok", [])),  # type: ignore[misc]
    )


def save_catalogue(store: ParquetStore, catalogue: SeriesCatalogue) -> str:
    return store.write_bytes(
        catalogue_relpath(catalogue.dataset),
        catalogue.to_json().encode("utf-8"),
        content_type="application/json",
    )


@dataclass(frozen=True)
class CatalogueComparison:
    """What a range of hours holds against the catalogue.

    missing: expected series absent from at least one hour, with the hours they lack;
    new: series present but not expected, with the hours they appear in.
    """

    hours: int
    missing: dict[Series, int] = field(default_factory=dict)
    new: dict[Series, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.new

    def summary(self, dataset: str, limit: int = 10) -> str:
        """One paragraph a person can act on."""
        if self.ok:
            return f"every hour holds exactly the {dataset} catalogue's series"
        parts = []
        if self.missing:
            named = ", ".join(
                f"{series_text(s)} ({n}/{self.hours} h)"
                for s, n in list(self.missing.items())[:limit]
            )
            parts.append(
                f"{len(self.missing)} expected series missing: {named}. If the source stopped "
                "publishing them, run `energy-assets series accept --retire AREA/SEGMENT`; if it "
                "is a gap, re-materialise raw_consumption for those hours once it is published"
            )
        if self.new:
            named = ", ".join(
                f"{series_text(s)} ({n}/{self.hours} h)" for s, n in list(self.new.items())[:limit]
            )
            parts.append(
                f"{len(self.new)} series not in the catalogue: {named}. They are built and "
                "forecast already; record them with `energy-assets series accept --add "
                "AREA/SEGMENT` (or `--newest` to accept what the newest hour shows)"
            )
        return "; ".join(parts) + "."


def compare(
    frame: pd.DataFrame, catalogue: SeriesCatalogue, time_column: str
) -> CatalogueComparison:
    """Compare the (area, segment) series of each hour in `frame` with the catalogue."""
    hours = int(frame[time_column].nunique())
    counts = frame.groupby(["area", "segment"], observed=True)[time_column].nunique()
    present = {(str(a), str(s)): int(n) for (a, s), n in counts.items()}
    missing = {
        s: hours - present.get(s, 0)
        for s in sorted(catalogue.expected)
        if present.get(s, 0) < hours
    }
    new = {s: n for s, n in sorted(present.items()) if s not in catalogue.expected}
    return CatalogueComparison(hours=hours, missing=missing, new=new)


def newest_hour_series(frame: pd.DataFrame, time_column: str) -> frozenset[Series]:
    """The series the newest hour of `frame` holds."""
    newest = frame[frame[time_column] == frame[time_column].max()]
    return frozenset(
        (str(a), str(s)) for a, s in newest[["area", "segment"]].drop_duplicates().to_numpy()
    )
