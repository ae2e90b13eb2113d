"""The MLflow model registry for the forecaster: package, register, load, and move `champion`.

A registered version of `energy_consumption_forecaster` is an `mlflow.pyfunc` model whose only
artifact is the forecaster's own saved folder (`GlobalLGBMForecaster.save`). Its pyfunc input is a
CLEAN history frame; its output is the forecaster's FORECASTS frame for the origin(s). The code is
not copied into the model: the model loads wherever the `energy_assets` package is installed (the
Dagster image, `mlflow models serve` in that environment).

Every call takes `MlflowSettings` and goes through an explicit client (no process-wide MLflow
state). Which configuration becomes champion is decided by `promotion.decide` (called by
`steps.finalise`); this module registers the versions and moves the aliases.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from energy_assets.contracts import CHALLENGER_ALIAS, CHAMPION_ALIAS, REGISTERED_MODEL_NAME
from energy_assets.redaction import redact
from energy_assets.training.tracking import MlflowSettings, finite_metrics, tracked_run

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

    from energy_assets.training.forecaster import GlobalLGBMForecaster

logger = logging.getLogger(__name__)

# Name of the model inside the run's artifacts and of the forecaster folder inside the model.
MODEL_ARTIFACT_PATH = "model"
FORECASTER_ARTIFACT = "forecaster"

# Models-from-code: the logged model is this script, not a cloudpickle of the class, so it loads
# with whatever energy_assets version is installed where it is served.
_MODEL_CODE = """\
import mlflow.models

from energy_assets.training.pyfunc import ForecasterPyfunc

mlflow.models.set_model(ForecasterPyfunc())
"""


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


def _signature():
    """Params only: MLflow's datetime column schema rejects tz-aware timestamps, and the CLEAN
    contract's are tz-aware UTC, so the input columns are checked by the forecaster instead."""
    from mlflow.models import ModelSignature
    from mlflow.types import ParamSchema, ParamSpec

    return ModelSignature(inputs=None, params=ParamSchema([ParamSpec("origin", "string", "")]))


def _flat_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """{"model": {"mape": .1}, "wape": .2} -> {"model.mape": .1, "wape": .2} (finite numbers only)."""
    flat: dict[str, Any] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flat_metrics(value, prefix=f"{name}."))
        else:
            flat[name] = value
    return finite_metrics(flat)


def _iso(value: Any) -> str:
    return pd.Timestamp(value).isoformat() if value is not None else ""


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


def register(
    forecaster: GlobalLGBMForecaster,
    tracking: MlflowSettings,
    metrics: Mapping[str, Any] | None = None,
    *,
    parent_run_id: str | None = None,
    code_version: str | None = None,
    extra_tags: Mapping[str, str] | None = None,
    run_tags: Mapping[str, str] | None = None,
) -> RegisteredVersion:
    """Log `forecaster` as a pyfunc model in a new run and register it as a new version of
    `energy_consumption_forecaster`.

    metrics: backtest metrics, flat or nested ({"model": {...}, "seasonal_naive_24": {...}});
      logged on the run and copied to the version's tags as `metric.<name>`.
    parent_run_id: nest the run `register-forecaster` under it (e.g. the tuning session).
    code_version: default `current_code_version()` (git sha, or the package version).
    extra_tags: more model-version tags; run_tags: more run tags (e.g. the Dagster run id).
    """
    import mlflow.pyfunc

    flat = _flat_metrics(metrics or {})
    version_tags = {
        "training_start": _iso(forecaster.training_start),
        "training_end": _iso(forecaster.training_end),
        "code_version": code_version or current_code_version(),
        "n_series": str(len(forecaster.series)),
        **{f"metric.{k}": f"{v:.6g}" for k, v in flat.items()},
        **dict(extra_tags or {}),
    }
    run_level_tags = {k: v for k, v in version_tags.items() if not k.startswith("metric.")}
    with (
        tracked_run(
            tracking,
            "register-forecaster",
            parent_run_id=parent_run_id,
            tags={**run_level_tags, **dict(run_tags or {})},
        ) as run,
        tempfile.TemporaryDirectory() as tmp,
    ):
        forecaster_dir = Path(tmp) / FORECASTER_ARTIFACT
        forecaster.save(forecaster_dir)
        model_code = Path(tmp) / "forecaster_pyfunc.py"
        model_code.write_text(_MODEL_CODE)
        model_dir = Path(tmp) / MODEL_ARTIFACT_PATH
        mlflow.pyfunc.save_model(
            path=str(model_dir),
            python_model=str(model_code),
            artifacts={FORECASTER_ARTIFACT: str(forecaster_dir)},
            signature=_signature(),
            pip_requirements=_pip_requirements(),
            metadata={
                "training_start": version_tags["training_start"],
                "training_end": version_tags["training_end"],
            },
        )
        run.log_metrics(flat)
        run.log_artifacts(model_dir, MODEL_ARTIFACT_PATH)
        source = f"{run.artifact_uri.rstrip('/')}/{MODEL_ARTIFACT_PATH}"
    client = tracking.client()
    _ensure_registered_model(client)
    created = client.create_model_version(
        REGISTERED_MODEL_NAME, source=source, run_id=run.run_id, tags=version_tags
    )
    version = str(created.version)
    logger.info("registered %s version %s from run %s", REGISTERED_MODEL_NAME, version, run.run_id)
    return RegisteredVersion(
        name=REGISTERED_MODEL_NAME,
        version=version,
        run_id=run.run_id,
        model_uri=f"models:/{REGISTERED_MODEL_NAME}/{version}",
        tags=version_tags,
    )


def _ensure_registered_model(client: MlflowClient) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(REGISTERED_MODEL_NAME)
    except MlflowException:
        try:
            client.create_registered_model(REGISTERED_MODEL_NAME)
        except MlflowException:
            # Another worker created it between our lookup and create.
            client.get_registered_model(REGISTERED_MODEL_NAME)


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
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(REGISTERED_MODEL_NAME, CHAMPION_ALIAS)
    except MlflowException as error:
        # No registered model yet, or no version carries the alias. Anything else (a server
        # that does not answer, a store that is down) is not "no champion" and surfaces.
        if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def champion_info(tracking: MlflowSettings) -> ChampionInfo | None:
    """The version currently aliased `champion`, its run and training window; None if none."""
    mv = _champion_version(tracking.client())
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


def load_version(tracking: MlflowSettings, version: str | int) -> GlobalLGBMForecaster:
    """Load a registered version straight from its forecaster artifact folder: no pyfunc
    unpickling or environment checks, so it is the fast path for hourly forecasts.

    The version's source is looked up with our own client: MLflow resolves a `models:/` URI
    against its process-wide registry (MLFLOW_TRACKING_URI, else ./mlflow.db), not `tracking`.
    A local artifact store is read in place; remote ones are downloaded to a temp folder.
    """
    import mlflow.artifacts

    from energy_assets.training.forecaster import GlobalLGBMForecaster

    source = tracking.client().get_model_version_download_uri(REGISTERED_MODEL_NAME, str(version))
    artifact_uri = f"{source.rstrip('/')}/artifacts/{FORECASTER_ARTIFACT}"
    if artifact_uri.startswith("file:"):
        # A local artifact store is read in place: no copy, and no download progress bar.
        from mlflow.utils.file_utils import local_file_uri_to_path

        return GlobalLGBMForecaster.load(Path(local_file_uri_to_path(artifact_uri)))
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=artifact_uri,
            dst_path=tmp,
            tracking_uri=tracking.tracking_uri,
        )
        return GlobalLGBMForecaster.load(Path(local))


def load_champion(tracking: MlflowSettings) -> tuple[GlobalLGBMForecaster, str]:
    """(forecaster, version) of the current champion.

    Raises LookupError with a hint when no champion exists yet.
    """
    mv = _champion_version(tracking.client())
    if mv is None:
        raise LookupError(
            f"No '{CHAMPION_ALIAS}' version of '{REGISTERED_MODEL_NAME}' in "
            f"{redact(tracking.tracking_uri)}: "
            "materialise the forecasting_model asset first."
        )
    return load_version(tracking, mv.version), str(mv.version)


def current_champion(tracking: MlflowSettings) -> tuple[GlobalLGBMForecaster, str] | None:
    """(forecaster, version) of the current champion, None when there is none yet."""
    mv = _champion_version(tracking.client())
    return None if mv is None else (load_version(tracking, mv.version), str(mv.version))


def set_aliases(
    tracking: MlflowSettings, *, champion: str | int, challenger: str | int | None = None
) -> None:
    """Point alias `champion` (what hourly forecasts load) and, when given, `challenger` (the
    configuration that lost the last comparison) at these versions."""
    client = tracking.client()
    client.set_registered_model_alias(REGISTERED_MODEL_NAME, CHAMPION_ALIAS, str(champion))
    if challenger is not None:
        client.set_registered_model_alias(REGISTERED_MODEL_NAME, CHALLENGER_ALIAS, str(challenger))


def alias_version(tracking: MlflowSettings, alias: str) -> str | None:
    """The version an alias points at, None when none does."""
    from mlflow.exceptions import MlflowException

    try:
        return str(
            tracking.client().get_model_version_by_alias(REGISTERED_MODEL_NAME, alias).version
        )
    except MlflowException:
        return None


def tag_version(tracking: MlflowSettings, version: str | int, tags: Mapping[str, str]) -> None:
    client = tracking.client()
    for key, value in tags.items():
        client.set_model_version_tag(REGISTERED_MODEL_NAME, str(version), key, value)
