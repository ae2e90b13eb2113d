"""Parquet objects, one per asset partition, in a local folder or a GCS bucket.

Layout (hive-style, so DuckDB / Spark / BigQuery external tables can read the bucket directly):

    {root}/{asset}/date=YYYY-MM-DD/hour=HH/data.parquet   hourly key "2023-01-01-05:00"
    {root}/{asset}/date=YYYY-MM-DD/data.parquet           daily key  "2023-01-01"
    {root}/{asset}/data.parquet                           unpartitioned (key None)

`root` is a folder path (or file:// URL) or ``gs://bucket/prefix``.

Guarantees:
- Writes are atomic per object. Locally a temp file in the target directory is written,
  flushed to disk (fsync; `write_many` stages all temp files and flushes them with one
  `os.sync()`) and `os.replace`d over the target, so a run killed mid-write leaves the previous
  object (or none), never a truncated one. The temp files a killed writer leaves behind are
  removed by the next write into that folder and by `clean_temp` (storage.temp_files). Files
  get the permissions the process umask gives (0644 under the usual 022). On GCS an object only becomes visible once its
  upload completes (a single-request multipart upload of the in-memory bytes), so the same
  holds there.
- Re-writing a partition replaces its object whole.
- `write_many` serialises every frame before uploading anything, so a frame that cannot be
  serialised writes nothing.
- `read_many` is one parallel read (thread pool: I/O and parquet decoding release the GIL),
  concatenated as Arrow tables and converted to pandas once.

No Dagster import here: the IO manager, the assets and scripts all share this class.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse, urlsplit

import google_crc32c
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from energy_assets.contracts import (
    DAILY_KEY,
    DAY_KEY_FORMAT,
    HOUR_KEY_FORMAT,
    HOURLY_KEY,
    naive_utc_series,
)
from energy_assets.storage.temp_files import (
    ORPHAN_AGE_SECONDS,
    TempCleanup,
    create_temp,
    is_temp_name,
    sweep_folder,
    sweep_tree,
)

DATA_FILE = "data.parquet"
PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"
# Keys listed in a missing-partitions error; a year of gaps would drown the message.
MAX_KEYS_IN_ERROR = 10
# Most objects one read_many task reads in sequence (see ParquetStore._read_tables).
READ_CHUNK = 32


class MissingPartitionsError(FileNotFoundError):
    """Some requested partitions of an asset have no stored object."""

    def __init__(self, asset: str, missing: Sequence[str | None], requested: int):
        self.asset = asset
        self.missing = list(missing)
        shown = ", ".join(str(k) for k in self.missing[:MAX_KEYS_IN_ERROR])
        more = len(self.missing) - MAX_KEYS_IN_ERROR
        suffix = f" (and {more} more)" if more > 0 else ""
        super().__init__(
            f"{len(self.missing)} of {requested} partitions of asset '{asset}' are not stored: "
            f"{shown}{suffix}. Materialise them first (e.g. backfill that range)."
        )


class UnreadableObjectError(ValueError):
    """A stored object exists but is not readable parquet (truncated or overwritten by hand,
    a copy that failed half-way): names the asset, partition and path, and how to repair it."""

    def __init__(
        self, uri: str, reason: str, asset: str | None = None, partition_key: str | None = None
    ):
        self.uri, self.reason, self.asset, self.partition_key = uri, reason, asset, partition_key
        if asset is None:
            super().__init__(f"The stored object {uri} cannot be read ({reason}).")
            return
        which = f"partition {partition_key}" if partition_key is not None else "its only object"
        again = (
            f"that partition ({asset}, {partition_key})"
            if partition_key is not None
            else f"the asset {asset}"
        )
        super().__init__(
            f"The stored object of asset '{asset}', {which}, at {uri} cannot be read: it is "
            f"damaged or not parquet ({reason}). Re-materialise {again} to replace it "
            "whole, then retry."
        )

    def naming(self, asset: str, partition_key: str | None) -> UnreadableObjectError:
        return UnreadableObjectError(self.uri, self.reason, asset, partition_key)


def to_arrow(df: Any) -> pa.Table:
    """A pandas or polars frame (or an Arrow table) as an Arrow table.

    A default RangeIndex is dropped; a named pandas index is kept (restored on read).
    """
    if isinstance(df, pa.Table):
        return df
    if isinstance(df, pd.DataFrame):
        keep_index = any(name is not None for name in df.index.names)
        return pa.Table.from_pandas(df, preserve_index=keep_index)
    if hasattr(df, "to_arrow"):  # polars DataFrame
        return df.to_arrow()
    raise TypeError(f"expected a pandas or polars DataFrame, got {type(df).__name__}")


def serialize(df: Any) -> bytes:
    """Parquet bytes (snappy) of a pandas / polars frame or Arrow table.

    Snappy, not zstd: objects are small (one hour, ~76 rows), and zstd's per-file context setup
    made serialising 3x slower (1 ms vs 0.35 ms per object) for no useful size gain.
    """
    sink = pa.BufferOutputStream()
    pq.write_table(to_arrow(df), sink, compression="snappy")
    return sink.getvalue().to_pybytes()


def deserialize(data: bytes) -> pa.Table:
    """Arrow table of parquet bytes.

    Small objects are decoded single-threaded without pre-buffering: read_many already runs
    one decode per worker thread, and Arrow's per-file thread pool / dataset machinery cost
    more than the decode itself for a 76-row object (0.34 ms vs ~1 ms with pq.read_table).
    """
    return pq.ParquetFile(pa.BufferReader(data), pre_buffer=False).read(use_threads=False)


def _table_to_pandas(table: pa.Table) -> pd.DataFrame:
    df = table.to_pandas()
    if isinstance(df.index, pd.RangeIndex) and df.index.name is None:
        df = df.reset_index(drop=True)
    return df


def _enlarge_connection_pool(client: Any, pool_size: int) -> None:
    """Let `pool_size` threads share the client's requests session without queueing.

    requests' default adapter keeps 10 connections per host; parallel reads beyond that wait
    for a free connection (and urllib3 warns "Connection pool is full").
    """
    import requests.adapters

    session = client._http  # created lazily by google-cloud-core
    adapter = requests.adapters.HTTPAdapter(
        pool_connections=pool_size, pool_maxsize=pool_size, max_retries=3
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)


# Seconds a media GET may wait on its socket (google-cloud-storage's own default timeout).
MEDIA_TIMEOUT_S = 60.0


def crc32c_matches(goog_hash: str | None, body: bytes) -> bool:
    """Whether `body` matches the crc32c in an `x-goog-hash` header (True when none is sent).

    GCS sends `x-goog-hash: crc32c=<base64>,md5=<base64>` with every media download;
    `Blob.download_as_bytes` checks it, so the fast path must too.
    """
    if not goog_hash:
        return True
    for part in goog_hash.split(","):
        name, _, value = part.strip().partition("=")
        if name == "crc32c":
            return base64.b64encode(google_crc32c.Checksum(body).digest()).decode() == value
    return True


class _MediaClient:
    """The JSON API's media GETs and uploads on plain keep-alive `http.client` connections.

    Per object, a request through the client's requests session costs ~0.5 ms of client Python
    (re-reading proxy settings from the environment, looking for ~/.netrc, merging hooks,
    cookies and adapters, urllib3's URL parsing and pool bookkeeping); this path costs ~0.07 ms.
    With it a year-window read went from ~0.8 ms to ~0.3 ms of client CPU per object. An upload
    through `Blob.upload_from_string` costs ~2.7 ms of client Python per small object (Blob and
    resumable-media objects, retry wrappers, the session); a multipart POST here ~0.45 ms
    (gcp-storage-emulator, 16 threads, 3 KB objects), and most of that time holds the GIL.

    It sends what the session would: the Authorization (and quota-project) headers come from
    the client's own credentials (`before_request`, which also refreshes an expired token) and
    TLS is verified against the CA bundle requests would use. `for_client` returns None when
    the session has settings this path does not reproduce (proxies, client certificates, mTLS,
    verify=False, a session without google-auth credentials); the store then uses the session.
    Connections are kept in a shared idle list (not per thread: the pool's threads change
    with every call; a forked process starts with none), and a kept-alive connection the
    server has closed is retried on a new one. `get` / `upload` return None on any other
    transport error, so the caller can fall back to the client's own download / upload (its
    retries and errors).
    """

    def __init__(
        self, base_url: str, credentials: Any, auth_request: Any, ssl_context: Any, user_agent: str
    ):
        parts = urlsplit(base_url)
        self.base_url = base_url.rstrip("/")
        self.path_prefix = parts.path.rstrip("/")
        self.host = parts.hostname or ""
        self.port = parts.port
        self.ssl_context = ssl_context
        self.credentials = credentials
        self.auth_request = auth_request
        self.user_agent = user_agent
        self._idle: list[http.client.HTTPConnection] = []
        self._pid = os.getpid()

    @classmethod
    def for_client(cls, client: Any) -> _MediaClient | None:
        import requests.utils

        session = client._http
        base_url = client._connection.API_BASE_URL
        credentials = getattr(session, "credentials", None)
        scheme = urlsplit(base_url).scheme
        if credentials is None or getattr(session, "is_mtls", False):
            return None
        if scheme not in ("http", "https"):
            return None
        # requests' own resolution of proxies (session + environment) and CA bundle for the URL.
        env = session.merge_environment_settings(base_url, {}, None, None, None)
        if requests.utils.select_proxy(base_url, env["proxies"]) or env["cert"]:
            return None
        context = None
        if scheme == "https":
            verify = env["verify"]
            if verify is False:
                return None
            if verify is True or verify is None:
                verify = requests.utils.extract_zipped_paths(requests.utils.DEFAULT_CA_BUNDLE_PATH)
            if os.path.isdir(verify):
                context = ssl.create_default_context(capath=verify)
            else:
                context = ssl.create_default_context(cafile=verify)
        auth_request = getattr(session, "_auth_request", None)
        if auth_request is None:
            from google.auth.transport.requests import Request

            auth_request = Request()
        user_agent = getattr(client._connection, "user_agent", "") or "energy-assets"
        return cls(base_url, credentials, auth_request, context, user_agent)

    def _connect(self) -> http.client.HTTPConnection:
        if self.ssl_context is not None:
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=MEDIA_TIMEOUT_S, context=self.ssl_context
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=MEDIA_TIMEOUT_S)

    def get(self, path: str) -> tuple[int, bytes, str | None] | None:
        """(status, body, x-goog-hash) of GET `path` (relative to the API base URL); None on a
        transport error."""
        return self._request("GET", path, None, {})

    def upload(self, bucket: str, name: str, data: bytes, content_type: str) -> int | None:
        """One multipart upload (metadata + bytes in a single request: the object appears only
        when it completes); the response's status, or None on a transport error.

        The metadata carries the bytes' crc32c, so GCS refuses an upload corrupted in transit
        (as the client does with its default checksum="auto").
        """
        crc32c = base64.b64encode(google_crc32c.Checksum(data).digest()).decode()
        metadata = json.dumps({"name": name, "contentType": content_type, "crc32c": crc32c})
        boundary = uuid.uuid4().hex
        dash = b"--" + boundary.encode()
        body = b"".join(
            (
                dash,
                b"\r\ncontent-type: application/json; charset=UTF-8\r\n\r\n",
                metadata.encode(),
                b"\r\n",
                dash,
                b"\r\ncontent-type: ",
                content_type.encode(),
                b"\r\n\r\n",
                data,
                b"\r\n",
                dash,
                b"--\r\n",
            )
        )
        path = f"/upload/storage/v1/b/{quote(bucket, safe='')}/o?uploadType=multipart"
        headers = {"Content-Type": f'multipart/related; boundary="{boundary}"'}
        result = self._request("POST", path, body, headers)
        return None if result is None else result[0]

    def _request(
        self, method: str, path: str, body: bytes | None, extra: Mapping[str, str]
    ) -> tuple[int, bytes, str | None] | None:
        headers = {"User-Agent": self.user_agent, **extra}
        self.credentials.before_request(self.auth_request, method, self.base_url + path, headers)
        target = self.path_prefix + path
        if self._pid != os.getpid():  # a forked child must not share the parent's sockets
            self._idle, self._pid = [], os.getpid()
        while True:
            try:
                conn, reused = self._idle.pop(), True  # list.pop is atomic: thread-safe
            except IndexError:
                conn, reused = self._connect(), False
            try:
                conn.request(method, target, body=body, headers=headers)
                response = conn.getresponse()
                content = response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                if reused:
                    # The server closed an idle kept-alive connection: a new one. (A repeated
                    # upload is harmless: it replaces the object with the same bytes.)
                    continue
                return None
            if response.will_close:
                conn.close()
            else:
                self._idle.append(conn)
            return response.status, content, response.getheader("x-goog-hash")


class ParquetStore:
    """Parquet objects per asset partition under a local folder or ``gs://bucket/prefix``.

    Args:
        url: folder path, ``file://`` URL or ``gs://bucket/prefix``.
        gcs_client: a ``google.cloud.storage.Client`` for gs:// URLs (created on demand from the
            environment if omitted; ``STORAGE_EMULATOR_HOST`` is honoured by the client).
        max_workers: threads for parallel reads / writes (and the HTTP pool size).
    """

    def __init__(self, url: str, gcs_client: Any = None, max_workers: int = 16):
        self.url = url
        self.max_workers = max(1, int(max_workers))
        parsed = urlparse(url)
        if parsed.scheme == "gs":
            self.is_gcs = True
            self.bucket_name = parsed.netloc
            self.prefix = parsed.path.strip("/")
            if not self.bucket_name:
                raise ValueError(f"storage URL {url!r} has no bucket name")
            if gcs_client is None:
                from google.cloud import storage

                gcs_client = storage.Client()
            _enlarge_connection_pool(gcs_client, self.max_workers)
            self.client = gcs_client
            self._media = _MediaClient.for_client(gcs_client)
            self.bucket = gcs_client.bucket(self.bucket_name)
            self.root: Path | None = None
        elif parsed.scheme in ("", "file"):
            self.is_gcs = False
            path = parsed.path if parsed.scheme == "file" else url
            self.root = Path(path).expanduser().resolve()
            self.client = None
            self._media = None
            self.bucket = None
            self.bucket_name = ""
            self.prefix = ""
        else:
            raise ValueError(f"unsupported storage URL {url!r}: use a folder path or gs://")

    def __repr__(self) -> str:
        return f"ParquetStore({self.url!r})"

    # -- paths ---------------------------------------------------------------------------

    @staticmethod
    def relpath(asset: str, partition_key: str | None) -> str:
        """Object path of one asset partition, relative to the store root."""
        if partition_key is None:
            return f"{asset}/{DATA_FILE}"
        hourly = HOURLY_KEY.match(partition_key)
        if hourly:
            return f"{asset}/date={hourly.group(1)}/hour={hourly.group(2)}/{DATA_FILE}"
        if DAILY_KEY.match(partition_key):
            return f"{asset}/date={partition_key}/{DATA_FILE}"
        # Any other partitioning (static, multi-dimensional): one quoted folder per key.
        return f"{asset}/partition={quote(partition_key, safe='')}/{DATA_FILE}"

    def uri(self, relpath: str) -> str:
        """Absolute local path or gs:// URI of a relative object path."""
        if self.is_gcs:
            return f"gs://{self.bucket_name}/{self._blob_name(relpath)}"
        assert self.root is not None
        return str(self.root / relpath)

    def _blob_name(self, relpath: str) -> str:
        return f"{self.prefix}/{relpath}" if self.prefix else relpath

    # -- bytes ---------------------------------------------------------------------------

    def write_bytes(
        self, relpath: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> str:
        """Atomically (re)place one object; returns its URI."""
        if self.is_gcs:
            # One request carrying the whole payload: GCS makes the object visible only when
            # the upload completes, so readers see the old object or the new one, never a part.
            self._upload_media(self._blob_name(relpath), data, content_type)
        else:
            self._write_local_atomic(self.uri(relpath), data)
        return self.uri(relpath)

    def _upload_media(self, blob_name: str, data: bytes, content_type: str) -> None:
        """Upload through `_MediaClient` when it applies; anything but 200 (a transport error,
        an expired token, 429, 5xx, a missing bucket) goes to `Blob.upload_from_string` for its
        token refresh, retries and error messages."""
        if self._media is not None:
            if self._media.upload(self.bucket_name, blob_name, data, content_type) == 200:
                return
        self.bucket.blob(blob_name).upload_from_string(data, content_type=content_type)

    @staticmethod
    def _stage_local(target: str, data: bytes, fsync: bool = True) -> str:
        """Write `data` to a temp file next to `target`; returns the temp path.

        First removes what killed writers left in that folder (storage.temp_files).
        """
        directory = os.path.dirname(target)
        os.makedirs(directory, exist_ok=True)
        sweep_folder(directory)
        fd, tmp = create_temp(directory)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                if fsync:
                    fh.flush()
                    os.fsync(fh.fileno())
        except BaseException:
            _unlink_quietly(tmp)
            raise
        return tmp

    @classmethod
    def _write_local_atomic(cls, target: str, data: bytes) -> None:
        tmp = cls._stage_local(target, data)
        try:
            os.replace(tmp, target)
        except BaseException:
            _unlink_quietly(tmp)
            raise

    def _write_many_local(self, relpaths: list[str], payloads: list[bytes]) -> list[str]:
        """Stage every temp file, flush them to disk with one sync, then rename each in place.

        One `os.sync()` instead of one fsync per object (8,760 fsyncs dominated a year's
        write). A failure while staging removes the temp files and replaces nothing.
        """
        targets = [self.uri(r) for r in relpaths]
        with ThreadPoolExecutor(self.max_workers) as pool:
            futures = [
                pool.submit(self._stage_local, target, data, False)
                for target, data in zip(targets, payloads, strict=True)
            ]
        staged = [f.result() for f in futures if f.exception() is None]
        errors = [f.exception() for f in futures if f.exception() is not None]
        try:
            if errors:
                raise errors[0]  # type: ignore[misc]
            os.sync()
            # In parallel: renaming over an existing object costs ~2 ms each on ext4.
            with ThreadPoolExecutor(self.max_workers) as pool:
                list(pool.map(os.replace, staged, targets))
        except BaseException:
            for tmp in staged:
                _unlink_quietly(tmp)  # already-renamed ones are gone: ignored
            raise
        return targets

    def clean_temp(
        self, older_than_seconds: float = ORPHAN_AGE_SECONDS, dry_run: bool = False
    ) -> TempCleanup:
        """Remove orphaned `.tmp-*.part` temp files anywhere in the store; returns what it did.

        Local: temp files of writers that are gone (same host) at once, any other once older
        than `older_than_seconds` (storage.temp_files). GCS: our writes never create temp
        objects (an object appears only when its upload completes), so a `.tmp-*.part` object
        came from elsewhere (e.g. a local store copied to the bucket); those older than
        `older_than_seconds` are deleted.
        """
        if not self.is_gcs:
            assert self.root is not None
            return sweep_tree(str(self.root), older_than_seconds, dry_run)
        result = TempCleanup()
        prefix = f"{self.prefix}/" if self.prefix else None
        now = time.time()
        for blob in self.client.list_blobs(self.bucket_name, prefix=prefix):
            if not is_temp_name(blob.name.rsplit("/", 1)[-1]):
                continue
            updated = blob.updated.timestamp() if blob.updated is not None else now
            uri = f"gs://{self.bucket_name}/{blob.name}"
            if now - updated < older_than_seconds:
                result.kept.append(uri)
                continue
            if not dry_run:
                from google.api_core.exceptions import NotFound

                try:
                    blob.delete()
                except NotFound:
                    continue
            result.removed.append(uri)
            result.removed_bytes += int(blob.size or 0)
        return result

    def read_bytes(self, relpath: str) -> bytes:
        """Bytes of one object; FileNotFoundError if absent."""
        data = self._read_bytes_or_none(relpath)
        if data is None:
            raise FileNotFoundError(f"no object at {self.uri(relpath)}")
        return data

    def _read_bytes_or_none(self, relpath: str) -> bytes | None:
        if self.is_gcs:
            from google.api_core.exceptions import NotFound

            return self._download_media(self._blob_name(relpath), NotFound)
        try:
            with open(self.uri(relpath), "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            return None

    def _download_media(self, blob_name: str, not_found: type[Exception]) -> bytes | None:
        """GET the object's bytes: the JSON API's media download with the client's credentials.

        On the client's endpoint (the emulator when STORAGE_EMULATOR_HOST is set), through
        `_MediaClient` (or the client's requests session when that path does not apply). It
        skips the Blob object and its reload machinery, which cost ~0.25 ms of Python per
        object. The body is checked against the response's crc32c, as the client does. Anything
        but 200/404 (a transport error, a checksum mismatch, 401, 429, 5xx) falls back to
        `Blob.download_as_bytes` for its token refresh, retries and error messages.
        """
        path = f"/download/storage/v1/b/{self.bucket_name}/o/{quote(blob_name, safe='')}"
        if self._media is not None:
            result = self._media.get(path + "?alt=media")
            status, body, goog_hash = result if result is not None else (0, b"", None)
        else:
            base = self.client._connection.API_BASE_URL.rstrip("/")
            response = self.client._http.get(base + path, params={"alt": "media"})
            status, body = response.status_code, response.content
            goog_hash = response.headers.get("x-goog-hash")
        # A body corrupted in transit goes to the client's download, which re-fetches / raises.
        if status == 200 and crc32c_matches(goog_hash, body):
            return body
        if status == 404:
            return None
        try:
            return self.bucket.blob(blob_name).download_as_bytes()
        except not_found:
            return None

    # -- frames --------------------------------------------------------------------------

    def write(self, asset: str, partition_key: str | None, df: Any) -> str:
        """Write one partition's frame (replacing any previous object); returns its URI."""
        return self.write_bytes(
            self.relpath(asset, partition_key), serialize(df), PARQUET_CONTENT_TYPE
        )

    def write_many(self, asset: str, frames: Mapping[Any, Any]) -> dict[Any, str]:
        """Write many partitions in parallel; returns {key: uri}.

        Every frame is serialised before the first upload, so a bad frame writes nothing.
        Each object is atomic; a failure part-way through the uploads (GCS) or renames (local)
        leaves some partitions replaced and the others untouched (each one whole), and
        re-running is idempotent.
        """
        keys = list(frames)
        relpaths = [self.relpath(asset, key) for key in keys]  # bad keys fail before any write

        def upload(relpath: str, data: bytes) -> str:
            return self.write_bytes(relpath, data, PARQUET_CONTENT_TYPE)

        uris: list[str] = []
        with ThreadPoolExecutor(self.max_workers) as pool:
            # Arrow encodes without the GIL, so serialising in the pool uses every core.
            payloads = list(pool.map(serialize, frames.values()))
            if self.is_gcs:
                uris = list(pool.map(upload, relpaths, payloads))
        if not self.is_gcs:
            uris = self._write_many_local(relpaths, payloads)
        return dict(zip(keys, uris, strict=True))

    def read(self, asset: str, partition_key: str | None) -> pd.DataFrame:
        """One partition's frame; MissingPartitionsError if it was never written,
        UnreadableObjectError (naming asset, partition and path) if it is not readable."""
        try:
            table = self._read_table_or_none(self.relpath(asset, partition_key))
        except UnreadableObjectError as error:
            raise error.naming(asset, partition_key) from None
        if table is None:
            raise MissingPartitionsError(asset, [partition_key], 1)
        return _table_to_pandas(table)

    def _read_table_or_none(self, relpath: str) -> pa.Table | None:
        data = self._read_bytes_or_none(relpath)
        if data is None:
            return None
        try:
            return deserialize(data)
        except pa.ArrowException as error:
            reason = f"{type(error).__name__}: {str(error).strip().splitlines()[0]}"
            raise UnreadableObjectError(self.uri(relpath), reason) from None

    def _read_tables(self, relpaths: list[str]) -> list[pa.Table | None]:
        """Decoded objects (None where absent), in order, from a thread pool.

        Each task reads a run of consecutive objects: one future per object cost ~0.05 ms of
        scheduling and wake-ups, a tenth of a whole read's per-object cost.
        """
        size = max(1, min(READ_CHUNK, -(-len(relpaths) // (self.max_workers * 4))))
        chunks = [relpaths[i : i + size] for i in range(0, len(relpaths), size)]

        def read_chunk(chunk: list[str]) -> list[pa.Table | None]:
            return [self._read_table_or_none(relpath) for relpath in chunk]

        if len(chunks) <= 1:
            return read_chunk(relpaths)
        with ThreadPoolExecutor(min(self.max_workers, len(chunks))) as pool:
            return [table for tables in pool.map(read_chunk, chunks) for table in tables]

    def read_many(
        self, asset: str, partition_keys: Iterable[str | None], missing_ok: bool = False
    ) -> pd.DataFrame:
        """The frames of many partitions, concatenated in key order, read in parallel.

        Missing partitions raise MissingPartitionsError naming the asset and the first missing
        keys, unless `missing_ok` (then they are skipped; nothing stored -> empty frame). An
        object that is stored but unreadable raises UnreadableObjectError, `missing_ok` or not.
        """
        keys = list(partition_keys)
        relpaths = [self.relpath(asset, k) for k in keys]
        try:
            tables = self._read_tables(relpaths)
        except UnreadableObjectError as error:
            key = keys[[self.uri(r) for r in relpaths].index(error.uri)]
            raise error.naming(asset, key) from None
        missing = [k for k, t in zip(keys, tables, strict=True) if t is None]
        if missing and not missing_ok:
            raise MissingPartitionsError(asset, missing, len(keys))
        present = [t for t in tables if t is not None]
        if not present:
            return pd.DataFrame()
        # Arrow concat + one conversion is far cheaper than pandas.concat of thousands of frames.
        combined = pa.concat_tables(present, promote_options="default")
        return _table_to_pandas(combined)


def split_by_partition(
    frame: pd.DataFrame, column: str, partition_keys: list[str], asset: str = "asset"
) -> dict[str, pa.Table]:
    """Split one frame covering a partition range into {partition_key: Arrow table of its rows}.

    `column` holds UTC timestamps (naive or tz-aware); hourly keys ("2023-01-01-05:00") floor
    it to the hour, daily keys ("2023-01-01") to the day. Raises ValueError naming the partitions
    when a key has no rows or rows fall outside the range, so nothing half-correct is written.

    The frame is converted to Arrow once and sliced (zero-copy) per partition: converting
    8,760 small pandas frames one by one costs more than writing them.
    """
    if column not in frame.columns:
        raise ValueError(
            f"cannot split {asset}: partition_column '{column}' is not a column "
            f"(columns: {list(frame.columns)})"
        )
    if all(HOURLY_KEY.match(k) for k in partition_keys):
        unit, fmt = "h", HOUR_KEY_FORMAT
    elif all(DAILY_KEY.match(k) for k in partition_keys):
        unit, fmt = "D", DAY_KEY_FORMAT
    else:
        raise ValueError(f"cannot split {asset} by time: unsupported keys {partition_keys[:3]}")
    floored = naive_utc_series(frame[column]).dt.floor(unit).to_numpy()
    order = np.argsort(floored, kind="stable")
    floored = floored[order]
    starts: list[int] = (
        np.flatnonzero(np.r_[True, floored[1:] != floored[:-1]]).tolist() if len(floored) else []
    )
    labels = [pd.Timestamp(floored[i]).strftime(fmt) for i in starts]
    wanted = set(partition_keys)
    outside = [label for label in labels if label not in wanted]
    if outside:
        raise ValueError(
            f"{asset}: rows for {len(outside)} partition(s) outside the materialised range "
            f"{partition_keys[0]} .. {partition_keys[-1]}: {outside[:5]}; nothing was written"
        )
    present = set(labels)
    empty = [k for k in partition_keys if k not in present]
    if empty:
        raise ValueError(
            f"{asset}: {len(empty)} of {len(partition_keys)} partitions in the range have no rows "
            f"(by '{column}'): {empty[:5]}; nothing was written"
        )
    table = to_arrow(frame.reset_index(drop=True)).take(pa.array(order))
    bounds = [*starts, len(floored)]
    return {
        label: table.slice(bounds[i], bounds[i + 1] - bounds[i]) for i, label in enumerate(labels)
    }


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
