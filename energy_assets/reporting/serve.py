"""`energy-assets reports serve`: the stored HTML reports (drift reports) over HTTP, read-only.

The Dagster UI links each drift report to `<reports URL>/drift_report/date=YYYY-MM-DD/report.html`
(`links.report_url`); for a local storage folder this server is what answers, on
127.0.0.1:3001 by default. It serves `.html` objects of the configured storage (a folder or
gs://, read through `ParquetStore`), lists them at `/`, and nothing else: no parquet, no paths
outside the storage root.
"""

from __future__ import annotations

import html
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from energy_assets.reporting.links import DEFAULT_REPORTS_HOST, DEFAULT_REPORTS_PORT

if TYPE_CHECKING:
    from energy_assets.storage.parquet_store import ParquetStore

REPORT_SUFFIX = ".html"
MAX_LISTED = 500


def list_reports(store: ParquetStore) -> list[str]:
    """Relative paths of the stored HTML reports, newest path (by name) first."""
    if store.is_gcs:
        prefix = f"{store.prefix}/" if store.prefix else ""
        names = [
            blob.name[len(prefix) :]
            for blob in store.client.list_blobs(store.bucket_name, prefix=prefix or None)
            if blob.name.endswith(REPORT_SUFFIX)
        ]
    else:
        assert store.root is not None
        if not store.root.is_dir():
            return []
        names = [
            path.relative_to(store.root).as_posix()
            for path in store.root.glob(f"*/**/*{REPORT_SUFFIX}")
        ]
    return sorted(names, reverse=True)[:MAX_LISTED]


def safe_report_path(url_path: str) -> str | None:
    """The relative report path a request names, or None when it names anything else (not an
    .html file, an absolute path, or a '..' segment)."""
    path = unquote(urlsplit(url_path).path).lstrip("/")
    parts = path.split("/")
    if not path.endswith(REPORT_SUFFIX) or any(part in ("", ".", "..") for part in parts):
        return None
    if "\\" in path or "\x00" in path:
        return None
    return path


class _Handler(BaseHTTPRequestHandler):
    server_version = "energy-assets-reports"
    store: ParquetStore  # set on the subclass built by ReportServer

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        if urlsplit(self.path).path in ("", "/"):
            self._send(HTTPStatus.OK, self._index().encode("utf-8"))
            return
        relpath = safe_report_path(self.path)
        if relpath is None:
            self._send(
                HTTPStatus.NOT_FOUND, b"Only stored .html reports are served here.\n", "text/plain"
            )
            return
        try:
            body = self.store.read_bytes(relpath)
        except FileNotFoundError:
            message = f"No report at {self.store.uri(relpath)}: materialise its asset first.\n"
            self._send(HTTPStatus.NOT_FOUND, message.encode("utf-8"), "text/plain")
            return
        self._send(HTTPStatus.OK, body)

    def _index(self) -> str:
        reports = list_reports(self.store)
        items = "\n".join(
            f'<li><a href="/{html.escape(path)}">{html.escape(path)}</a></li>' for path in reports
        )
        return (
            "<!doctype html><meta charset='utf-8'><title>energy_assets reports</title>"
            f"<h1>Reports in {html.escape(self.store.url)}</h1>"
            + (f"<ul>{items}</ul>" if reports else "<p>No report stored yet.</p>")
        )

    def _send(self, status: HTTPStatus, body: bytes, content_type: str = "text/html") -> None:
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        # The UI opens a report now and then; a line per request would only be noise.
        pass


class ReportServer:
    """Serves `store`'s HTML reports on host:port (port 0: any free port), in a thread.

    with ReportServer(store, port=0) as server:
        requests.get(f"{server.url}/drift_report/date=2023-01-16/report.html")
    """

    def __init__(
        self,
        store: ParquetStore,
        host: str = DEFAULT_REPORTS_HOST,
        port: int = DEFAULT_REPORTS_PORT,
    ):
        handler = type("ReportHandler", (_Handler,), {"store": store})
        self.store = store
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}"

    def start(self) -> ReportServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        try:
            self.httpd.serve_forever()
        finally:
            self.httpd.server_close()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ReportServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
