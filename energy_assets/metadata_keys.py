"""Materialisation and check metadata that other code reads: each key declared once, with its type.

The assets write these keys (`energy_assets.defs.monitoring`, `.training`, `.forecasting`,
`.checks`); the retrain sensor, the alerts and the demo read them back from the event log. A key
typed as a string in two places turns a rename into silent "no signal" everywhere it is read;
declared here, writer and readers use the same object, and
`energy_assets_tests/test_metadata_keys.py` writes through the writers and reads through the
readers, so a disagreement fails a test.

Only keys some other code reads are here; metadata that is only shown in the UI stays a literal
beside the asset that writes it. Pure Python, no Dagster: `read` takes plain values
(`{key: metadata_value.value}`), as the readers unwrap Dagster's `MetadataValue`s first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class MetadataKey(Generic[T]):
    """One metadata entry: its `name` in the event, how to `convert` a stored value to its type,
    and what it means."""

    name: str
    convert: Callable[[Any], T]
    meaning: str

    def read(self, metadata: Mapping[str, Any]) -> T | None:
        """The value under this key in `metadata` (plain values), converted; None when absent."""
        value = metadata.get(self.name)
        return None if value is None else self.convert(value)


# ----------------------------------------------------------------- drift_report (daily)
DRIFT_SHARE = MetadataKey("drift_share", float, "share of the report's columns that drifted, 0-1")
DATASET_DRIFT = MetadataKey("dataset_drift", bool, "Evidently's verdict: the dataset drifted")
N_DRIFTED_COLUMNS = MetadataKey("n_drifted_columns", int, "how many columns drifted")
DRIFTED_COLUMNS = MetadataKey("drifted_columns", str, "the drifted columns, comma separated")
REPORT_URL = MetadataKey("report", str, "a URL the browser opens for the HTML report")
REPORT_OBJECT = MetadataKey("report_object", str, "the stored HTML report's URI")

# ----------------------------------------------------------------- forecast_accuracy (daily)
MAPE = MetadataKey("mape", float, "pooled MAPE of the day's forecasts (NaN: no actuals yet)")
WAPE = MetadataKey("wape", float, "WAPE of the day's forecasts")
N_POINTS = MetadataKey("n_points", int, "forecast points scored against actuals")
SCORED_SHARE = MetadataKey("scored_share", float, "share of the forecast points that had actuals")
INTERVAL_COVERAGE = MetadataKey(
    "interval_coverage", float, "share of actuals inside the p10-p90 band (target 0.8)"
)
PINBALL = MetadataKey("pinball", float, "pinball loss of p10/p50/p90 over actual kWh")

# ----------------------------------------------------------------- forecasting_model
MODEL_VERSION = MetadataKey(
    "model_version", str, "the version of the tuned configuration this run registered"
)
PROMOTED = MetadataKey(
    "champion", bool, "the tuned configuration won (false: the champion's configuration was refit)"
)
CHAMPION_VERSION = MetadataKey("champion_version", str, "the champion after the decision")
CHALLENGER_VERSION = MetadataKey(
    "challenger_version", str, "the losing configuration's version, alias `challenger`"
)
CHAMPION_SCORE = MetadataKey(
    "champion_score",
    float,
    "the previous champion's configuration, refit on the same window: its backtest score",
)
PROMOTION_MARGIN = MetadataKey(
    "promotion_margin", float, "how much lower (MAPE) the tuned score must be to replace"
)
PROMOTION_REASON = MetadataKey("promotion", str, "the promotion decision as a sentence")
BACKTEST_MAPE = MetadataKey("backtest_mape", float, "the trained version's backtest MAPE (score)")
SEASONAL_NAIVE_168_MAPE = MetadataKey(
    "seasonal_naive_168_mape", float, "the lag-168 seasonal naive's MAPE on the same backtest"
)
TRIALS_RUN = MetadataKey("trials_run", int, "Optuna trials this run added to the study")
MLFLOW_RUN = MetadataKey("mlflow_run", str, "the MLflow run of the tuning session")

# ----------------------------------------------------------------- raw_consumption (hourly)
CONTENT_HASH = MetadataKey(
    "content_hash",
    str,
    "raw_consumption: a hash of the hour's stored records (one-hour runs); correction_sensor "
    "compares it with the records the run replaced",
)
REPLACED_CONTENT_HASH = MetadataKey(
    "replaced_content_hash",
    str,
    "raw_consumption: the content_hash of the records a one-hour run replaced in storage",
)

# ----------------------------------------------------------------- forecasts (hourly)
SERIES = MetadataKey("series", int, "how many series the materialisation holds")
WEATHER_USED = MetadataKey(
    "weather_used", bool, "forecasts: the champion's weather model served at least one origin"
)
WEATHER_REASON = MetadataKey(
    "weather_reason", str, "forecasts: why weather was not used (for some or all origins)"
)
FALLBACK_SERIES = MetadataKey(
    "fallback_series",
    int,
    "forecasts: series served by the labelled fallback at some origin of the run (the alerts)",
)

# ----------------------------------------------------------------- asset checks
UNEXPECTED_ROWS = MetadataKey(
    "unexpected_rows", int, "offending rows over all failed expectations of the check"
)
FAILED_EXPECTATIONS = MetadataKey("failed_expectations", str, "the failed expectations, listed")
# A check that detects a frozen source or a vanished series sets this (alerting.ALERT_KINDS) so
# its failure is announced as such rather than as a generic failed check.
# A range run's per-hour check evaluation (defs/checks.py): it colours the hour on the partition
# bar; the run's own evaluation is the one an alert reports.
RANGE_RUN_HOUR = MetadataKey("range_run_hour", bool, "one hour's verdict within a range run")
ALERT_KIND = MetadataKey("alert_kind", str, "what a failure of this check means for a person")
