"""`energy-assets reports serve`: the stored HTML reports (drift reports) over HTTP, read-only.

The Dagster UI links each drift report to `<reports URL>/drift_report/date=YYYY-MM-DD/report.html`
(`links.report_url`); for a local storage folder this server is what answers, on
127.0.0.1:3001 by default. It serves `.html` objects of the configured storage (a folder or
gs://, read through `ParquetStore`), lists them at `/`, and nothing else: no parquet, no paths
outside the storage root (symlinks are resolved, and one leading out is refused), and no
local path in any page.
"""

from __future__ import annotations

import html
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
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
            if inside_root(store, path)
        ]
    return sorted(names, reverse=True)[:MAX_LISTED]


def inside_root(store: ParquetStore, path: Path) -> bool:
    """Whether `path`, every symlink resolved, is a file inside the local store's root: a link
    planted in the storage folder must not serve the file it points to."""
    assert store.root is not None
    root = store.root.resolve()
    try:
        return path.resolve(strict=True).is_relative_to(root) and path.is_file()
    except (OSError, RuntimeError):  # a dangling link, a loop
        return False


def read_report(store: ParquetStore, relpath: str) -> bytes | None:
    """The report's bytes, or None when there is none to serve (absent, a folder, a link out of
    the root, unreadable). Nothing about why reaches the client: it would disclose the layout."""
    if not store.is_gcs:
        assert store.root is not None
        if not inside_root(store, store.root / relpath):
            return None
    try:
        return store.read_bytes(relpath)
    except OSError:
        return None


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
        body = read_report(self.store, relpath)
        if body is None:
            # The path the request named, never where the storage is on this machine.
            message = f"No report at /{relpath}: materialise its asset first.\n"
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
            # A bucket's name is what its users know it by; a local folder's path is not for
            # whoever reaches this port.
            f"<h1>Reports in {html.escape(self.store.url if self.store.is_gcs else 'the storage folder')}</h1>"
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
