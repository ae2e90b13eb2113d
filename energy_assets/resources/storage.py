"""`ParquetStorage`: the asset-value store as a resource, for assets that read windows directly."""

from __future__ import annotations

from dagster import ConfigurableResource
from dagster_gcp import GCSResource
from pydantic import Field

from energy_assets import config
from energy_assets.storage.parquet_store import ParquetStore, store_from_url


class ParquetStorage(ConfigurableResource):
    """Where asset values live (ENERGY_STORAGE_URL): a local folder or gs://bucket/prefix.

    The IO manager writes through the same kind of store; assets that need a window chosen at
    run time (a training window, the champion's reference window, actuals for scoring) read it
    through `store()` in one parallel read.
    """

    storage_url: str = Field(
        default_factory=config.storage_url,
        description="Folder path or gs://bucket/prefix where asset values live.",
    )
    gcs: GCSResource = Field(
        default_factory=GCSResource,
        description="GCS client settings; only used for gs:// storage URLs.",
    )

    def store(self) -> ParquetStore:
        client = self.gcs.get_client() if self.storage_url.startswith("gs://") else None
        return store_from_url(self.storage_url, gcs_client=client)
