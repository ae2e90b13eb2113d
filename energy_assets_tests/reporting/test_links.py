"""Report links a browser can open: a reports server's URL, GCS's authenticated console URL, or
(on the GCS emulator) a media URL that really returns the stored HTML."""

from __future__ import annotations

import requests

from energy_assets.reporting.links import DEFAULT_REPORTS_URL, console_url, report_url
from energy_assets.storage.parquet_store import ParquetStore

REPORT = "drift_report/date=2023-01-16/report.html"


def test_a_local_folder_links_to_the_reports_server(tmp_path):
    store = ParquetStore(str(tmp_path / "storage"))

    assert report_url(store, REPORT) == f"{DEFAULT_REPORTS_URL}/{REPORT}"
    assert report_url(store, REPORT, "https://reports.example.org/energy/") == (
        f"https://reports.example.org/energy/{REPORT}"
    )
    assert console_url(store, REPORT) is None


def test_gcs_links_to_the_authenticated_console_url(monkeypatch):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    # The real GCS endpoint, even when an emulator fixture exported its address for the session.
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)

    client = storage.Client(project="p", credentials=AnonymousCredentials())
    store = ParquetStore("gs://my-bucket/energy", gcs_client=client)

    assert report_url(store, REPORT) == (
        f"https://storage.cloud.google.com/my-bucket/energy/{REPORT}"
    )
    assert console_url(store, REPORT) == (
        "https://console.cloud.google.com/storage/browser/_details/my-bucket/energy/" + REPORT
    )


def test_on_the_gcs_emulator_the_link_returns_the_stored_report(gcs_emulator):
    bucket = gcs_emulator.make_bucket()
    store = ParquetStore(f"gs://{bucket.name}/prefix", gcs_client=gcs_emulator.client())
    store.write_bytes(REPORT, b"<html><title>Data Drift</title></html>", "text/html")

    url = report_url(store, REPORT)
    response = requests.get(url, timeout=10)

    assert url.startswith(f"{gcs_emulator.host}/download/storage/v1/b/{bucket.name}/o/")
    assert response.status_code == 200
    assert response.content == b"<html><title>Data Drift</title></html>"
