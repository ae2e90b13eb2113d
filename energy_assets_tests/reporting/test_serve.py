"""`energy-assets reports serve`: stored HTML reports over HTTP from a local folder and from GCS,
an index of them, and nothing outside the reports (no parquet, no '..')."""

from __future__ import annotations

import requests

from energy_assets.reporting.serve import ReportServer, safe_report_path
from energy_assets.storage.parquet_store import ParquetStore

REPORT = "drift_report/date=2023-01-16/report.html"
BODY = b"<html><title>Data Drift</title><body>drift</body></html>"


def _check_serves(store: ParquetStore) -> None:
    store.write_bytes(REPORT, BODY, "text/html")
    store.write_bytes("forecasts/latest/data.parquet", b"PAR1", "application/octet-stream")
    with ReportServer(store, port=0) as server:
        report = requests.get(f"{server.url}/{REPORT}", timeout=10)
        index = requests.get(f"{server.url}/", timeout=10)
        parquet = requests.get(f"{server.url}/forecasts/latest/data.parquet", timeout=10)
        missing = requests.get(f"{server.url}/drift_report/date=2023-01-17/report.html", timeout=10)

    assert report.status_code == 200 and report.content == BODY
    assert report.headers["Content-Type"].startswith("text/html")
    assert f'href="/{REPORT}"' in index.text
    assert parquet.status_code == 404
    assert missing.status_code == 404 and "materialise" in missing.text


def test_serves_reports_from_a_local_folder(tmp_path):
    _check_serves(ParquetStore(str(tmp_path / "storage")))


def test_serves_reports_from_gcs(gcs_emulator):
    bucket = gcs_emulator.make_bucket()
    _check_serves(ParquetStore(f"gs://{bucket.name}/energy", gcs_client=gcs_emulator.client()))


def test_only_report_paths_inside_the_storage_are_served(tmp_path):
    (tmp_path / "secret.html").write_text("secret")
    store = ParquetStore(str(tmp_path / "storage"))
    store.write_bytes(REPORT, BODY, "text/html")
    with ReportServer(store, port=0) as server:
        escaped = requests.get(f"{server.url}/drift_report/%2E%2E/%2E%2E/secret.html", timeout=10)
    assert escaped.status_code == 404 and "secret" not in escaped.text
    assert safe_report_path("/drift_report/../../secret.html") is None
    assert safe_report_path("/drift_report/date=2023-01-16/report.html?x=1") == REPORT


def test_a_symlink_out_of_the_storage_is_neither_served_nor_listed(tmp_path):
    """A link planted in the storage folder (a file or a whole folder) resolves outside the root:
    refused like '..' (issue 18)."""
    outside = tmp_path / "private"
    (outside / "date=2023-01-01").mkdir(parents=True)
    (outside / "notes.html").write_text("private notes")
    (outside / "date=2023-01-01" / "report.html").write_text("private report")
    store = ParquetStore(str(tmp_path / "storage"))
    store.write_bytes(REPORT, BODY, "text/html")
    assert store.root is not None
    (store.root / "drift_report" / "date=2023-01-16" / "linked.html").symlink_to(
        outside / "notes.html"
    )
    (store.root / "drift_report" / "date=2023-01-01").symlink_to(outside / "date=2023-01-01")
    # A link that stays inside the storage is as good as the report it points to.
    (store.root / "drift_report" / "date=2023-01-16" / "alias.html").symlink_to(store.root / REPORT)
    with ReportServer(store, port=0) as server:
        file_link = requests.get(
            f"{server.url}/drift_report/date=2023-01-16/linked.html", timeout=10
        )
        folder_link = requests.get(
            f"{server.url}/drift_report/date=2023-01-01/report.html", timeout=10
        )
        alias = requests.get(f"{server.url}/drift_report/date=2023-01-16/alias.html", timeout=10)
        index = requests.get(f"{server.url}/", timeout=10)
    assert file_link.status_code == 404 and "private" not in file_link.text
    assert folder_link.status_code == 404 and "private" not in folder_link.text
    assert alias.status_code == 200 and alias.content == BODY
    assert "linked.html" not in index.text and "date=2023-01-01" not in index.text


def test_no_page_discloses_where_the_storage_is(tmp_path):
    store = ParquetStore(str(tmp_path / "storage"))
    store.write_bytes(REPORT, BODY, "text/html")
    assert store.root is not None
    (store.root / "drift_report" / "date=2023-01-17" / "report.html").mkdir(parents=True)
    with ReportServer(store, port=0) as server:
        pages = {
            "missing": requests.get(
                f"{server.url}/drift_report/date=2023-01-18/report.html", timeout=10
            ),
            "a folder": requests.get(
                f"{server.url}/drift_report/date=2023-01-17/report.html", timeout=10
            ),
            "not a report": requests.get(f"{server.url}/x.parquet", timeout=10),
            "index": requests.get(f"{server.url}/", timeout=10),
        }
    assert pages["missing"].status_code == pages["a folder"].status_code == 404
    assert "No report at /drift_report/date=2023-01-18/report.html" in pages["missing"].text
    for name, page in pages.items():
        assert str(tmp_path) not in page.text, name
