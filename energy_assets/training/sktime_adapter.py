"""sktime face of GlobalLGBMForecaster, so sktime's splitters, `evaluate`, metrics and baselines
(NaiveForecaster) run on the same model.

y: pd.DataFrame, sktime's "pd_multiindex_hier" mtype, index (area, segment, time) with the
time level an hourly PeriodIndex or DatetimeIndex (naive = UTC, or tz-aware), one column of kWh.
fh: relative (1..24) or absolute; every step must lie within horizon_hours of the cutoff.
The adapter only converts frames; all modelling lives in GlobalLGBMForecaster.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sktime.forecasting.base import BaseForecaster

from energy_assets.training.forecaster import GlobalLGBMForecaster


def _to_utc(times: pd.Index) -> pd.DatetimeIndex:
    if isinstance(times, pd.PeriodIndex):
        times = times.to_timestamp()
    times = pd.DatetimeIndex(times)
    return times.tz_localize("UTC") if times.tz is None else times.tz_convert("UTC")


def _from_utc(times: pd.DatetimeIndex, like: pd.Index) -> pd.Index:
    """UTC hours back in the time-index type of `like` (the y the user gave)."""
    if isinstance(like, pd.PeriodIndex):
        return times.tz_localize(None).to_period("h")
    like = pd.DatetimeIndex(like)
    return times if like.tz is not None else times.tz_localize(None)


class SktimeGlobalForecaster(BaseForecaster):
    """sktime BaseForecaster wrapping GlobalLGBMForecaster (one global model over all series)."""

    _tags = {
        "y_inner_mtype": "pd_multiindex_hier",
        "X_inner_mtype": "pd_multiindex_hier",
        "scitype:y": "univariate",
        "ignores-exogeneous-X": True,
        "requires-fh-in-fit": False,
        "handles-missing-data": True,
        "capability:pred_int": False,
        "authors": ["energy_assets"],
    }

    def __init__(self, params=None, horizon_hours: int = 24, random_state: int = 0):
        self.params = params
        self.horizon_hours = horizon_hours
        self.random_state = random_state
        super().__init__()
        # predict() reads the data seen so far (self._y): keep it across sktime's default change.
        self.set_config(remember_data=True)

    def _clean(self, y: pd.DataFrame) -> pd.DataFrame:
        if y.index.nlevels != 3:
            raise ValueError(
                f"y needs a 3-level index (area, segment, time); got {y.index.nlevels} levels"
            )
        return pd.DataFrame(
            {
                "datetime_utc": _to_utc(y.index.get_level_values(-1)),
                "area": y.index.get_level_values(0).astype(str),
                "segment": y.index.get_level_values(1).astype(str),
                "energy_consumption": y.iloc[:, 0].to_numpy(dtype="float64"),
            }
        )

    def _fit(self, y, X=None, fh=None):
        self.forecaster_ = GlobalLGBMForecaster(
            self.params, horizon_hours=self.horizon_hours, random_state=self.random_state
        ).fit(self._clean(y))
        return self

    def _predict(self, fh, X=None):
        cutoff = self.cutoff
        cutoff = cutoff[0] if isinstance(cutoff, pd.Index) else cutoff
        steps = np.asarray(fh.to_relative(self.cutoff), dtype=np.int64)
        if steps.min() < 1 or steps.max() > self.horizon_hours:
            raise ValueError(f"fh steps must lie in 1..{self.horizon_hours}; got {list(steps)}")
        origin = _to_utc(pd.Index([cutoff]))[0]
        forecast = self.forecaster_.predict(self._clean(self._y), origin)
        forecast = forecast[forecast["horizon_hours"].isin(steps)]
        time_like = self._y.index.get_level_values(-1)
        index = pd.MultiIndex.from_arrays(
            [
                forecast["area"].to_numpy(),
                forecast["segment"].to_numpy(),
                _from_utc(pd.DatetimeIndex(forecast["datetime_utc"]), time_like),
            ],
            names=self._y.index.names,
        )
        return pd.DataFrame(
            {self._y.columns[0]: forecast["prediction"].to_numpy()}, index=index
        ).sort_index()

    @classmethod
    def get_test_params(cls, parameter_set="default"):
        return {"params": {"num_boost_round": 10, "max_train_rows": 5_000}}
