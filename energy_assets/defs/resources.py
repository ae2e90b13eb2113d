"""The platform's resources: storage, the Energi Data Service API, MLflow, the Optuna study store
and Great Expectations, each a `ConfigurableResource` (built from `Settings` by
`energy_assets.defs.build_definitions`).

Each resource imports its library when it is used, not when the code location loads.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field, PrivateAttr

if TYPE_CHECKING:
    from energy_assets.ingestion.energidata_api import EnergiDataApi
    from energy_assets.ingestion.ratelimit import RateLimiter
    from energy_assets.ingestion.weather_api import OpenMeteoApi
    from energy_assets.sources import SourceSpec
    from energy_assets.storage.parquet_store import ParquetStore
    from energy_assets.training.tracking import MlflowSettings
    from energy_assets.validation.gx import FrameValidator


class StorageResource(dg.ConfigurableResource):
    """Where asset values live (ENERGY_STORAGE_URL): a local folder or gs://bucket/prefix.

    The IO manager writes through it; assets that need a window chosen at run time (a training
    window, the champion's reference window, actuals for scoring) read it in one parallel read.
    For gs:// the client comes from dagster-gcp's `GCSResource` (which honours
    STORAGE_EMULATOR_HOST and GOOGLE_APPLICATION_CREDENTIALS).
    """

    storage_url: str = Field(description="Folder path or gs://bucket/prefix.")
    gcp_project: str | None = Field(default=None, description="GCP project for gs:// storage.")
    max_workers: int = Field(default=16, description="Threads for parallel reads and writes.")
    reports_url: str | None = Field(
        default=None,
        description="Where a browser opens stored reports (ENERGY_REPORTS_URL); default: the "
        "Cloud Console's URL on gs://, `energy-assets reports serve` (127.0.0.1:3001) locally.",
    )
    _store: Any = PrivateAttr(default=None)

    @property
    def is_gcs(self) -> bool:
        return self.storage_url.startswith("gs://")

    def store(self) -> "ParquetStore":
        """The store (one per resource instance: its HTTP connections are reused)."""
        if self._store is None:
            from energy_assets.storage.parquet_store import ParquetStore

            client = None
            if self.is_gcs:
                # dagster_gcp imports BigQuery & co.: only runs that store on GCS pay for it.
                from dagster_gcp import GCSResource

                client = GCSResource(project=self.gcp_project).get_client()
            self._store = ParquetStore(
                self.storage_url, gcs_client=client, max_workers=self.max_workers
            )
        return self._store

    def report_url(self, relpath: str) -> str:
        """The URL a browser opens for a stored report (never a local path)."""
        from energy_assets.reporting.links import report_url

        return report_url(self.store(), relpath, self.reports_url)


class EnergiDataResource(dg.ConfigurableResource):
    """Where and how to read the consumption dataset. Point api_url at a replay API to run offline."""

    api_url: str = Field(description="API base URL (ENERGIDATA_API_URL)")
    dataset: str = Field(description="dataset name (ENERGIDATA_DATASET)")
    page_size: int = Field(default=100_000, description="records per request (limit)")
    timeout_seconds: float = Field(default=60.0, description="per-request timeout")
    max_retries: int = Field(default=5, description="retries on timeouts, 429 and 5xx")
    backoff_seconds: float = Field(default=1.0, description="first retry delay; doubles each time")
    min_interval_seconds: float = Field(
        default=0.0,
        description="least time between two requests for the dataset across the deployment "
        "(ENERGY_API_MIN_INTERVAL_SECONDS; the real API allows one a minute); 0: no limit",
    )

    @property
    def spec(self) -> "SourceSpec":
        """The dataset's source spec (its columns, series, lag)."""
        from energy_assets.sources import spec_for

        return spec_for(self.dataset)

    def api(
        self,
        log: Callable[[str], None] | None = None,
        storage: "StorageResource | None" = None,
    ) -> "EnergiDataApi":
        """A client that logs its waits and pages to `log`; with `storage`, its requests keep to
        the rate limit through the request clock in the platform's storage (shared by every
        run), else through this process's own clock."""
        from energy_assets.ingestion.energidata_api import EnergiDataApi

        return EnergiDataApi(
            self.api_url,
            self.spec,
            page_size=self.page_size,
            timeout_seconds=self.timeout_seconds,
            max_retries=self.max_retries,
            backoff_seconds=self.backoff_seconds,
            rate_limiter=self.rate_limiter(log, storage),
            log=log,
        )

    def rate_limiter(
        self, log: Callable[[str], None] | None, storage: "StorageResource | None"
    ) -> "RateLimiter | None":
        """None when min_interval_seconds is 0 (no limit)."""
        from energy_assets.ingestion import ratelimit

        if self.min_interval_seconds <= 0:
            return None
        clock: ratelimit.RequestClock
        if storage is None:
            clock = ratelimit.MemoryRequestClock()
        else:
            store = storage.store()
            if store.is_gcs:
                prefix = "/".join(p for p in (store.prefix, ratelimit.CLOCK_FOLDER) if p)
                clock = ratelimit.GcsRequestClock(store.bucket, prefix)
            elif store.root is not None:
                clock = ratelimit.FileRequestClock(store.root / ratelimit.CLOCK_FOLDER)
            else:
                raise AssertionError(f"{store.url} is neither gs:// nor a folder")
        return ratelimit.RateLimiter(clock, self.min_interval_seconds, log=log)


class WeatherResource(dg.ConfigurableResource):
    """Where the `weather` asset reads: Open-Meteo or its replay (ENERGY_WEATHER_API_URL), at the
    points ENERGY_WEATHER_LOCATIONS names (NAME:LAT,LON;...)."""

    api_url: str = Field(description="Open-Meteo base URL (ENERGY_WEATHER_API_URL)")
    locations: str = Field(description="NAME:LAT,LON;... (ENERGY_WEATHER_LOCATIONS)")
    timeout_seconds: float = Field(default=60.0, description="per-request timeout")
    max_retries: int = Field(default=5, description="retries on timeouts, 429 and 5xx")
    backoff_seconds: float = Field(default=1.0, description="first retry delay; doubles each time")

    def api(self) -> "OpenMeteoApi":
        from energy_assets.ingestion.weather_api import OpenMeteoApi

        return OpenMeteoApi(
            self.api_url,
            self.locations,
            timeout_seconds=self.timeout_seconds,
            max_retries=self.max_retries,
            backoff_seconds=self.backoff_seconds,
        )


class MlflowResource(dg.ConfigurableResource):
    """MLflow tracking + registry (MLFLOW_TRACKING_URI) and the experiment runs go to.

    dagster-mlflow's `mlflow_tracking` is a function-style `@resource` that starts an MLflow run
    when it is built and sets MLflow's process-wide tracking URI, which fits neither assets (a
    tuning session has its own parent run with nested trial runs) nor a code location without
    process-wide state. This resource only hands out `MlflowSettings`; runs are logged through
    explicit clients and carry dagster-mlflow's `dagster_run_id` tag.
    """

    tracking_uri: str = Field(description="MLflow tracking URI")
    experiment_name: str = Field(default="energy_assets")
    registry_uri: str | None = Field(default=None, description="Default: the tracking URI.")
    artifact_location: str | None = Field(
        default=None, description="For a new experiment; default beside a sqlite store."
    )

    def settings(self) -> "MlflowSettings":
        from energy_assets.training.tracking import MlflowSettings

        return MlflowSettings(
            tracking_uri=self.tracking_uri,
            experiment_name=self.experiment_name,
            registry_uri=self.registry_uri,
            artifact_location=self.artifact_location,
        )


class OptunaResource(dg.ConfigurableResource):
    """Where Optuna studies live (ENERGY_OPTUNA_STORAGE): any SQLAlchemy URL; several workers
    tune one study through it (sqlite locally, Postgres in deploy)."""

    storage_url: str = Field(description="SQLAlchemy URL of the study storage")


class GreatExpectationsResource(dg.ConfigurableResource):
    """Owns the Great Expectations context of a run (one ephemeral context, built on first use)."""

    _validator: Any = PrivateAttr(default=None)

    def validator(self) -> "FrameValidator":
        if self._validator is None:
            from energy_assets.validation.gx import FrameValidator

            self._validator = FrameValidator()
        return self._validator
