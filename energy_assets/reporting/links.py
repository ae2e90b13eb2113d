"""Browser links to stored reports (the drift report's HTML), for local and gs:// storage.

A browser cannot open a local path from the Dagster UI, and a gs:// URI means nothing to it:

- ENERGY_REPORTS_URL set (e.g. `energy-assets reports serve` behind your proxy): that URL plus
  the object's path, whatever the storage.
- gs:// storage: the Cloud Console's authenticated URL (storage.cloud.google.com/BUCKET/OBJECT),
  which opens the object with the viewer's Google login and IAM rights; on a GCS emulator
  (STORAGE_EMULATOR_HOST), the emulator's media URL.
- a local folder: `energy-assets reports serve`'s default address (DEFAULT_REPORTS_URL).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from energy_assets.storage.parquet_store import ParquetStore

DEFAULT_REPORTS_HOST = "127.0.0.1"
DEFAULT_REPORTS_PORT = 3001
DEFAULT_REPORTS_URL = f"http://{DEFAULT_REPORTS_HOST}:{DEFAULT_REPORTS_PORT}"
GCS_AUTHENTICATED_URL = "https://storage.cloud.google.com"
GCS_CONSOLE_OBJECT_URL = "https://console.cloud.google.com/storage/browser/_details"
GCS_PUBLIC_API = "https://storage.googleapis.com"


def report_url(store: ParquetStore, relpath: str, reports_url: str | None = None) -> str:
    """The URL a browser opens for the stored object `relpath` (relative to the storage root)."""
    path = quote(relpath, safe="/=")
    if reports_url:
        return f"{reports_url.rstrip('/')}/{path}"
    if store.is_gcs:
        blob = object_name(store, relpath)
        api_base = _api_base(store)
        if api_base and api_base != GCS_PUBLIC_API:
            # An emulator (or a private endpoint): its JSON API's media download.
            media = f"/download/storage/v1/b/{store.bucket_name}/o/{quote(blob, safe='')}"
            return f"{api_base}{media}?alt=media"
        return f"{GCS_AUTHENTICATED_URL}/{store.bucket_name}/{quote(blob, safe='/=')}"
    return f"{DEFAULT_REPORTS_URL}/{path}"


def console_url(store: ParquetStore, relpath: str) -> str | None:
    """The Cloud Console page of a gs:// object (metadata, download, permissions); None locally."""
    if not store.is_gcs:
        return None
    blob = quote(object_name(store, relpath), safe="/=")
    return f"{GCS_CONSOLE_OBJECT_URL}/{store.bucket_name}/{blob}"


def object_name(store: ParquetStore, relpath: str) -> str:
    """The object's name in its bucket: the storage URL's prefix plus `relpath`."""
    return f"{store.prefix}/{relpath}" if store.prefix else relpath


def _api_base(store: ParquetStore) -> str | None:
    connection = getattr(store.client, "_connection", None)
    base = getattr(connection, "API_BASE_URL", None)
    return base.rstrip("/") if isinstance(base, str) else None
