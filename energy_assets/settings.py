"""The platform's configuration: one `Settings`, read from the environment in one place.

`energy_assets.definitions` and the `energy-assets` CLI call `Settings.from_env()` once and pass
the object down; no other module reads the environment. Every variable is optional; the defaults
are a laptop setup: the public Energi Data Service API, a storage folder and sqlite MLflow / Optuna
stores under DAGSTER_HOME.

Variables marked *contract* in DESIGN.md keep their names: ENERGIDATA_API_URL, ENERGIDATA_DATASET,
ENERGY_STORAGE_URL, MLFLOW_TRACKING_URI, DAGSTER_HOME, GOOGLE_CLOUD_PROJECT (STORAGE_EMULATOR_HOST
and GOOGLE_APPLICATION_CREDENTIALS are read by the google-cloud-storage client itself).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from energy_assets import contracts, sources
from energy_assets.redaction import redact

DEFAULT_API_URL = "https://api.energidataservice.dk"
# Open-Meteo's live forecast API (energy_assets/ingestion/weather_api.py says why Open-Meteo).
DEFAULT_WEATHER_API_URL = "https://api.open-meteo.com"
# One point per price area (Aarhus for DK1, Copenhagen for DK2): Open-Meteo forecasts points.
DEFAULT_WEATHER_LOCATIONS = "DK1:56.16,10.21;DK2:55.68,12.57"
# How late the default dataset (DE35) was published; each dataset's spec has its own.
DEFAULT_PUBLICATION_DELAY_HOURS = sources.spec_for(sources.DEFAULT_DATASET).publication_lag_hours

# Settings field -> the environment variable it is read from.
ENVIRONMENT_VARIABLES: dict[str, str] = {
    "api_url": "ENERGIDATA_API_URL",
    "dataset": "ENERGIDATA_DATASET",
    "weather_api_url": "ENERGY_WEATHER_API_URL",
    "weather_locations": "ENERGY_WEATHER_LOCATIONS",
    "storage_url": "ENERGY_STORAGE_URL",
    "mlflow_tracking_uri": "MLFLOW_TRACKING_URI",
    "optuna_storage_url": "ENERGY_OPTUNA_STORAGE",
    "partitions_start": "ENERGY_PARTITIONS_START",
    "publication_delay_hours": "ENERGY_PUBLICATION_DELAY_HOURS",
    "retrain_max_drift_share": "ENERGY_RETRAIN_MAX_DRIFT_SHARE",
    "retrain_max_mape": "ENERGY_RETRAIN_MAX_MAPE",
    "retrain_min_coverage": "ENERGY_RETRAIN_MIN_COVERAGE",
    "retrain_max_coverage": "ENERGY_RETRAIN_MAX_COVERAGE",
    "gcp_project": "GOOGLE_CLOUD_PROJECT",
    "reports_url": "ENERGY_REPORTS_URL",
    "retrain_executor": "ENERGY_RETRAIN_EXECUTOR",
    "retrain_sensor_interval_seconds": "ENERGY_RETRAIN_SENSOR_INTERVAL_SECONDS",
    # Alerts (energy_assets/defs/alerts.py): none set, they go to the log only.
    "ui_url": "ENERGY_UI_URL",
    "alert_webhook_url": "ENERGY_ALERT_WEBHOOK_URL",
    "alert_smtp_host": "ENERGY_ALERT_SMTP_HOST",
    "alert_smtp_port": "ENERGY_ALERT_SMTP_PORT",
    "alert_smtp_from": "ENERGY_ALERT_SMTP_FROM",
    "alert_smtp_to": "ENERGY_ALERT_SMTP_TO",
    "alert_smtp_user": "ENERGY_ALERT_SMTP_USER",
    "alert_smtp_password": "ENERGY_ALERT_SMTP_PASSWORD",
    "alert_smtp_starttls": "ENERGY_ALERT_SMTP_STARTTLS",
    "api_min_interval_seconds": "ENERGY_API_MIN_INTERVAL_SECONDS",
    "implausible_values": "ENERGY_IMPLAUSIBLE_VALUES",
    "realtime_api_url": "ENERGY_REALTIME_API_URL",
    # The forecast API (`energy-assets serve`, energy_assets/serving/).
    "api_tokens": "ENERGY_API_TOKENS",
    "api_token_file": "ENERGY_API_TOKEN_FILE",
    "api_max_forecast_age_seconds": "ENERGY_API_MAX_FORECAST_AGE_SECONDS",
    "api_cache_seconds": "ENERGY_API_CACHE_SECONDS",
    "backfill_hours_per_run": "ENERGY_BACKFILL_HOURS_PER_RUN",
}
# What each setting means, for people: the docs site's configuration reference is generated from
# these (docs/hooks/reference.py) and a test fails when a setting has none. DAGSTER_HOME is read
# by Settings.from_env itself, the others through ENVIRONMENT_VARIABLES.
DESCRIPTIONS: dict[str, str] = {
    "dagster_home": "The Dagster instance folder; the default stores (storage, MLflow, Optuna) "
    "live under it.",
    "api_url": "Base URL of the Energi Data Service API, or of a replay API serving a file.",
    "dataset": "The Energi Data Service dataset to forecast: a source spec's name "
    "(energy_assets/sources.py).",
    "realtime_api_url": "Where `realtime_load` reads ElectricityBalanceNonv (each price area's "
    "total load, near real time); defaults to ENERGIDATA_API_URL.",
    "weather_api_url": "Open-Meteo's base URL, or the weather replay's. Use "
    "https://historical-forecast-api.open-meteo.com to backfill more than ~3 months back.",
    "weather_locations": "The weather asset's points, NAME:LAT,LON;... (a price area each, or DK "
    "for national means).",
    "storage_url": "Where asset values live: a folder, or gs://bucket/prefix.",
    "mlflow_tracking_uri": "MLflow tracking server and model registry.",
    "optuna_storage_url": "Optuna study storage, any SQLAlchemy URL.",
    "partitions_start": "The first hourly partition key. A later start means fewer partitions "
    "and a lighter UI.",
    "publication_delay_hours": "How late the source publishes an hour; the schedules target now "
    "minus this.",
    "retrain_max_drift_share": "Retrain when a day's drift share exceeds this fraction.",
    "retrain_max_mape": "Retrain when a day's MAPE exceeds this fraction (0.15 is 15 %).",
    "retrain_min_coverage": "Retrain when a day's share of actuals inside the p10-p90 band falls "
    "below this.",
    "retrain_max_coverage": "Retrain when a day's share of actuals inside the p10-p90 band rises "
    "above this.",
    "gcp_project": "The Google Cloud project of the storage bucket.",
    "reports_url": "Where a browser opens stored reports (the drift report's link): "
    "`energy-assets reports serve`, or a proxy in front of it.",
    "retrain_executor": "How retrain_job runs its tuning workers: multiprocess (processes on the "
    "run's machine) or k8s (one pod each).",
    "retrain_sensor_interval_seconds": "How often the daemon evaluates the retrain sensor.",
    "ui_url": "The Dagster UI's address, for the links in alerts.",
    "alert_webhook_url": "A JSON webhook for alerts (a Slack incoming webhook as is). A secret.",
    "alert_smtp_host": "E-mail alerts: the SMTP server.",
    "alert_smtp_port": "E-mail alerts: the SMTP port.",
    "alert_smtp_from": "E-mail alerts: the sender address.",
    "alert_smtp_to": "E-mail alerts: the recipients, comma separated.",
    "alert_smtp_user": "E-mail alerts: the SMTP login, when the server wants one.",
    "alert_smtp_password": "E-mail alerts: the SMTP password. A secret, never shown.",
    "alert_smtp_starttls": "E-mail alerts: STARTTLS before the login (true / false).",
    "api_min_interval_seconds": "The least time between two requests for the dataset, across the "
    "whole deployment (the API's rate limit).",
    "api_tokens": "Bearer tokens the forecast API accepts, comma separated. A secret, never "
    "shown or logged.",
    "api_token_file": "A file with one forecast-API token a line, read when `energy-assets serve` "
    "starts.",
    "api_max_forecast_age_seconds": "The forecast API's /readyz answers 503 once the newest "
    "forecast is older than this.",
    "api_cache_seconds": "How long the forecast API trusts a stored object before it checks again "
    "(a new forecast shows at most this late).",
    "backfill_hours_per_run": "A backfill's unit: a range of hourly partitions runs as runs of at "
    "most this many hours each (memory bounded by the unit; units run concurrently as the run "
    "queue allows).",
    "implausible_values": "What a meter error does to consumption_features: warn (a WARN check, "
    "the run goes on) or block (the run fails, nothing written).",
}
# How a default reads when it is computed, not a constant of the dataclass.
COMPUTED_DEFAULTS: dict[str, str] = {
    "dagster_home": "./.dagster_home",
    "storage_url": "$DAGSTER_HOME/storage",
    "mlflow_tracking_uri": "sqlite:///$DAGSTER_HOME/mlflow.db",
    "optuna_storage_url": "sqlite:///$DAGSTER_HOME/optuna.db",
    "partitions_start": "the dataset's first hour",
    "publication_delay_hours": "the dataset's publication lag",
    "reports_url": "gs://: the Cloud Console's URL; a folder: http://127.0.0.1:3001",
    "api_min_interval_seconds": "60 against api.energidataservice.dk, 0 (off) elsewhere",
}
# How retrain_job runs its steps: processes on the run's machine, or one Kubernetes pod each.
RETRAIN_EXECUTORS = ("multiprocess", "k8s")
# Google's bucket naming rules, loosely: lower-case letters, digits, '-', '_', '.'; 3-222 chars.
GCS_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
# What an implausible kWh (contracts.PLAUSIBILITY) does to the features run: a WARN check, or a
# blocking one (nothing written). Flagged values are kept out of model inputs either way.
IMPLAUSIBLE_VALUE_MODES = ("warn", "block")


class SettingsError(contracts.InputError):
    """An environment variable holds a value the platform cannot use; the message names it."""


@dataclass(frozen=True)
class Settings:
    """Where the platform reads, writes and tracks, and the thresholds it acts on.

    dagster_home: the instance folder; the default stores live under it.
    storage_url: a folder path or gs://bucket/prefix where asset values live.
    mlflow_tracking_uri / optuna_storage_url: MLflow tracking + registry, Optuna study storage.
    dataset: the Energi Data Service dataset, one with a source spec (`source`).
    weather_api_url / weather_locations: the Open-Meteo API (or its replay) the `weather` asset
    reads, and its points as NAME:LAT,LON;... (a price area each, or DK for national means).
    partitions_start: the first hourly partition key (fewer partitions = a lighter UI); by
    default the dataset's first hour.
    publication_delay_hours: how late the source publishes an hour; by default the dataset's
    publication lag.
    retrain_max_drift_share / retrain_max_mape: the retrain sensor's thresholds (fractions).
    retrain_min_coverage / retrain_max_coverage: the share of actuals inside the p10..p90 band
    (nominal 0.80) outside which the sensor retrains (a miscalibrated band).
    reports_url: where a browser opens stored reports (`energy-assets reports serve`, or a proxy
    in front of it); None: `reporting.links` picks (the console URL on gs://, 127.0.0.1:3001 locally).
    retrain_executor: "multiprocess" (tuning workers as processes) or "k8s" (one pod each).
    retrain_sensor_interval_seconds: how often the daemon evaluates the retrain sensor.
    ui_url: the Dagster UI's base URL, for the links in alerts.
    alert_webhook_url: a JSON webhook (Slack's incoming webhooks take the payload as is).
    alert_smtp_*: e-mail alerts: host, port, from, to (comma separated), optional user and
    password (never shown: kept out of repr), STARTTLS on or off.
    api_min_interval_seconds: the least time between two requests for the dataset, across the
    deployment (the API's rate limit); None: 60 s against api.energidataservice.dk (its limit),
    0 (no limit) against any other URL, such as a replay API.
    implausible_values: "warn" (default) or "block": the severity of the features' plausibility
    check; flagged values are kept out of lags, training and forecasts in both modes.
    realtime_api_url: where `realtime_load` reads ElectricityBalanceNonv (the areas' total load
    in near real time); None: api_url (the real API serves every dataset; a replay serves one).
    api_tokens: bearer tokens the forecast API accepts, comma separated (never shown: kept out
    of repr and never logged); api_token_file: a file with one token a line (read when the
    service starts). Without either, `energy-assets serve` only listens on a local address.
    api_max_forecast_age_seconds: the forecast API's /readyz is 503 once the newest forecast
    was written longer ago than this (default 2 h: the hourly run plus slack).
    api_cache_seconds: how long the API trusts a stored object's identity before it checks
    again (a new forecast shows at most this late; on GCS each check is a request).
    backfill_hours_per_run: the unit of a backfill: a range of hourly partitions is run as
    consecutive runs of at most this many hours each (a run's memory is bounded by its unit, and
    units run concurrently as the run queue allows; docs/decisions/0012-scale-out.md).
    from_environment: names of the variables that were set (resources reference those with
    `dg.EnvVar`, so values such as credentials in a URI never enter the code location snapshot).
    """

    dagster_home: Path
    storage_url: str
    mlflow_tracking_uri: str
    optuna_storage_url: str
    api_url: str = DEFAULT_API_URL
    dataset: str = sources.DEFAULT_DATASET
    weather_api_url: str = DEFAULT_WEATHER_API_URL
    weather_locations: str = DEFAULT_WEATHER_LOCATIONS
    partitions_start: str = None  # type: ignore[assignment]  # the spec's when None
    publication_delay_hours: int = None  # type: ignore[assignment]  # the spec's when None
    retrain_max_drift_share: float = 0.5
    retrain_max_mape: float = 0.15
    retrain_min_coverage: float = 0.65
    retrain_max_coverage: float = 0.95
    gcp_project: str | None = None
    reports_url: str | None = None
    retrain_executor: str = "multiprocess"
    retrain_sensor_interval_seconds: int = 60
    ui_url: str = "http://127.0.0.1:3000"
    alert_webhook_url: str | None = field(default=None, repr=False)
    alert_smtp_host: str | None = None
    alert_smtp_port: int = 587
    alert_smtp_from: str | None = None
    alert_smtp_to: str | None = None
    alert_smtp_user: str | None = None
    alert_smtp_password: str | None = field(default=None, repr=False)
    alert_smtp_starttls: bool = True
    api_min_interval_seconds: float | None = None
    implausible_values: str = "warn"
    realtime_api_url: str | None = None
    api_tokens: str | None = field(default=None, repr=False)
    api_token_file: str | None = None
    api_max_forecast_age_seconds: float = 2 * 3600.0
    api_cache_seconds: float = 2.0
    backfill_hours_per_run: int = 1488
    from_environment: frozenset[str] = field(default_factory=frozenset)
    # The fields filled in from the dataset's source spec (recomputed when the dataset changes).
    from_spec: frozenset[str] = field(default=frozenset(), compare=False)

    def __post_init__(self) -> None:
        spec = sources.spec_for(self.dataset)
        object.__setattr__(self, "dataset", spec.dataset)
        derived = set()
        for name, value in (
            ("partitions_start", spec.first_hour),
            ("publication_delay_hours", spec.publication_lag_hours),
        ):
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
                derived.add(name)
        object.__setattr__(self, "from_spec", frozenset(derived))

    @property
    def source(self) -> sources.SourceSpec:
        """The configured dataset's source spec."""
        return sources.spec_for(self.dataset)

    @property
    def api_request_interval_seconds(self) -> float:
        """api_min_interval_seconds, or its default for api_url (see the class docstring)."""
        if self.api_min_interval_seconds is not None:
            return self.api_min_interval_seconds
        real_api = urlsplit(self.api_url).hostname == urlsplit(DEFAULT_API_URL).hostname
        return 60.0 if real_api else 0.0

    @property
    def realtime_url(self) -> str:
        """The API `realtime_load` reads: realtime_api_url, else api_url."""
        return self.realtime_api_url or self.api_url

    @property
    def realtime_request_interval_seconds(self) -> float:
        """api_min_interval_seconds, or its default for realtime_url (60 s on the real API: the
        limit is per dataset, so the feed has its own slot on the shared request clock)."""
        if self.api_min_interval_seconds is not None:
            return self.api_min_interval_seconds
        real_api = urlsplit(self.realtime_url).hostname == urlsplit(DEFAULT_API_URL).hostname
        return 60.0 if real_api else 0.0

    @classmethod
    def for_home(cls, dagster_home: Path | str, **overrides: Any) -> Settings:
        """Embedded defaults under `dagster_home`: a storage folder, sqlite MLflow and Optuna."""
        home = Path(dagster_home).expanduser().resolve()
        defaults: dict[str, Any] = {
            "dagster_home": home,
            "storage_url": str(home / "storage"),
            "mlflow_tracking_uri": f"sqlite:///{home / 'mlflow.db'}",
            "optuna_storage_url": f"sqlite:///{home / 'optuna.db'}",
        }
        settings = cls(**{**defaults, **overrides})
        settings.validate()
        return settings

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from the environment (`os.environ` by default); unset variables get defaults.

        DAGSTER_HOME defaults to `.dagster_home` in the working directory, as our commands use.
        Raises SettingsError naming the variable when a value does not parse.
        """
        env = os.environ if environ is None else environ
        home = env.get("DAGSTER_HOME") or str(Path.cwd() / ".dagster_home")
        overrides: dict[str, Any] = {}
        converters = {f.name: f.type for f in fields(cls)}
        for name, variable in ENVIRONMENT_VARIABLES.items():
            raw = env.get(variable)
            if raw is None or raw == "":
                continue
            overrides[name] = _convert(variable, raw, str(converters[name]))
        for name in ("api_url", "weather_api_url", "reports_url", "ui_url", "realtime_api_url"):
            if name in overrides:
                overrides[name] = overrides[name].rstrip("/")
        return cls.for_home(home, **overrides, from_environment=frozenset(
            ENVIRONMENT_VARIABLES[name] for name in overrides
        ))  # fmt: skip

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some values replaced (tests, the demo); the copy is validated too.

        A replaced value no longer counts as read from the environment, so resources get the
        new value itself rather than a reference to the variable.
        """
        overridden = {ENVIRONMENT_VARIABLES.get(name) for name in changes}
        if "dataset" in changes:  # what came from the old dataset's spec comes from the new one's
            changes = {**{name: None for name in self.from_spec}, **changes}
        updated = replace(self, **changes, from_environment=self.from_environment - overridden)
        updated.validate()
        return updated

    def environment_variable(self, name: str) -> str | None:
        """The variable a field was read from, if it was set; None when it is a default."""
        variable = ENVIRONMENT_VARIABLES.get(name)
        return variable if variable in self.from_environment else None

    def validate(self) -> None:
        if not contracts.HOURLY_KEY.match(self.partitions_start):
            raise SettingsError(
                f"ENERGY_PARTITIONS_START={self.partitions_start!r} is not an hourly partition "
                "key like 2020-06-30-22:00"
            )
        if self.publication_delay_hours < 0:
            raise SettingsError("ENERGY_PUBLICATION_DELAY_HOURS must be 0 or more")
        if self.backfill_hours_per_run < 24:
            raise SettingsError(
                f"ENERGY_BACKFILL_HOURS_PER_RUN={self.backfill_hours_per_run} is too small: a "
                "backfill unit holds at least a day (24 hours); 1488 (62 days) is the default"
            )
        check_storage_url(self.storage_url)
        check_fraction("ENERGY_RETRAIN_MAX_MAPE", self.retrain_max_mape, percent_hint=True)
        check_fraction("ENERGY_RETRAIN_MAX_DRIFT_SHARE", self.retrain_max_drift_share)
        if self.retrain_executor not in RETRAIN_EXECUTORS:
            raise SettingsError(
                f"ENERGY_RETRAIN_EXECUTOR={self.retrain_executor!r} is not one of "
                f"{', '.join(RETRAIN_EXECUTORS)}"
            )
        if not 0 <= self.retrain_min_coverage < self.retrain_max_coverage <= 1:
            raise SettingsError(
                f"ENERGY_RETRAIN_MIN_COVERAGE={self.retrain_min_coverage} and "
                f"ENERGY_RETRAIN_MAX_COVERAGE={self.retrain_max_coverage} must satisfy "
                "0 <= min < max <= 1 (shares of actuals inside the 80% band)"
            )
        if self.retrain_sensor_interval_seconds < 1:
            raise SettingsError("ENERGY_RETRAIN_SENSOR_INTERVAL_SECONDS must be 1 or more")
        if self.api_min_interval_seconds is not None and not self.api_min_interval_seconds >= 0:
            raise SettingsError("ENERGY_API_MIN_INTERVAL_SECONDS must be 0 or more")
        if not self.api_max_forecast_age_seconds > 0:
            raise SettingsError("ENERGY_API_MAX_FORECAST_AGE_SECONDS must be above 0")
        if not self.api_cache_seconds >= 0:
            raise SettingsError("ENERGY_API_CACHE_SECONDS must be 0 or more")
        if self.implausible_values not in IMPLAUSIBLE_VALUE_MODES:
            raise SettingsError(
                f"ENERGY_IMPLAUSIBLE_VALUES={self.implausible_values!r} is not one of "
                f"{', '.join(IMPLAUSIBLE_VALUE_MODES)}"
            )

    @property
    def partitions_start_day(self) -> str:
        """The daily partitions' first key: the day of the first hourly partition."""
        return self.partitions_start[:10]


def check_storage_url(url: str) -> None:
    """ENERGY_STORAGE_URL names storage the platform can write: gs://bucket[/prefix], or a
    folder (path or file://) that is writable, or can be created under a writable parent.

    Checked when the settings are read, so a bad URL fails the code location's load (and the
    CLI) in one line instead of a run, after an API request.
    """
    if not url:
        raise SettingsError("ENERGY_STORAGE_URL is empty")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise SettingsError(f"ENERGY_STORAGE_URL={redact(url)!r} is not a URL or path") from None
    scheme = parts.scheme.lower()
    if scheme == "gs":
        if not parts.netloc:
            raise SettingsError(
                f"ENERGY_STORAGE_URL={redact(url)!r} names no bucket: use gs://BUCKET[/prefix]"
            )
        if not GCS_BUCKET.fullmatch(parts.netloc):
            raise SettingsError(
                f"ENERGY_STORAGE_URL={redact(url)!r}: {parts.netloc!r} is not a valid bucket name "
                "(3-222 lower-case letters, digits, '-', '_' or '.')"
            )
        return
    # A one-letter scheme is a Windows drive (C:\data); anything else with :// is a service.
    if scheme not in ("", "file") and not (len(scheme) == 1 and "://" not in url):
        raise SettingsError(
            f"ENERGY_STORAGE_URL={redact(url)!r}: unsupported scheme '{scheme}://'; use a folder "
            "path or gs://bucket/prefix"
        )
    folder = Path(parts.path if scheme == "file" else url).expanduser()
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise SettingsError(
            f"ENERGY_STORAGE_URL={url!r}: {existing} is a file, not a folder; choose a folder"
        )
    if not _can_create_file_in(existing):
        what = "is not writable" if existing == folder else f"cannot be created in {existing}"
        raise SettingsError(
            f"ENERGY_STORAGE_URL={url!r}: the folder {what} by this process; choose a "
            "writable folder or fix its permissions"
        )


def _can_create_file_in(folder: Path) -> bool:
    """Whether this process can create a file in `folder`: tried, not guessed from mode bits
    (root ignores them; a read-only mount or a pseudo file system refuses whatever they say)."""
    import tempfile

    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            return True
    except OSError:
        return False


def check_fraction(variable: str, value: float, percent_hint: bool = False) -> None:
    """A threshold that is a fraction in (0, 1]; a value like 15 gets a hint that it reads as a
    percent (15 -> 0.15)."""
    if math.isfinite(value) and 0 < value <= 1:
        return
    hint = ""
    if percent_hint and math.isfinite(value) and 1 < value <= 100:
        hint = f": {value:g} looks like a percent; as a fraction that is {value / 100:g}"
    raise SettingsError(f"{variable}={value!r} must be a fraction above 0 and at most 1{hint}")


_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _convert(variable: str, raw: str, type_name: str) -> Any:
    try:
        if type_name == "int":
            return int(raw)
        if type_name in ("float", "float | None"):
            return float(raw)
        if type_name == "bool":
            return _BOOLEANS[raw.strip().lower()]
    except KeyError:
        raise SettingsError(f"{variable}={raw!r} is not one of {', '.join(_BOOLEANS)}") from None
    except ValueError:
        raise SettingsError(f"{variable}={raw!r} is not a number") from None
    return raw
