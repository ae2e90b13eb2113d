"""Revisions: which published hours the source has changed since we stored them, and what was
computed from them. No Dagster: the revision pass (`energy_assets.defs.revisions`) calls these.

Energi Data Service corrects published hours for months (the live datasets are "normally 99.9 %
correct after 8 days", corrected after about 3 months, and up to 2 years later). The revision pass
re-reads a window of hours, `compare_hours` says which stored hours differ from what the source
serves now, and `affected_partitions` says which partitions were computed from them:

- raw_consumption: the revised hours themselves;
- consumption_features: the revised hours and the `LOOKBACK_HOURS` (168) after each, whose lag and
  rolling features read them;
- forecasts: the origins whose input window (`FORECAST_HISTORY_HOURS`, 360) holds a revised hour;
- forecast_accuracy: the days whose actuals hold a revised hour (targets of a day's origins run
  from 01:00 that day to 23:00 the next) and the days whose forecasts are re-made.

Only partitions that exist are returned: a partition never materialised is missing, not stale.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from energy_assets.contracts import (
    FORECAST_HISTORY_HOURS,
    LOOKBACK_HOURS,
    day_key,
    hour_key,
    hour_of_key,
    hour_text,
)
from energy_assets.sources import SourceSpec

# A day's origins (00:00-23:00) have targets from 01:00 that day to 23:00 the next.
_ACCURACY_TARGET_HOURS = 48


@dataclass(frozen=True)
class LargestChange:
    """The largest change of one value between what was stored and what is served now."""

    series: str  # the dataset's own series columns, e.g. "PriceArea=DK1, ConsumerType_DE35=111"
    hour: pd.Timestamp  # UTC
    stored: float
    served: float
    unit: str

    @property
    def absolute(self) -> float:
        return abs(self.served - self.stored)

    @property
    def relative(self) -> float:
        """|served - stored| / |stored|; inf when the stored value was 0."""
        return self.absolute / abs(self.stored) if self.stored != 0 else float("inf")

    def __str__(self) -> str:
        return (
            f"{self.series} at {hour_text(self.hour)}: {self.stored:,.3f} → {self.served:,.3f} "
            f"{self.unit} ({self.served - self.stored:+,.3f} {self.unit}, {self.relative:.2%})"
        )


@dataclass(frozen=True)
class RevisionReport:
    """What the source serves now against what is stored, for the stored hours of a window.

    revised_hours: stored UTC hours whose records differ (a value changed, a series row added or
    removed), ascending. withdrawn_hours: stored hours the source now serves nothing for (not
    re-ingested: raw would fail on a missing hour; a person should look). unstored_hours: hours
    served but never stored (not revisions: ingesting them is the backfill's job).
    """

    hours_compared: int
    revised_hours: tuple[pd.Timestamp, ...]
    changed_values: int
    added_rows: int
    removed_rows: int
    largest: LargestChange | None
    withdrawn_hours: tuple[pd.Timestamp, ...] = ()
    unstored_hours: int = 0

    def summary(self) -> str:
        if not self.revised_hours:
            return f"No revised hours among {self.hours_compared} stored hours."
        largest = f"; largest change {self.largest}" if self.largest else ""
        return (
            f"{len(self.revised_hours)} of {self.hours_compared} stored hours revised "
            f"({self.changed_values} values changed, {self.added_rows} rows added, "
            f"{self.removed_rows} removed){largest}."
        )


def _keyed(raw: pd.DataFrame, spec: SourceSpec) -> pd.DataFrame:
    """Rows keyed by (hour, series columns, occurrence): conflicting duplicates pair up in order."""
    key = [spec.time_utc, *spec.series_columns]
    frame = raw[[*key, spec.value_column]].copy()
    frame[spec.time_utc] = pd.to_datetime(frame[spec.time_utc]).astype("datetime64[ns]")
    for column in spec.series_columns:
        frame[column] = frame[column].astype(str)
    frame = frame.sort_values([*key, spec.value_column], na_position="last")
    frame["_occurrence"] = frame.groupby(key, sort=False).cumcount()
    return frame


def compare_hours(stored: pd.DataFrame, served: pd.DataFrame, spec: SourceSpec) -> RevisionReport:
    """Compare the stored RAW records with those served now (both the spec's RAW frame).

    Exact duplicates should be collapsed in both first (as raw_consumption stores them). Values
    are compared exactly (both went through the same parser and parquet round trip); null equals
    null. Only hours present in `stored` are compared.
    """
    time = spec.time_utc
    value = spec.value_column
    left = _keyed(stored, spec)
    stored_hours = pd.DatetimeIndex(left[time].unique())
    right = _keyed(served, spec)
    served_hours = pd.DatetimeIndex(right[time].unique())
    right = right[right[time].isin(stored_hours)]
    key = [time, *spec.series_columns, "_occurrence"]
    both = left.merge(right, on=key, how="outer", suffixes=("_stored", "_served"), indicator=True)
    before, after = both[f"{value}_stored"], both[f"{value}_served"]
    matched = both["_merge"] == "both"
    changed = matched & ~((before == after) | (before.isna() & after.isna()))
    removed = both["_merge"] == "left_only"
    added = both["_merge"] == "right_only"
    withdrawn = stored_hours.difference(served_hours)
    differing = both.loc[changed | added | (removed & ~both[time].isin(withdrawn)), time]
    revised = pd.DatetimeIndex(differing.unique()).sort_values().tz_localize("UTC")

    largest = None
    deltas = (after - before).abs().where(changed & before.notna() & after.notna())
    if deltas.notna().any():
        row = both.loc[deltas.idxmax()]
        largest = LargestChange(
            series=", ".join(f"{c}={row[c]}" for c in spec.series_columns),
            hour=pd.Timestamp(row[time]).tz_localize("UTC"),
            stored=float(row[f"{value}_stored"]),
            served=float(row[f"{value}_served"]),
            unit=spec.value_unit,
        )
    return RevisionReport(
        hours_compared=len(stored_hours),
        revised_hours=tuple(revised),
        changed_values=int(changed.sum()),
        added_rows=int(added.sum()),
        removed_rows=int((removed & ~both[time].isin(withdrawn)).sum()),
        largest=largest,
        withdrawn_hours=tuple(withdrawn.sort_values().tz_localize("UTC")),
        unstored_hours=len(served_hours.difference(stored_hours)),
    )


@dataclass(frozen=True)
class AffectedPartitions:
    """Partition keys to re-materialise after a revision, per asset, each sorted ascending."""

    raw_consumption: tuple[str, ...]
    consumption_features: tuple[str, ...]
    forecasts: tuple[str, ...]
    forecast_accuracy: tuple[str, ...]

    @property
    def is_empty(self) -> bool:
        return not self.raw_consumption


def _hours_after(hours: Iterable[pd.Timestamp], reach_hours: int) -> set[str]:
    """Hour keys of each hour and the `reach_hours` hours after it."""
    starts = pd.DatetimeIndex(list(hours))
    if starts.empty:
        return set()
    offsets = pd.to_timedelta(np.arange(reach_hours + 1), unit="h")
    reached = (starts.values[:, None] + offsets.values[None, :]).ravel()
    return {hour_key(h) for h in pd.DatetimeIndex(np.unique(reached)).tz_localize("UTC")}


def affected_partitions(
    revised_hours: Iterable[pd.Timestamp],
    materialised_features: Collection[str],
    materialised_forecasts: Collection[str],
    materialised_accuracy: Collection[str],
) -> AffectedPartitions:
    """Which partitions were computed from `revised_hours` (UTC) and exist.

    materialised_*: the partition keys that exist (hourly keys for features and forecasts, daily
    for accuracy); only those are returned, since a missing partition is not stale.
    """
    hours = sorted(pd.Timestamp(h).tz_convert("UTC") for h in revised_hours)
    naive = [h.tz_localize(None) for h in hours]
    features = _hours_after(naive, LOOKBACK_HOURS) & set(materialised_features)
    forecasts = _hours_after(naive, FORECAST_HISTORY_HOURS - 1) & set(materialised_forecasts)
    # Day D scores targets in [D 01:00, D+2 00:00): an actual at H is in the days starting in
    # (H - 48 h, H - 1 h].
    scored_days = {
        day_key(start)
        for h in hours
        for start in (
            (h - pd.Timedelta(hours=1)).floor("D") - pd.Timedelta(days=back) for back in (0, 1)
        )
        if h - pd.Timedelta(hours=_ACCURACY_TARGET_HOURS) < start
    }
    reforecast_days = {day_key(hour_of_key(k)) for k in forecasts}
    accuracy = (scored_days | reforecast_days) & set(materialised_accuracy)
    return AffectedPartitions(
        raw_consumption=tuple(hour_key(h) for h in hours),
        consumption_features=tuple(sorted(features)),
        forecasts=tuple(sorted(forecasts)),
        forecast_accuracy=tuple(sorted(accuracy)),
    )


def contiguous_spans(hour_keys: Iterable[str]) -> list[tuple[str, str]]:
    """Hourly keys as (first, last) runs of consecutive hours, ascending."""
    hours = sorted(hour_of_key(k) for k in set(hour_keys))
    spans: list[tuple[str, str]] = []
    for hour in hours:
        if spans and hour - hour_of_key(spans[-1][1]) == pd.Timedelta(hours=1):
            spans[-1] = (spans[-1][0], hour_key(hour))
        else:
            spans.append((hour_key(hour), hour_key(hour)))
    return spans
