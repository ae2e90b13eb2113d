"""The forecaster's `mlflow.pyfunc` face: what `mlflow.pyfunc.load_model("models:/…@champion")`
and `mlflow models serve` run. Registered versions name this module in their model code
(`energy_assets.training.model_store`), so it stays importable under this path.
"""

from __future__ import annotations

import pandas as pd
from mlflow.pyfunc import PythonModel

from energy_assets.contracts import CLEAN_COLUMNS, utc, utc_series
from energy_assets.training.model_store import FORECASTER_ARTIFACT


def clean_history(frame: pd.DataFrame) -> pd.DataFrame:
    """The CLEAN columns of a pyfunc input, typed (MLflow may hand timestamps over naive)."""
    history = frame[CLEAN_COLUMNS].copy()
    history["datetime_utc"] = utc_series(history["datetime_utc"])
    history["area"] = history["area"].astype(str)
    history["segment"] = history["segment"].astype(str)
    history["energy_consumption"] = history["energy_consumption"].astype("float64")
    return history


class ForecasterPyfunc(PythonModel):
    """pyfunc face of GlobalLGBMForecaster.

    model_input: CLEAN history (datetime_utc, area, segment, energy_consumption).
    params: optional `origin` (ISO hour, UTC) = forecast from that hour; default the last hour
    of the history. Alternatively a `forecast_origin` column in the input lists the origins.
    Returns the forecaster's FORECASTS frame for the origin(s).
    """

    # No type hints on predict, deliberately: MLflow's type-hint validation would reject the
    # CLEAN frame's tz-aware timestamps. This opts out of it (and of its warning).
    _skip_type_hint_validation = True

    def load_context(self, context) -> None:  # noqa: ANN001 - pyfunc signature
        from energy_assets.training.forecaster import GlobalLGBMForecaster

        self.forecaster = GlobalLGBMForecaster.load(context.artifacts[FORECASTER_ARTIFACT])

    def predict(self, context, model_input, params=None):  # noqa: ANN001 - pyfunc signature
        frame = pd.DataFrame(model_input)
        origins = None
        if params and params.get("origin"):
            origins = [utc(params["origin"])]
        elif "forecast_origin" in frame.columns:
            listed = utc_series(frame["forecast_origin"].dropna()).drop_duplicates()
            origins = list(listed.sort_values()) or None
        return self.forecaster.predict(clean_history(frame), origins=origins)
