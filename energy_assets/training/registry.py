"""MLflow model registry for the consumption forecaster: register, promote `champion`, load it.

A registered version of `energy_consumption_forecaster` is an `mlflow.pyfunc` model whose only
artifact is the forecaster's own saved folder (`GlobalLGBMForecaster.save`). Its pyfunc input is a
CLEAN history frame (datetime_utc, area, consumer_type, energy_consumption); its output is the
FORECASTS frame for the origin(s). The code is not copied into the model: the model loads wherever
the `energy_assets` package is installed (the Dagster image, `mlflow models serve` in that env).

The alias `champion` moves only when a candidate beats the current champion on the SAME backtest
window: the champion is re-scored on the candidate's window, never compared on older numbers. The
one tie that moves it is a refresh: the champion's own configuration retrained on newer data.

No Dagster imports here: the `forecasting_model` asset and the CLI call these functions.
"""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import tempfile
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PythonModel

from energy_assets import config
from energy_assets.features.engineering import CLEAN_COLUMNS

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion

    from energy_assets.training.forecaster import GlobalLGBMForecaster

logger = logging.getLogger(__name__)

REGISTERED_MODEL_NAME = config.REGISTERED_MODEL_NAME
CHAMPION_ALIAS = config.CHAMPION_ALIAS
DEFAULT_EXPERIMENT = "energy_assets"
# Name of the model inside the logged MLflow model and of the forecaster folder inside it.
MODEL_NAME_IN_RUN = "model"
FORECASTER_ARTIFACT = "forecaster"


def quiet_mlflow() -> None:
    """Mute MLflow chatter that says nothing to a platform user (alembic migrations on every
    sqlite open, 'no signature/input example' hints, pip-inference notes)."""
    for name in (
        "alembic",
        "mlflow.store.db.utils",
        "mlflow.utils.uv_utils",
        "mlflow.models.model",
    ):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("alembic.runtime.migration", "mlflow.utils.environment"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"mlflow(\..*)?")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


# --------------------------------------------------------------------------- settings


def _default_artifact_location(tracking_uri: str) -> str | None:
    """For a local sqlite store keep artifacts beside the db file (MLflow would otherwise use
    ./mlruns relative to whatever the working directory happens to be)."""
    if tracking_uri.startswith("sqlite:///"):
        db_path = Path(tracking_uri.removeprefix("sqlite:///"))
        return (db_path.parent / "mlartifacts").resolve().as_uri()
    return None


@dataclass(frozen=True)
class MlflowSettings:
    """Where runs and registered models go. Plain data so domain code needs no Dagster."""

    tracking_uri: str = field(default_factory=config.mlflow_tracking_uri)
    experiment_name: str = DEFAULT_EXPERIMENT
    registry_uri: str | None = None  # None = same store as tracking
    artifact_location: str | None = None  # None = beside the sqlite db, or the server's default

    def activate(self) -> str:
        """Point the (process-global) MLflow client here, create the experiment if needed,
        make it the active experiment, and return its id."""
        quiet_mlflow()
        if self.tracking_uri.startswith("sqlite:///"):
            Path(self.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(
                parents=True, exist_ok=True
            )
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.registry_uri or self.tracking_uri)
        client = self.client()
        experiment = client.get_experiment_by_name(self.experiment_name)
        if experiment is None:
            location = self.artifact_location or _default_artifact_location(self.tracking_uri)
            try:
                experiment_id = client.create_experiment(
                    self.experiment_name, artifact_location=location
                )
            except MlflowException:
                # Another worker created it between our lookup and create.
                experiment = client.get_experiment_by_name(self.experiment_name)
                if experiment is None:
                    raise
                experiment_id = experiment.experiment_id
        else:
            experiment_id = experiment.experiment_id
        mlflow.set_experiment(experiment_id=experiment_id)
        global _ACTIVE
        _ACTIVE = self
        return experiment_id

    def client(self) -> MlflowClient:
        return MlflowClient(
            tracking_uri=self.tracking_uri, registry_uri=self.registry_uri or self.tracking_uri
        )


# The settings last activated in this process (e.g. by the MlflowTracking resource's setup()), so
# functions called without `tracking` use the same store instead of the environment's default.
_ACTIVE: MlflowSettings | None = None


def _settings(settings: MlflowSettings | None) -> MlflowSettings:
    settings = settings or _ACTIVE or MlflowSettings()
    settings.activate()
    return settings


def current_code_version() -> str:
    """Git commit of the working tree the package runs from (with '-dirty' if modified), else
    the installed package version."""
    repo = Path(__file__).resolve().parents[2]

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=repo, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        sha = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
        return f"{sha}-dirty" if dirty else sha
    except (OSError, subprocess.SubprocessError):
        try:
            return f"energy-assets=={metadata.version('energy-assets')}"
        except metadata.PackageNotFoundError:
            return "unknown"


# --------------------------------------------------------------------------- pyfunc wrapper


def _utc_timestamp(value: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _as_utc(values: pd.Series) -> pd.Series:
    """MLflow's schema enforcement may hand timestamps over naive; the CLEAN contract is UTC."""
    values = pd.to_datetime(values)
    if values.dt.tz is None:
        return values.dt.tz_localize("UTC")
    return values.dt.tz_convert("UTC")


class ForecasterPyfunc(PythonModel):
    """pyfunc face of GlobalLGBMForecaster.

    model_input: CLEAN history (datetime_utc, area, consumer_type, energy_consumption).
    params: optional `origin` (ISO hour, UTC) = forecast from that hour; default the last hour
    of the history. Alternatively a `forecast_origin` column in the input lists the origins.
    Returns the FORECASTS frame (area, consumer_type, forecast_origin, datetime_utc,
    horizon_hours, prediction, prediction_lower, prediction_upper).
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
            origins = [_utc_timestamp(params["origin"])]
        elif "forecast_origin" in frame.columns:
            listed = _as_utc(frame["forecast_origin"].dropna()).drop_duplicates()
            origins = list(listed.sort_values()) or None
        history = frame[CLEAN_COLUMNS].copy()
        history["datetime_utc"] = _as_utc(history["datetime_utc"])
        history["area"] = history["area"].astype(str)
        history["consumer_type"] = history["consumer_type"].astype("int64")
        history["energy_consumption"] = history["energy_consumption"].astype("float64")
        return self.forecaster.predict(history, origins=origins)


def _signature():
    """Params only: MLflow's datetime column schema rejects tz-aware timestamps, and the CLEAN
    contract's are tz-aware UTC, so the input columns are checked by the forecaster instead."""
    from mlflow.models import ModelSignature
    from mlflow.types import ParamSchema, ParamSpec

    return ModelSignature(inputs=None, params=ParamSchema([ParamSpec("origin", "string", "")]))


# Models-from-code: the logged model is this script, not a cloudpickle of the class, so it loads
# with whatever energy_assets version is installed where it is served.
_MODEL_CODE = """\
import mlflow.models

from energy_assets.training.registry import ForecasterPyfunc

mlflow.models.set_model(ForecasterPyfunc())
"""


def _pip_requirements() -> list[str]:
    """Pinned from the running environment: MLflow's own inference would import-trace the model
    in a subprocess (seconds per registration) and cannot see that energy_assets is needed."""
    reqs = []
    for dist in ("mlflow", "lightgbm", "pandas", "numpy", "polars", "pyarrow", "holidays"):
        try:
            reqs.append(f"{dist}=={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            continue
    return reqs


# --------------------------------------------------------------------------- register


@dataclass(frozen=True)
class RegisteredVersion:
    """One registered model version: what the Dagster asset reports as metadata."""

    name: str
    version: str
    run_id: str
    model_uri: str  # models:/name/version
    tags: dict[str, str]

    def __str__(self) -> str:
        return self.version


def _flat_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """{"model": {"mape": .1}, "wape": .2} -> {"model.mape": .1, "wape": .2} (finite numbers only)."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flat_metrics(value, prefix=f"{name}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            if math.isfinite(float(value)):
                flat[name] = float(value)
    return flat


def _iso(value: Any) -> str:
    return pd.Timestamp(value).isoformat() if value is not None else ""


def log_and_register(
    forecaster: GlobalLGBMForecaster,
    metrics: Mapping[str, Any] | None = None,
    *,
    data_window: tuple[Any, Any] | None = None,
    run_id: str | None = None,
    parent_run_id: str | None = None,
    tracking: MlflowSettings | None = None,
    code_version: str | None = None,
    extra_tags: Mapping[str, str] | None = None,
    run_tags: Mapping[str, str] | None = None,
) -> RegisteredVersion:
    """Log `forecaster` as a pyfunc model and register it as a new version of
    `energy_consumption_forecaster`.

    metrics: backtest metrics, flat or nested ({"model": {...}, "seasonal_naive_24": {...}});
      logged on the run and copied to the version's tags as `metric.<name>`.
    data_window: (training_start, training_end); default the forecaster's own attributes.
    run_id: log into this existing run; else a new run `register-forecaster` is made,
      nested under `parent_run_id` when given (e.g. the tuning session's parent run).
    code_version: default `current_code_version()` (git sha, or the package version).
    extra_tags: more model-version tags; run_tags: more run tags (e.g. the Dagster run id).
    """
    settings = _settings(tracking)
    client = settings.client()
    start, end = data_window or (forecaster.training_start, forecaster.training_end)
    flat = _flat_metrics(metrics or {})
    version_tags = {
        "training_start": _iso(start),
        "training_end": _iso(end),
        "code_version": code_version or current_code_version(),
        "n_series": str(len(getattr(forecaster, "series", []) or [])),
        **{f"metric.{k}": f"{v:.6g}" for k, v in flat.items()},
        **dict(extra_tags or {}),
    }

    active = mlflow.active_run()
    run_ctx: Any
    if run_id and active is not None and active.info.run_id == run_id:
        run_ctx = _NullContext(active)
    elif run_id:
        run_ctx = mlflow.start_run(run_id=run_id, nested=active is not None)
    else:
        run_ctx = mlflow.start_run(
            run_name="register-forecaster",
            nested=active is not None or parent_run_id is not None,
            parent_run_id=parent_run_id,
        )

    with run_ctx as run, tempfile.TemporaryDirectory() as tmp:
        forecaster_dir = Path(tmp) / FORECASTER_ARTIFACT
        forecaster.save(forecaster_dir)
        model_code = Path(tmp) / "forecaster_pyfunc.py"
        model_code.write_text(_MODEL_CODE)
        if flat:
            mlflow.log_metrics(flat)
        mlflow.set_tags(
            {
                **{k: v for k, v in version_tags.items() if not k.startswith("metric.")},
                **dict(run_tags or {}),
            }
        )
        info = mlflow.pyfunc.log_model(
            name=MODEL_NAME_IN_RUN,
            python_model=str(model_code),
            artifacts={FORECASTER_ARTIFACT: str(forecaster_dir)},
            signature=_signature(),
            pip_requirements=_pip_requirements(),
            registered_model_name=REGISTERED_MODEL_NAME,
            metadata={
                "training_start": version_tags["training_start"],
                "training_end": version_tags["training_end"],
            },
        )
        used_run_id = run.info.run_id

    version = str(info.registered_model_version)
    for key, value in version_tags.items():
        client.set_model_version_tag(REGISTERED_MODEL_NAME, version, key, value)
    logger.info("registered %s version %s from run %s", REGISTERED_MODEL_NAME, version, used_run_id)
    return RegisteredVersion(
        name=REGISTERED_MODEL_NAME,
        version=version,
        run_id=used_run_id,
        model_uri=f"models:/{REGISTERED_MODEL_NAME}/{version}",
        tags=version_tags,
    )


class _NullContext:
    """Context manager yielding an already active run without ending it."""

    def __init__(self, run: Any) -> None:
        self.run = run

    def __enter__(self) -> Any:
        return self.run

    def __exit__(self, *exc: object) -> None:
        return None


# --------------------------------------------------------------------------- champion


@dataclass(frozen=True)
class ChampionInfo:
    version: str
    run_id: str
    tags: dict[str, str]
    training_start: str | None
    training_end: str | None
    model_uri: str  # models:/name@champion


def _champion_version(client: MlflowClient) -> ModelVersion | None:
    try:
        return client.get_model_version_by_alias(REGISTERED_MODEL_NAME, CHAMPION_ALIAS)
    except MlflowException:
        # No registered model yet, or no version carries the alias.
        return None


def champion_info(tracking: MlflowSettings | None = None) -> ChampionInfo | None:
    """The version currently aliased `champion`, its run and training window; None if none."""
    client = _settings(tracking).client()
    mv = _champion_version(client)
    if mv is None:
        return None
    tags = dict(mv.tags or {})
    return ChampionInfo(
        version=str(mv.version),
        run_id=mv.run_id or "",
        tags=tags,
        training_start=tags.get("training_start"),
        training_end=tags.get("training_end"),
        model_uri=f"models:/{REGISTERED_MODEL_NAME}@{CHAMPION_ALIAS}",
    )


def load_version(
    version: str | int, tracking: MlflowSettings | None = None
) -> GlobalLGBMForecaster:
    """Load a registered version straight from its forecaster artifact folder: no pyfunc
    unpickling or environment checks, so it is the fast path for hourly forecasts."""
    from energy_assets.training.forecaster import GlobalLGBMForecaster

    _settings(tracking)
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{REGISTERED_MODEL_NAME}/{version}/artifacts/{FORECASTER_ARTIFACT}",
            dst_path=tmp,
        )
        return GlobalLGBMForecaster.load(Path(local))


def load_champion(
    tracking: MlflowSettings | None = None, *, via_pyfunc: bool = False
) -> tuple[GlobalLGBMForecaster, str]:
    """(forecaster, version) of the current champion.

    via_pyfunc=True goes through `mlflow.pyfunc.load_model("models:/...@champion")` (what a
    serving process does); the default reads the raw artifacts, which is the same model, faster.
    Raises LookupError with a hint when no champion exists yet.
    """
    settings = _settings(tracking)
    mv = _champion_version(settings.client())
    if mv is None:
        raise LookupError(
            f"No '{CHAMPION_ALIAS}' version of '{REGISTERED_MODEL_NAME}' in {settings.tracking_uri}: "
            "materialise the forecasting_model asset first."
        )
    if via_pyfunc:
        model = mlflow.pyfunc.load_model(f"models:/{REGISTERED_MODEL_NAME}/{mv.version}")
        return model.unwrap_python_model().forecaster, str(mv.version)
    return load_version(mv.version, tracking=settings), str(mv.version)


@dataclass(frozen=True)
class PromotionDecision:
    """Outcome of `promote_if_better`; `reason` is a sentence for Dagster metadata."""

    promoted: bool
    champion_version: str  # the champion after the decision
    candidate_version: str
    candidate_score: float
    champion_score: float | None  # previous champion re-scored on the same window; None if none
    reason: str


def _leak_note(champion: ModelVersion, window_start: Any) -> str:
    """A warning when the champion's training data overlaps the backtest window."""
    trained_until = (champion.tags or {}).get("training_end")
    if window_start is None or not trained_until:
        return ""
    if _utc_timestamp(trained_until) >= _utc_timestamp(window_start):
        return (
            f" Note: the champion trained until {trained_until}, inside this window, so its "
            "score is optimistic."
        )
    return ""


def holdout_evaluator(
    consumption: pd.DataFrame,
    origins: Iterable[Any],
    horizon_hours: int = 24,
    metric: str = "mape",
) -> Callable[[GlobalLGBMForecaster], float]:
    """Score any fitted forecaster on one fixed backtest window: forecast from each origin using
    the history up to it (from `consumption`, CLEAN) and compare with the actuals in `consumption`.
    Lower is better (pooled MAPE by default, or 'wape' / 'median_series_mape')."""
    from energy_assets import metrics as metric_functions

    origin_list = [_utc_timestamp(o) for o in origins]
    actuals = consumption[["datetime_utc", "area", "consumer_type", "energy_consumption"]].rename(
        columns={"energy_consumption": "actual"}
    )

    def evaluate(forecaster: GlobalLGBMForecaster) -> float:
        history = consumption[consumption["datetime_utc"] <= max(origin_list)]
        predictions = forecaster.predict(history, origins=origin_list)
        predictions = predictions[predictions["horizon_hours"] <= horizon_hours]
        joined = predictions.merge(actuals, on=["datetime_utc", "area", "consumer_type"])
        if joined.empty:
            raise ValueError(
                "No actuals for the backtest window: the origins' next "
                f"{horizon_hours} hours are not in the consumption frame."
            )
        return float(metric_functions.score(joined, "prediction")[metric])

    return evaluate


def refit_evaluator(
    consumption: pd.DataFrame,
    cutoff: Any,
    origins: int | Iterable[Any],
    horizon_hours: int = 24,
    metric: str = "mape",
) -> Callable[[GlobalLGBMForecaster], float]:
    """Score a forecaster's CONFIGURATION on one backtest: refit its params on `consumption` up to
    `cutoff` and forecast `origins` (energy_assets.training.backtest). Use it as
    `evaluate_champion` when the champion may have trained on part of the window (a retrain
    within days of the last one), so neither model has seen the window's actuals."""
    from energy_assets.training.backtest import backtest

    origin_arg = origins if isinstance(origins, int) else list(origins)

    def evaluate(forecaster: GlobalLGBMForecaster) -> float:
        result = backtest(
            consumption, cutoff, origin_arg, horizon_hours=horizon_hours, params=forecaster.params
        )
        return float(result.metrics["model"][metric])

    return evaluate


def _refreshes(candidate: GlobalLGBMForecaster, champion: GlobalLGBMForecaster) -> str | None:
    """Why `candidate` is the champion's configuration retrained on newer data, or None.

    Scored by configuration (`refit_evaluator`), the same params tie by construction; the
    tie then goes to the model that has seen the newer hours (what a drift retrain is for).
    """
    same_config = json.dumps(candidate.params, sort_keys=True, default=str) == json.dumps(
        champion.params, sort_keys=True, default=str
    )
    new_end, old_end = candidate.training_end, champion.training_end
    if not same_config or new_end is None or old_end is None or new_end <= old_end:
        return None
    return f"trained on data up to {new_end:%Y-%m-%dT%H:%MZ} (the champion's ends {old_end:%Y-%m-%dT%H:%MZ})"


def promote_if_better(
    candidate_version: RegisteredVersion | str | int,
    evaluate: Callable[[GlobalLGBMForecaster], float] | None = None,
    *,
    candidate_score: float | None = None,
    evaluate_champion: Callable[[GlobalLGBMForecaster], float] | None = None,
    tracking: MlflowSettings | None = None,
    candidate: GlobalLGBMForecaster | None = None,
    window: str = "",
    window_start: Any = None,
) -> PromotionDecision:
    """Move alias `champion` to the candidate iff it scores strictly lower than the current
    champion on the same backtest window (lower is better, e.g. pooled MAPE).

    Either pass `evaluate` (scores any fitted forecaster on the window, e.g. `holdout_evaluator`;
    used for both models), or the candidate's own `candidate_score` from that window's backtest
    plus `evaluate_champion` to re-score the current champion on exactly that window. Scores
    from different windows are never compared: the champion is always re-scored here.

    The first registered model becomes champion; a tie keeps the old champion, except when the
    candidate is the champion's own configuration trained on newer data (a refresh: scored by
    configuration the two tie by construction, and the newer model has seen the newer hours).
    `candidate`
    (the in-memory forecaster) saves a download. `window` names the backtest window in the
    reason sentence; `window_start` (its first origin) lets the reason flag a champion that
    trained on part of the window. The decision is also written as tags on the candidate version.
    """
    settings = _settings(tracking)
    client = settings.client()
    candidate_version = str(candidate_version)
    evaluate_champion = evaluate_champion or evaluate
    if evaluate_champion is None or (candidate_score is None and evaluate is None):
        raise TypeError("pass `evaluate`, or `candidate_score` and `evaluate_champion`")
    on_window = f" on {window}" if window else " on the same backtest window"
    if candidate_score is None:
        assert evaluate is not None
        candidate_model = (
            candidate
            if candidate is not None
            else load_version(candidate_version, tracking=settings)
        )
        candidate_score = float(evaluate(candidate_model))
    candidate_score = float(candidate_score)
    current = _champion_version(client)

    champion_score: float | None = None
    if current is None:
        promoted = True
        reason = (
            f"Version {candidate_version} is the first champion of {REGISTERED_MODEL_NAME} "
            f"(score {candidate_score:.4f}{on_window}; there was no champion to beat)."
        )
    elif str(current.version) == candidate_version:
        promoted = False
        champion_score = candidate_score
        reason = f"Version {candidate_version} already is the champion; nothing to do."
    else:
        champion_model = load_version(current.version, tracking=settings)
        champion_score = float(evaluate_champion(champion_model))
        leak = _leak_note(current, window_start)
        refresh = (
            _refreshes(
                candidate
                if candidate is not None
                else load_version(candidate_version, tracking=settings),
                champion_model,
            )
            if candidate_score == champion_score
            else None
        )
        if candidate_score < champion_score:
            promoted = True
            reason = (
                f"Version {candidate_version} beat champion version {current.version}{on_window}: "
                f"score {candidate_score:.4f} < {champion_score:.4f}; it is the new champion.{leak}"
            )
        elif refresh:
            promoted = True
            reason = (
                f"Version {candidate_version} ties champion version {current.version}{on_window} "
                f"(score {candidate_score:.4f}) with the same configuration, {refresh}: the "
                "refreshed model is the new champion."
            )
        else:
            promoted = False
            relation = "ties" if candidate_score == champion_score else "is worse than"
            reason = (
                f"Version {candidate_version} {relation} champion version {current.version}"
                f"{on_window} (score {candidate_score:.4f} vs {champion_score:.4f}); "
                f"champion stays version {current.version}.{leak}"
            )

    if promoted:
        client.set_registered_model_alias(REGISTERED_MODEL_NAME, CHAMPION_ALIAS, candidate_version)
    decision_tags = {
        "promotion.candidate_score": f"{candidate_score:.6g}",
        "promotion.champion_score": "" if champion_score is None else f"{champion_score:.6g}",
        "promotion.promoted": str(promoted).lower(),
        "promotion.reason": reason,
    }
    for key, value in decision_tags.items():
        client.set_model_version_tag(REGISTERED_MODEL_NAME, candidate_version, key, value)
    logger.info(reason)
    return PromotionDecision(
        promoted=promoted,
        champion_version=candidate_version if promoted or current is None else str(current.version),
        candidate_version=candidate_version,
        candidate_score=candidate_score,
        champion_score=champion_score,
        reason=reason,
    )
