"""Calendar and Danish public-holiday features, vectorised over a column of UTC hours.

Electricity use follows local (Danish) time: people wake, work and sleep by the wall clock,
so every calendar feature is computed in Europe/Copenhagen, which also makes DST days right.
"""

from __future__ import annotations

from functools import lru_cache

import holidays
import numpy as np
import pandas as pd

from energy_assets.contracts import CALENDAR_COLUMNS, DANISH_TZ, OFF_DAY, YEAR_END_BREAK

# Days the Danish grid sees as holiday-like even though they are not statutory holidays.
_EXTRA_HOLIDAY_DAYS = ((12, 24), (12, 31), (6, 5))


@lru_cache(maxsize=64)
def _danish_holidays(year: int) -> frozenset:
    days = set(holidays.Denmark(years=year).keys())
    for month, day in _EXTRA_HOLIDAY_DAYS:
        days.add(pd.Timestamp(year=year, month=month, day=day).date())
    return frozenset(days)


def danish_holiday_dates(years) -> set:
    """The Danish public holidays (plus Christmas Eve, New Year's Eve, Constitution Day) of `years`."""
    out: set = set()
    for year in years:
        out |= _danish_holidays(int(year))
    return out


def is_danish_holiday(local_dates: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """Boolean array: is each local date a Danish (holiday-like) day."""
    dates = pd.DatetimeIndex(local_dates).normalize()
    if len(dates) == 0:
        return np.zeros(0, dtype=bool)
    holiday_days = danish_holiday_dates(range(dates.year.min(), dates.year.max() + 1))
    holiday_index = pd.DatetimeIndex(sorted(pd.Timestamp(d) for d in holiday_days))
    if dates.tz is not None:
        dates = dates.tz_localize(None)
    return np.asarray(dates.isin(holiday_index))


def calendar_features(datetime_utc: pd.Series | pd.DatetimeIndex) -> pd.DataFrame:
    """Calendar features of each UTC hour, in Danish local time.

    Returns a frame aligned with the input: hour_of_day (0-23), day_of_week (0=Monday),
    day_of_year, is_weekend, is_holiday, is_holiday_eve (the next local day is a holiday)
    and is_bridge_day (a working day between a holiday and a weekend).
    """
    utc = pd.DatetimeIndex(datetime_utc)
    if utc.tz is None:
        utc = utc.tz_localize("UTC")
    local = utc.tz_convert(DANISH_TZ)
    local_day = local.tz_localize(None).normalize()
    is_holiday = is_danish_holiday(local_day)
    next_is_holiday = is_danish_holiday(local_day + pd.Timedelta(days=1))
    prev_is_holiday = is_danish_holiday(local_day - pd.Timedelta(days=1))
    weekday = np.asarray(local.dayofweek)
    is_weekend = weekday >= 5
    # Friday after Ascension Day and the like: many take the day off.
    is_bridge = (
        (~is_holiday)
        & (~is_weekend)
        & ((prev_is_holiday & (weekday == 4)) | (next_is_holiday & (weekday == 0)))
    )
    columns = {
        "hour_of_day": np.asarray(local.hour, dtype=np.int8),
        "day_of_week": weekday.astype(np.int8),
        "day_of_year": np.asarray(local.dayofyear, dtype=np.int16),
        "is_weekend": is_weekend,
        "is_holiday": is_holiday,
        "is_holiday_eve": next_is_holiday & ~is_holiday,
        "is_bridge_day": is_bridge,
    }
    return pd.DataFrame(
        {name: columns[name] for name in CALENDAR_COLUMNS},
        index=datetime_utc.index if isinstance(datetime_utc, pd.Series) else None,
    )


def day_kinds(datetime_utc: pd.DatetimeIndex, calendar: pd.DataFrame) -> dict[str, np.ndarray]:
    """The day kinds the model reads besides the calendar columns, for each UTC hour.

    YEAR_END_BREAK: 24 Dec ... 1 Jan (local). The Christmas - New Year break behaves like a
    holiday although most of its days are not statutory holidays; every year, so it generalises
    beyond a training window. OFF_DAY: weekend, holiday or year-end break. `calendar` is
    calendar_features(datetime_utc) (passed in: the holidays are computed once).
    """
    local = pd.DatetimeIndex(datetime_utc).tz_convert(DANISH_TZ)
    year_end_break = np.asarray(
        ((local.month == 12) & (local.day >= 24)) | ((local.month == 1) & (local.day == 1))
    )
    off_day = calendar["is_weekend"].to_numpy() | calendar["is_holiday"].to_numpy() | year_end_break
    return {YEAR_END_BREAK: year_end_break, OFF_DAY: off_day}
