"""EnergiDataClient: the Energi Data Service API as a Dagster resource (a thin EnergiDataApi factory)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from dagster import ConfigurableResource
from pydantic import Field

from energy_assets import config
from energy_assets.ingestion.energidata_api import EnergiDataApi


class EnergiDataClient(ConfigurableResource):
    """Where and how to read the consumption dataset. Point api_url at a replay API to run offline."""

    api_url: str = Field(default_factory=config.api_url, description="API base URL")
    dataset: str = Field(default_factory=config.dataset, description="dataset name")
    page_size: int = Field(default=100_000, description="records per request (limit)")
    timeout_seconds: float = Field(default=60.0, description="per-request timeout")
    max_retries: int = Field(default=5, description="retries on timeouts, 429 and 5xx")
    backoff_seconds: float = Field(default=1.0, description="first retry delay; doubles each time")

    def api(self) -> EnergiDataApi:
        return EnergiDataApi(
            self.api_url,
            self.dataset,
            page_size=self.page_size,
            timeout_seconds=self.timeout_seconds,
            max_retries=self.max_retries,
            backoff_seconds=self.backoff_seconds,
        )

    def fetch_hours(
        self, start_utc: datetime | str | pd.Timestamp, end_utc: datetime | str | pd.Timestamp
    ) -> pd.DataFrame:
        """RAW records for the UTC hours [start_utc, end_utc); see EnergiDataApi.fetch_hours."""
        return self.api().fetch_hours(start_utc, end_utc)
