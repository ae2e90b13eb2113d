"""Data-drift report of recent feature rows against a reference window (Evidently 0.7).

What "drift" means here. Consumption spans 89 ... 1.6M kWh across the 76 (area, segment)
series, so the pooled distribution of `energy_consumption` mostly reflects the series mix, which
never changes (every hour has every series). A real level shift in a few series barely moves it,
and a day compared with weeks always differs on calendar columns. So by default the report
compares:

- `energy_relative` = energy_consumption / the series' median over the *reference* window.
  (`DriftResult.series_levels` also gives each series' median ratio: which series moved.)
  Unit-free and comparable across series: a day whose series sit at their usual level (daily
  cycle included, since a day covers all 24 hours) matches the reference; a level shift of the
  series moves it. This is the column that answers "has consumption changed?".
- `energy_consumption` in kWh, pooled: kept because it is the contract column and a change of the
  series mix (a big consumer type appearing or vanishing) shows up there.
- every other numeric feature (lags, rolling statistics, relative_to_weekly_mean), as the model
  sees them.

Left out by default: the timestamp, area / segment (constant mix; their presence is the
asset checks' job) and the calendar columns (hour_of_day, day_of_week, day_of_year, is_*): they are
deterministic functions of the timestamp, so one day against four weeks would always "drift" on
day_of_week without saying anything about the data. Pass `columns=` to override.

What the model consumes is compared too, in its own section (`model_input_drift`): the
numerical MODEL_INPUTS (the log of the level and the ratio_* log-ratios; not the horizon nor
the calendar, for the reason above), built by the forecaster's own builder
(features/model_inputs.py) for forecasts from every hour of the day (horizons 1..24) against
those from every MODEL_INPUT_ORIGIN_STEP_HOURS-th hour of the reference window. Both sides are sampled to
MAX_MODEL_INPUT_ROWS rows so the report stays cheap. It has its own drift share and does not
change `drift_share` / `dataset_drift` above (what the retrain sensor reads).

Statistical tests are Evidently's defaults for the data size (normed Wasserstein distance, drift at
>= 0.1, for numerical columns with more than 1,000 reference rows; Jensen-Shannon for
categoricals). The dataset drifts when the share of drifted columns is >= drift_share_threshold.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from energy_assets.contracts import (
    CALENDAR_COLUMNS,
    CLEAN,
    CLEAN_COLUMNS,
    MODEL_INPUTS,
    SERIES_KEYS,
    Horizon,
    OriginCalendar,
    ReferenceDayCalendar,
    TargetCalendar,
    utc,
)

RELATIVE_COLUMN = "energy_relative"
CATEGORICAL_COLUMNS = tuple(SERIES_KEYS)
# Reference data: the champion's training window, capped so a report stays fast.
MAX_REFERENCE_DAYS = 28
# Functions of the timestamp only: comparing a day with weeks of them says nothing about the data.
_NOT_COMPARED = frozenset({CLEAN.time_column, "forecast_origin", *CATEGORICAL_COLUMNS})
# History the model inputs of one origin read: 14 days of same-hour lags plus the level's day.
MODEL_INPUT_HISTORY = pd.Timedelta(days=15)
# Reference origins every 7th hour: coprime with 24, so every hour of day takes its turn.
MODEL_INPUT_ORIGIN_STEP_HOURS = 7
MAX_MODEL_INPUT_ROWS = 20_000
# The model inputs compared: numbers about the data, not functions of the timestamp.
MODEL_INPUT_DRIFT_COLUMNS = [
    spec.name
    for spec in MODEL_INPUTS
    if not isinstance(spec.kind, Horizon | TargetCalendar | OriginCalendar | ReferenceDayCalendar)
]


@dataclass(frozen=True)
class DriftResult:
    """Outcome of one drift comparison.

    html: the standalone Evidently report; drift_share: share of compared columns that drifted;
    dataset_drift: drift_share >= the threshold; drifted_columns: their names;
    column_scores: one row per requested column (column, stattest, threshold, score, drifted);
        a column without values on one side is listed as not compared (NaN score) and is not
        counted in drift_share.
    series_levels: one row per series in `current` (area, segment, level_ratio =
        median of the current energy over the series' reference median), largest move first:
        which series moved, for metadata and humans; not part of the drift verdict.
    """

    html: str
    drift_share: float
    dataset_drift: bool
    drifted_columns: list[str] = field(default_factory=list)
    column_scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    series_levels: pd.DataFrame = field(default_factory=pd.DataFrame)


def reference_window(
    day_start: pd.Timestamp,
    champion_training: tuple[str | None, str | None] | None,
    champion_version: str | None = None,
) -> tuple[pd.Timestamp, pd.Timestamp, str]:
    """(start, end, description) of the reference hours [start, end) for a day's drift report.

    The champion's training window (its last MAX_REFERENCE_DAYS) when there is a champion with
    a recorded window (`champion_training` = (training_start, training_end), ISO hours), else
    the MAX_REFERENCE_DAYS before the day.
    """
    cap = pd.Timedelta(days=MAX_REFERENCE_DAYS)
    if champion_training is not None and champion_training[1]:
        first, last = champion_training
        end = utc(last) + pd.Timedelta(hours=1)
        start = max(utc(first), end - cap) if first else end - cap
        return start, end, f"champion v{champion_version} training window"
    day = utc(day_start)
    return day - cap, day, f"no champion yet: the {MAX_REFERENCE_DAYS} days before"


def default_drift_columns(frame: pd.DataFrame) -> list[str]:
    """The columns compared when none are given: see the module docstring for why."""
    numeric = [
        column
        for column in frame.columns
        if column not in _NOT_COMPARED
        and column not in CALENDAR_COLUMNS
        and column != "energy_consumption"
        and pd.api.types.is_numeric_dtype(frame[column])
        and not pd.api.types.is_bool_dtype(frame[column])
    ]
    leading = [RELATIVE_COLUMN, "energy_consumption"]
    return leading + [column for column in numeric if column not in leading]


def with_relative_energy(
    frame: pd.DataFrame, series_median: pd.Series, column: str = RELATIVE_COLUMN
) -> pd.DataFrame:
    """`frame` plus `column` = energy_consumption / series_median of the row's series.

    `series_median` is indexed by (area, segment). A series absent from it (or with a
    median of 0) gets NaN, which Evidently treats as missing rather than as a huge value.
    """
    medians = series_median.replace(0.0, np.nan).rename("_series_median")
    out = frame.join(medians, on=SERIES_KEYS)
    out[column] = out["energy_consumption"] / out.pop("_series_median")
    return out


def build_drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: list[str] | None = None,
    drift_share_threshold: float = 0.5,
) -> DriftResult:
    """Compare `current` feature rows with `reference` rows (typically the training window).

    Both frames have the CLEAN columns (datetime_utc, area, segment, energy_consumption)
    plus any numeric feature columns. `columns` picks the compared columns (may include
    `energy_relative`, which is derived here); by default see `default_drift_columns`.
    """
    if reference.empty or current.empty:
        raise ValueError(
            f"drift needs rows on both sides: reference has {len(reference)}, "
            f"current has {len(current)}; materialise the upstream feature partitions first"
        )
    series_median = reference.groupby(SERIES_KEYS)["energy_consumption"].median()
    reference = with_relative_energy(reference, series_median)
    current = with_relative_energy(current, series_median)

    compared = list(columns) if columns is not None else default_drift_columns(reference)
    missing = [c for c in compared if c not in reference.columns or c not in current.columns]
    if missing:
        raise ValueError(f"drift columns missing from the feature rows: {missing}")
    # A column with no values on one side (lags in the data's first week) cannot be compared;
    # Evidently would raise. It is reported as not compared and left out of the share.
    empty = [c for c in compared if reference[c].isna().all() or current[c].isna().all()]
    requested, compared = compared, [c for c in compared if c not in empty]
    if not compared:
        raise ValueError(f"no drift column has values on both sides: {requested}")

    html, column_scores = _evidently_drift(reference, current, compared, drift_share_threshold)
    if empty:
        not_compared = pd.DataFrame(
            {"column": empty, "stattest": "not compared: no values on one side", "drifted": False}
        )
        column_scores = pd.concat([column_scores, not_compared], ignore_index=True)
    drifted = column_scores.loc[column_scores["drifted"], "column"].tolist()
    drift_share = len(drifted) / len(compared) if compared else 0.0
    return DriftResult(
        html=html,
        drift_share=float(drift_share),
        # Evidently's rule: the dataset drifts when at least the threshold share of columns does.
        dataset_drift=bool(compared) and drift_share >= drift_share_threshold,
        drifted_columns=drifted,
        column_scores=column_scores,
        series_levels=_series_levels(current),
    )


def model_input_drift(
    reference_history: pd.DataFrame,
    reference_hours: tuple[pd.Timestamp, pd.Timestamp],
    current_history: pd.DataFrame,
    day: tuple[pd.Timestamp, pd.Timestamp],
    drift_share_threshold: float = 0.5,
    horizon_hours: int = 24,
    seed: int = 0,
) -> DriftResult:
    """Drift of what the model consumes: MODEL_INPUT_DRIFT_COLUMNS of the day against the
    reference window, built by features/model_inputs.py as the forecaster builds them.

    *_history: CLEAN rows (implausible values already set missing, as the forecaster reads them)
    from MODEL_INPUT_HISTORY before the window / day up to its end; windows are [start, end)
    hours. Origins: every hour of the day; every MODEL_INPUT_ORIGIN_STEP_HOURS-th hour of the
    reference window. `series_levels` is empty (the feature report has it).
    """
    from energy_assets.features.model_inputs import model_input_frame

    def inputs(history: pd.DataFrame, start, end, step: int) -> pd.DataFrame:
        origins = pd.date_range(utc(start), utc(end) - pd.Timedelta(hours=1), freq=f"{step}h")
        clean = history[CLEAN_COLUMNS]
        frame = model_input_frame(
            clean[clean[CLEAN.time_column] < utc(end)], origins, horizon_hours
        )
        if len(frame) > MAX_MODEL_INPUT_ROWS:
            frame = frame.sample(MAX_MODEL_INPUT_ROWS, random_state=seed).sort_index()
        return frame

    for name, history in (("reference", reference_history), ("current", current_history)):
        if history.empty:
            raise ValueError(f"model-input drift needs {name} history; it has no rows")
    reference = inputs(reference_history, *reference_hours, MODEL_INPUT_ORIGIN_STEP_HOURS)
    current = inputs(current_history, *day, 1)
    compared = [
        c
        for c in MODEL_INPUT_DRIFT_COLUMNS
        if np.isfinite(reference[c]).any() and np.isfinite(current[c]).any()
    ]
    if not compared:
        raise ValueError(
            "no model input has values on both sides: the series need "
            f"{MODEL_INPUT_HISTORY.days} days of history before the window and the day"
        )
    html, scores = _evidently_drift(
        reference.replace([np.inf, -np.inf], np.nan),
        current.replace([np.inf, -np.inf], np.nan),
        compared,
        drift_share_threshold,
    )
    drifted = scores.loc[scores["drifted"], "column"].tolist()
    share = len(drifted) / len(compared)
    return DriftResult(
        html=html,
        drift_share=float(share),
        dataset_drift=share >= drift_share_threshold,
        drifted_columns=drifted,
        column_scores=scores,
    )


def _evidently_drift(
    reference: pd.DataFrame, current: pd.DataFrame, compared: list[str], threshold: float
) -> tuple[str, pd.DataFrame]:
    """(standalone HTML, one score row per compared column) from Evidently's drift preset."""
    # Imported here: evidently takes ~5 s to import, which every run process and the code
    # server would otherwise pay on load, drift report or not.
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    categorical = [c for c in compared if _is_categorical(reference[c])]
    numerical = [c for c in compared if c not in categorical]
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    report = Report(
        [DataDriftPreset(columns=compared, drift_share=threshold)],
        include_tests=True,
    )
    # Only the compared columns go in: Evidently would otherwise profile (and plot) the rest.
    snapshot = report.run(
        current_data=Dataset.from_pandas(
            _for_evidently(current[compared]), data_definition=definition
        ),
        reference_data=Dataset.from_pandas(
            _for_evidently(reference[compared]), data_definition=definition
        ),
    )
    column_scores = _column_scores(json.loads(snapshot.json()), compared)
    return snapshot.get_html_str(as_iframe=False), column_scores


def _series_levels(current: pd.DataFrame) -> pd.DataFrame:
    levels = (
        current.groupby(SERIES_KEYS, observed=True)[RELATIVE_COLUMN]
        .median()
        .rename("level_ratio")
        .reset_index()
    )
    order = (levels["level_ratio"] - 1.0).abs().sort_values(ascending=False, kind="stable").index
    return levels.loc[order].reset_index(drop=True)


def _is_categorical(values: pd.Series) -> bool:
    return (
        isinstance(values.dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(values)
        or pd.api.types.is_string_dtype(values)
        or values.name in CATEGORICAL_COLUMNS
    )


def _for_evidently(frame: pd.DataFrame) -> pd.DataFrame:
    # Booleans as 0/1 so a user-chosen flag column is a numeric distribution, not an error.
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_bool_dtype(out[column]):
            out[column] = out[column].astype("int8")
    return out.reset_index(drop=True)


def _column_scores(snapshot: dict, compared: list[str]) -> pd.DataFrame:
    """One row per compared column from the snapshot's ValueDrift metrics and their tests."""
    by_metric_id: dict[str, dict] = {}
    for metric in snapshot.get("metrics", []):
        config = metric.get("config", {})
        if config.get("type", "").endswith(":ValueDrift"):
            by_metric_id[metric["id"]] = {
                "column": config["column"],
                "stattest": config.get("method"),
                "threshold": config.get("threshold"),
                "score": float(metric["value"]),
                "drifted": False,
            }
    for test in snapshot.get("tests", []):
        entry = by_metric_id.get(test.get("metric_config", {}).get("metric_id", ""))
        if entry is not None:
            entry["drifted"] = test.get("status") == "FAIL"
    rows = {entry["column"]: entry for entry in by_metric_id.values()}
    absent = [c for c in compared if c not in rows]
    if absent:
        raise RuntimeError(f"Evidently returned no drift score for columns {absent}")
    return pd.DataFrame(
        [rows[c] for c in compared], columns=["column", "stattest", "threshold", "score", "drifted"]
    )
