"""Environment-driven settings shared by the CLI, the resources and the demo.

Every variable is optional; the defaults give a laptop setup: local folder storage and
sqlite MLflow under DAGSTER_HOME, the public Energi Data Service API.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_API_URL = "https://api.energidataservice.dk"
DEFAULT_DATASET = "ConsumptionDE35Hour"
# First hour of ConsumptionDE35Hour (UTC), in Dagster's hourly partition key format.
DATASET_FIRST_HOUR = "2020-06-30-22:00"
# Energinet publishes DE35 consumption with roughly a 15-day delay.
DEFAULT_PUBLICATION_DELAY_HOURS = 15 * 24
REGISTERED_MODEL_NAME = "energy_consumption_forecaster"
CHAMPION_ALIAS = "champion"


def api_url() -> str:
    return os.environ.get("ENERGIDATA_API_URL", DEFAULT_API_URL).rstrip("/")


def dataset() -> str:
    return os.environ.get("ENERGIDATA_DATASET", DEFAULT_DATASET)


def dagster_home() -> Path:
    """DAGSTER_HOME if set, else `.dagster_home` in the working directory (created on demand)."""
    home = os.environ.get("DAGSTER_HOME")
    path = Path(home) if home else Path.cwd() / ".dagster_home"
    return path.resolve()


def storage_url() -> str:
    """Where asset values live: a folder path or gs://bucket/prefix."""
    return os.environ.get("ENERGY_STORAGE_URL") or str(dagster_home() / "storage")


def mlflow_tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{dagster_home() / 'mlflow.db'}"


def optuna_storage_url() -> str:
    return os.environ.get("ENERGY_OPTUNA_STORAGE") or f"sqlite:///{dagster_home() / 'optuna.db'}"


def partitions_start() -> str:
    """First hourly partition key. Override to keep the partition count small on a laptop."""
    return os.environ.get("ENERGY_PARTITIONS_START", DATASET_FIRST_HOUR)


def publication_delay_hours() -> int:
    return int(os.environ.get("ENERGY_PUBLICATION_DELAY_HOURS", DEFAULT_PUBLICATION_DELAY_HOURS))


# The bundled real 27-day slice of ConsumptionDE35Hour (see energy_assets/data/README.md).
SAMPLE_DATA_PATH = Path(__file__).resolve().parent / "data" / "ConsumptionDE35Hour.csv.gz"
