"""Segments that add up to their area: reconciliation of segment forecasts to an area total.

A price area's segments (consumer categories, municipalities, ...) are forecast one by one from
the settled data; the area's total may be forecast apart (from Energinet's real-time feed,
`forecasting/area_totals.py`, when it exists). Each method here is one small function over the
same shapes, in the manner of Nixtla's hierarchicalforecast (BottomUp, TopDown, MinTrace):

* `bottom_up`: no separate total; the area total IS the sum of its segments (level_source
  "settled").
* `proportional` (top-down by forecast proportions): each segment keeps its share of the
  segments' sum at that hour and the hour's total is the given area total. The shares come from
  the segments' own forecasts for the target hour, not from history: hourly shares move with
  the hour of day and the day kind, which a historic average would smear.
* `min_trace_diagonal` (MinT with a diagonal error covariance, WLS): the gap between the total
  and the segments' sum is spread over the segments in proportion to each one's error variance,
  estimated from its own p10..p90 band. A segment forecast tightly keeps its value; a loose one
  absorbs the gap. Unlike `proportional` it can move a segment by more than its share.

Quantiles: p10 / p50 / p90 of each segment are moved by the same ratio (proportional) or the same
shift (MinT) as its point forecast, floored at 0. The area's band after `bottom_up` is the sum of
the segments' bands (errors taken as fully correlated: wider than the truth when they are not).
Shapes: `segments` has `area`, `segment`, `datetime_utc`, `prediction`, `p10`, `p50`, `p90`
(+ any key columns such as `issued_at`, kept); `totals` has `area`, `datetime_utc`, `p10`,
`p50`, `p90` (the contract of forecasting/area_totals.py), in the same unit as the segments.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from energy_assets.contracts import QUANTILE_COLUMNS

_HOUR_KEYS = ["area", "datetime_utc"]
_VALUES = ["prediction", *QUANTILE_COLUMNS]


def bottom_up(segments: pd.DataFrame) -> pd.DataFrame:
    """Each area's total per target hour: the sums of its segments' prediction and quantiles."""
    keys = [c for c in ("issued_at", *_HOUR_KEYS) if c in segments.columns]
    return segments.groupby(keys, as_index=False, observed=True)[_VALUES].sum()


def _with_totals(segments: pd.DataFrame, totals: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in (*_HOUR_KEYS, "p50") if c not in totals.columns]
    if missing:
        raise ValueError(f"area totals lack columns {missing}; expected area, datetime_utc, p50")
    wanted = totals[_HOUR_KEYS + ["p50"]].rename(columns={"p50": "_total"})
    merged = segments.merge(wanted, on=_HOUR_KEYS, how="left", validate="many_to_one")
    uncovered = merged["_total"].isna()
    if uncovered.any():
        first = merged[uncovered].iloc[0]
        raise ValueError(
            f"no area total for {first['area']} at {first['datetime_utc']} "
            f"({int(uncovered.sum())} segment rows uncovered): give totals for every target hour"
        )
    merged["_sum"] = merged.groupby(_HOUR_KEYS, observed=True)["prediction"].transform("sum")
    return merged


def proportional(segments: pd.DataFrame, totals: pd.DataFrame) -> pd.DataFrame:
    """Top-down by forecast proportions: each segment scaled by total / (sum of the segments)."""
    merged = _with_totals(segments, totals)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(merged["_sum"] > 0, merged["_total"] / merged["_sum"], np.nan)
    n = merged.groupby(_HOUR_KEYS, observed=True)["prediction"].transform("size")
    # All segments forecast 0: split the total evenly (nothing says otherwise).
    even = merged["_total"] / n
    out = segments.copy()
    for column in _VALUES:
        scaled = np.where(np.isfinite(ratio), merged[column] * ratio, even.to_numpy())
        out[column] = np.clip(scaled, 0, None)
    return out


def min_trace_diagonal(segments: pd.DataFrame, totals: pd.DataFrame) -> pd.DataFrame:
    """MinT (WLS): the gap to the total spread in proportion to each segment's error variance,
    the variance from its p10..p90 band ((p90 - p10) / 2.563 is one standard deviation of a
    normal). Segments without a band share the gap by their size."""
    merged = _with_totals(segments, totals)
    sigma = (merged["p90"] - merged["p10"]).clip(lower=0) / 2.563
    variance = np.where(sigma > 0, sigma**2, (1e-3 * merged["prediction"].abs()) ** 2 + 1e-12)
    merged["_var"] = variance
    share = merged["_var"] / merged.groupby(_HOUR_KEYS, observed=True)["_var"].transform("sum")
    shift = share * (merged["_total"] - merged["_sum"])
    out = segments.copy()
    for column in _VALUES:
        out[column] = np.clip((merged[column] + shift).to_numpy(), 0, None)
    # A floor at 0 can break the sum; give what the floor took back proportionally.
    return proportional(out, totals) if (merged["prediction"] + shift < 0).any() else out


METHODS: dict[str, Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]] = {
    "proportional": proportional,
    "min_trace_diagonal": min_trace_diagonal,
}
# What the products use with a real-time total. Measured: docs/decisions/0007-forecast-products.md.
DEFAULT_METHOD = "proportional"


def reconcile(
    segments: pd.DataFrame, totals: pd.DataFrame | None, method: str = DEFAULT_METHOD
) -> tuple[pd.DataFrame, str]:
    """(segments reconciled to `totals`, level_source). Without totals the segments stay as
    forecast and their sum is the area total (bottom-up, level_source "settled"); with them the
    segments add up to the totals' p50 at every hour (level_source "realtime")."""
    if totals is None or len(totals) == 0:
        return segments, "settled"
    if method not in METHODS:
        raise ValueError(f"unknown reconciliation {method!r}; choose one of {sorted(METHODS)}")
    return METHODS[method](segments, totals), "realtime"
