"""ParquetStore on a local folder and on a real GCS API (gcp-storage-emulator on 127.0.0.1)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from energy_assets.storage.parquet_store import (
    MissingPartitionsError,
    ParquetStore,
    UnreadableObjectError,
    split_by_partition,
)
from energy_assets_tests.helpers import existing_keys, exists


def hour_frame(hour: str, rows: int = 4) -> pd.DataFrame:
    ts = pd.Timestamp(hour[:10] + "T" + hour[11:])
    return pd.DataFrame(
        {
            "HourUTC": [ts] * rows,
            "PriceArea": ["DK1", "DK2"] * (rows // 2),
            "ConsumerType_DE35": np.arange(rows, dtype="int64") + 111,
            "TotalCon": np.linspace(1.0, 2.0, rows),
        }
    )


HOURS = [f"2023-01-01-{h:02d}:00" for h in range(6)]


class TcpRelay:
    """Forwards TCP connections to the emulator and keeps what the client sent.

    The emulator ignores auth headers; the relay lets a test see them on the wire. `drop()`
    closes every relayed connection, as a server does with idle kept-alive ones.
    """

    def __init__(self, target: tuple[str, int], tamper=None, tamper_sent=None):
        self.target = target
        self.tamper = tamper  # applied to each chunk the server sends back
        self.tamper_sent = tamper_sent  # applied to each chunk the client sends
        self.sent = bytearray()
        self.connections = 0
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self.connections += 1
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, record: bool) -> None:
        try:
            while data := src.recv(65536):
                if record:
                    with self._lock:
                        self.sent += data
                    if self.tamper_sent is not None:
                        data = self.tamper_sent(data)
                elif self.tamper is not None:
                    data = self.tamper(data)
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            sock.close()

    def drop(self) -> None:
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._sockets.clear()

    def close(self) -> None:
        self.drop()
        self._server.close()


@pytest.fixture
def relay(gcs_emulator):
    host, port = gcs_emulator.host.removeprefix("http://").split(":")
    relay = TcpRelay((host, int(port)))
    yield relay
    relay.close()


def test_relpath_is_hive_style():
    assert (
        ParquetStore.relpath("raw", "2023-01-01-05:00")
        == "raw/date=2023-01-01/hour=05/data.parquet"
    )
    assert ParquetStore.relpath("drift", "2023-01-01") == "drift/date=2023-01-01/data.parquet"
    assert ParquetStore.relpath("model", None) == "model/data.parquet"


def test_local_round_trip_all_partition_kinds(tmp_path):
    store = ParquetStore(str(tmp_path))
    df = hour_frame(HOURS[0])
    for key in ("2023-01-01-05:00", "2023-01-01", None):
        uri = store.write("asset", key, df)
        assert Path(uri).is_file() and uri.startswith(str(tmp_path))
        pd.testing.assert_frame_equal(store.read("asset", key), df)
    assert (tmp_path / "asset/date=2023-01-01/hour=05/data.parquet").is_file()


def test_file_url_and_polars_frames(tmp_path):
    store = ParquetStore(f"file://{tmp_path}")
    store.write("p", None, pl.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    assert store.read("p", None).to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}


def test_write_many_read_many_in_key_order(tmp_path):
    store = ParquetStore(str(tmp_path), max_workers=4)
    store.write_many("raw", {h: hour_frame(h) for h in HOURS})
    back = store.read_many("raw", reversed(HOURS))
    assert len(back) == 4 * len(HOURS)
    assert back["HourUTC"].iloc[0] == pd.Timestamp("2023-01-01T05:00")
    assert existing_keys(store, "raw", HOURS + ["2023-01-02-00:00"]) == HOURS


def test_missing_partitions_named_or_skipped(tmp_path):
    store = ParquetStore(str(tmp_path))
    store.write("raw", HOURS[1], hour_frame(HOURS[1]))
    with pytest.raises(
        MissingPartitionsError, match=r"5 of 6 partitions of asset 'raw'.*2023-01-01-00:00"
    ):
        store.read_many("raw", HOURS)
    assert len(store.read_many("raw", HOURS, missing_ok=True)) == 4
    assert store.read_many("nothing", HOURS, missing_ok=True).empty


def test_a_truncated_object_names_asset_partition_path_and_repair(tmp_path):
    """A damaged object (truncated by hand, a failed copy) is not "Parquet magic bytes not
    found" with no word of which object: it names it and says how to repair it (issue 18)."""
    store = ParquetStore(str(tmp_path), max_workers=4)
    store.write_many("features", {h: hour_frame(h) for h in HOURS})
    damaged = Path(store.uri(store.relpath("features", HOURS[3])))
    damaged.write_bytes(damaged.read_bytes()[:100])
    expected = (
        f"The stored object of asset 'features', partition {HOURS[3]}, at {damaged} cannot be "
        "read: it is damaged or not parquet (ArrowInvalid: "
    )
    for read in (
        lambda: store.read_many("features", HOURS),
        lambda: store.read_many("features", HOURS, missing_ok=True),
        lambda: store.read("features", HOURS[3]),
    ):
        with pytest.raises(UnreadableObjectError) as raised:
            read()
        message = str(raised.value)
        assert message.startswith(expected), message
        assert message.endswith(
            f"Re-materialise that partition (features, {HOURS[3]}) to replace it whole, then retry."
        )
        assert raised.value.__cause__ is None and "\n" not in message
    store.write("features", HOURS[3], hour_frame(HOURS[3]))  # the repair it names
    assert len(store.read_many("features", HOURS)) == 4 * len(HOURS)


def test_a_damaged_object_on_gcs_is_named_by_its_gs_uri(gcs_emulator):
    bucket = gcs_emulator.make_bucket()
    store = ParquetStore(f"gs://{bucket.name}/energy", gcs_emulator.client(), max_workers=4)
    store.write_many("features", {h: hour_frame(h) for h in HOURS[:3]})
    store.write_bytes(store.relpath("features", HOURS[1]), b"PAR1 not really")
    with pytest.raises(UnreadableObjectError, match=r"partition 2023-01-01-01:00, at gs://"):
        store.read_many("features", HOURS[:3])


def test_rewrite_replaces_partition_whole(tmp_path):
    store = ParquetStore(str(tmp_path))
    store.write("raw", HOURS[0], hour_frame(HOURS[0], rows=8))
    store.write("raw", HOURS[0], hour_frame(HOURS[0], rows=2))
    assert len(store.read("raw", HOURS[0])) == 2


def test_unserialisable_frame_writes_nothing(tmp_path):
    store = ParquetStore(str(tmp_path))
    bad = pd.DataFrame({"x": [{"a": 1}, 3]})  # mixed object column: Arrow refuses it
    frames = {HOURS[0]: hour_frame(HOURS[0]), HOURS[1]: bad}
    with pytest.raises(Exception):  # noqa: B017 - any Arrow conversion error
        store.write_many("raw", frames)
    assert existing_keys(store, "raw", HOURS) == []


@pytest.mark.parametrize("failing", ["os.replace", "os.fsync"])
def test_failed_local_write_keeps_old_object(tmp_path, monkeypatch, failing):
    store = ParquetStore(str(tmp_path))
    store.write("raw", HOURS[0], hour_frame(HOURS[0], rows=8))

    def boom(*args, **kwargs):
        raise OSError("disk gone")

    monkeypatch.setattr(failing, boom)
    with pytest.raises(OSError, match="disk gone"):
        store.write("raw", HOURS[0], hour_frame(HOURS[0], rows=2))
    monkeypatch.undo()
    assert len(store.read("raw", HOURS[0])) == 8
    folder = tmp_path / "raw/date=2023-01-01/hour=00"
    assert [p.name for p in folder.iterdir()] == ["data.parquet"]  # temp file cleaned up


def test_failed_local_write_many_replaces_nothing(tmp_path, monkeypatch):
    store = ParquetStore(str(tmp_path))
    store.write_many("raw", {h: hour_frame(h, rows=8) for h in HOURS})

    def boom():
        raise OSError("sync failed")

    monkeypatch.setattr("os.sync", boom)
    with pytest.raises(OSError, match="sync failed"):
        store.write_many("raw", {h: hour_frame(h, rows=2) for h in HOURS})
    monkeypatch.undo()
    assert len(store.read_many("raw", HOURS)) == 8 * len(HOURS)
    assert not list(tmp_path.rglob("*.part"))


def test_process_killed_mid_write_leaves_a_whole_object(tmp_path):
    """SIGKILL a process that keeps rewriting a ~10 MB object: the object stays readable."""
    script = textwrap.dedent(
        f"""
        import numpy as np, pandas as pd, sys
        from energy_assets.storage.parquet_store import ParquetStore
        store = ParquetStore({str(tmp_path)!r})
        rng = np.random.default_rng(0)
        i = 0
        while True:
            n = 1_000_000 + i
            store.write("big", None, pd.DataFrame({{"v": rng.random(n), "n": np.full(n, n)}}))
            i += 1
            print(i, flush=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        for _ in range(2):  # at least two complete writes, then kill during a later one
            proc.stdout.readline()
        time.sleep(0.15)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    df = ParquetStore(str(tmp_path)).read("big", None)
    assert len(df) == df["n"].iloc[0]  # a complete version, never a truncated one


def test_gcs_round_trip_and_layout(gcs_emulator):
    bucket = gcs_emulator.make_bucket()
    client = gcs_emulator.client()
    store = ParquetStore(f"gs://{bucket.name}/energy", client, max_workers=8)
    uri = store.write("raw", HOURS[0], hour_frame(HOURS[0]))
    assert uri == f"gs://{bucket.name}/energy/raw/date=2023-01-01/hour=00/data.parquet"
    pd.testing.assert_frame_equal(store.read("raw", HOURS[0]), hour_frame(HOURS[0]))
    store.write_bytes("raw/date=2023-01-01/report.html", b"<html/>", "text/html")
    assert store.read_bytes("raw/date=2023-01-01/report.html") == b"<html/>"
    assert (
        client.bucket(bucket.name)
        .get_blob("energy/raw/date=2023-01-01/report.html")
        .content_type.startswith("text/html")
    )
    # connection pool enlarged so parallel reads don't queue
    assert client._http.get_adapter("http://127.0.0.1")._pool_maxsize == 8


def test_gcs_many_partitions_replace_and_missing(gcs_emulator):
    bucket = gcs_emulator.make_bucket()
    store = ParquetStore(f"gs://{bucket.name}", gcs_emulator.client())
    hours = [
        str(h.strftime("%Y-%m-%d-%H:%M"))
        for h in pd.date_range("2023-01-01", periods=100, freq="h")
    ]
    store.write_many("raw", {h: hour_frame(h) for h in hours})
    assert len(store.read_many("raw", hours)) == 400
    store.write("raw", hours[0], hour_frame(hours[0], rows=2))
    assert len(store.read("raw", hours[0])) == 2
    extra = ["2024-01-01-00:00"]
    assert existing_keys(store, "raw", hours + extra) == hours
    assert existing_keys(store, "raw", hours[:3] + extra) == hours[:3]
    with pytest.raises(MissingPartitionsError, match="2024-01-01-00:00"):
        store.read_many("raw", hours[:3] + extra)
    assert exists(store, "raw", hours[5]) and not exists(store, "raw", extra[0])


def test_gcs_media_gets_carry_the_clients_credentials(gcs_emulator, relay):
    """Reads skip requests but still send the credentials' Authorization and quota headers."""
    from google.cloud import storage
    from google.oauth2.credentials import Credentials

    bucket = gcs_emulator.make_bucket()
    credentials = Credentials(token="t0k3n", quota_project_id="billing-project")
    client = storage.Client(
        project="test", credentials=credentials, client_options={"api_endpoint": relay.url}
    )
    store = ParquetStore(f"gs://{bucket.name}/energy", client, max_workers=4)
    assert store._media is not None  # the lean http.client path, not the requests session
    store.write_many("raw", {h: hour_frame(h) for h in HOURS})
    relay.sent.clear()
    assert len(store.read_many("raw", HOURS)) == 4 * len(HOURS)
    requests_sent = bytes(relay.sent).split(b"GET ")[1:]
    assert len(requests_sent) == len(HOURS)
    for request in requests_sent:
        head = request.split(b"\r\n\r\n")[0].lower()
        assert head.startswith(b"/download/storage/v1/b/" + bucket.name.encode())
        assert b"?alt=media http/1.1" in head
        assert b"\r\nauthorization: bearer t0k3n" in head
        assert b"\r\nx-goog-user-project: billing-project" in head


def test_gcs_uploads_carry_the_clients_credentials_and_a_crc32c(gcs_emulator, relay):
    """Writes skip Blob.upload_from_string but send what it would: credentials' headers, one
    multipart request per object, the bytes' crc32c in the metadata (GCS checks it)."""
    import base64
    import json

    import google_crc32c
    from google.cloud import storage
    from google.oauth2.credentials import Credentials

    bucket = gcs_emulator.make_bucket()
    credentials = Credentials(token="t0k3n", quota_project_id="billing-project")
    client = storage.Client(
        project="test", credentials=credentials, client_options={"api_endpoint": relay.url}
    )
    # One writer thread: the relay records every connection into one buffer, so parallel
    # uploads would interleave there.
    store = ParquetStore(f"gs://{bucket.name}/energy", client, max_workers=1)
    assert store._media is not None
    store.write_many("raw", {h: hour_frame(h) for h in HOURS})
    uploads = bytes(relay.sent).split(b"POST ")[1:]
    assert len(uploads) == len(HOURS)  # one request each, no resumable session
    names = set()
    for request in uploads:
        head, _, body = request.partition(b"\r\n\r\n")
        head = head.lower()
        assert head.startswith(
            b"/upload/storage/v1/b/" + bucket.name.encode() + b"/o?uploadtype=multipart "
        )
        assert b"\r\nauthorization: bearer t0k3n" in head
        assert b"\r\nx-goog-user-project: billing-project" in head
        # multipart/related: the JSON metadata part, then the parquet bytes.
        boundary = head.split(b'boundary="')[1].split(b'"')[0]
        parts = body.split(b"--" + boundary)
        metadata = json.loads(parts[1].split(b"\r\n\r\n", 1)[1])
        payload = parts[2].split(b"\r\n\r\n", 1)[1][: -len(b"\r\n")]
        assert metadata["contentType"] == "application/vnd.apache.parquet"
        assert (
            metadata["crc32c"]
            == base64.b64encode(google_crc32c.Checksum(payload).digest()).decode()
        )
        names.add(metadata["name"])
    assert names == {f"energy/{ParquetStore.relpath('raw', h)}" for h in HOURS}
    reader = ParquetStore(f"gs://{bucket.name}/energy", gcs_emulator.client())
    pd.testing.assert_frame_equal(reader.read("raw", HOURS[2]), hour_frame(HOURS[2]))


def test_gcs_upload_corrupted_in_transit_is_refused_and_stores_nothing(gcs_emulator):
    """Bytes changed between client and server fail the crc32c the metadata carries: the fast
    path's upload is refused, the client's own upload (same wire) is refused too and raises."""
    bucket = gcs_emulator.make_bucket()
    host, port = gcs_emulator.host.removeprefix("http://").split(":")
    payload = b"A" * 100 + b"MARK"
    corrupting = TcpRelay(
        (host, int(port)), tamper_sent=lambda data: data.replace(b"MARK", b"MARX")
    )
    try:
        client = gcs_emulator.client()
        client._connection.API_BASE_URL = corrupting.url
        store = ParquetStore(f"gs://{bucket.name}", client)
        assert store._media is not None
        with pytest.raises(Exception, match="(?i)crc32c|checksum|conflict|corrupt"):
            store.write_bytes("raw/blob.bin", payload)
        assert corrupting.sent.count(b"POST /upload/") >= 2  # fast path, then the client
    finally:
        corrupting.close()
    clean = ParquetStore(f"gs://{bucket.name}", gcs_emulator.client())
    with pytest.raises(FileNotFoundError):
        clean.read_bytes("raw/blob.bin")


def test_gcs_upload_falls_back_to_the_clients_upload(gcs_emulator):
    """A transport failure on the fast path goes to Blob.upload_from_string (its retries)."""
    bucket = gcs_emulator.make_bucket()
    store = ParquetStore(f"gs://{bucket.name}", gcs_emulator.client())
    assert store._media is not None
    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        store._media.port = sock.getsockname()[1]
    store._media._idle.clear()
    store.write_many("raw", {h: hour_frame(h) for h in HOURS[:2]})
    reader = ParquetStore(f"gs://{bucket.name}", gcs_emulator.client())
    pd.testing.assert_frame_equal(reader.read("raw", HOURS[1]), hour_frame(HOURS[1]))


def test_gcs_upload_to_a_missing_bucket_fails_with_the_clients_error(gcs_emulator):
    from google.api_core.exceptions import NotFound

    store = ParquetStore("gs://no-such-bucket-here", gcs_emulator.client())
    assert store._media is not None
    with pytest.raises(NotFound, match="no-such-bucket-here"):
        store.write("raw", HOURS[0], hour_frame(HOURS[0]))


def test_gcs_read_survives_closed_keepalive_connections(gcs_emulator, relay):
    bucket = gcs_emulator.make_bucket()
    client = gcs_emulator.client()
    client._connection.API_BASE_URL = relay.url
    store = ParquetStore(f"gs://{bucket.name}", client, max_workers=4)
    store.write_many("raw", {h: hour_frame(h) for h in HOURS})
    assert len(store.read_many("raw", HOURS)) == 4 * len(HOURS)
    assert store._media is not None and store._media._idle  # kept-alive connections
    opened = relay.connections
    relay.drop()  # the server closes them while idle
    relay.sent.clear()
    assert len(store.read_many("raw", HOURS)) == 4 * len(HOURS)
    assert relay.connections > opened  # retried on new connections...
    # ...by the fast path itself (http.client asks for identity; requests would ask for gzip)
    assert bytes(relay.sent).lower().count(b"accept-encoding: identity") == len(HOURS)


def test_gcs_read_refuses_a_body_that_fails_its_crc32c(gcs_emulator):
    """Bytes changed in transit fail the x-goog-hash check and are never returned."""
    from google.resumable_media import DataCorruption

    bucket = gcs_emulator.make_bucket()
    host, port = gcs_emulator.host.removeprefix("http://").split(":")
    payload = b"A" * 100 + b"MARK"
    clean = ParquetStore(f"gs://{bucket.name}", gcs_emulator.client())
    clean.write_bytes("raw/blob.bin", payload)
    assert clean.read_bytes("raw/blob.bin") == payload
    corrupting = TcpRelay((host, int(port)), tamper=lambda data: data.replace(b"MARK", b"MARX"))
    try:
        client = gcs_emulator.client()
        client._connection.API_BASE_URL = corrupting.url
        store = ParquetStore(f"gs://{bucket.name}", client)
        assert store._media is not None
        with pytest.raises(DataCorruption):
            store.read_bytes("raw/blob.bin")  # fast path refuses, the client's download raises
    finally:
        corrupting.close()


def test_gcs_read_falls_back_to_the_clients_download(gcs_emulator):
    """A transport failure on the fast path goes to Blob.download_as_bytes (its retries)."""
    bucket = gcs_emulator.make_bucket()
    store = ParquetStore(f"gs://{bucket.name}", gcs_emulator.client())
    store.write("raw", HOURS[0], hour_frame(HOURS[0]))
    assert store._media is not None
    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        store._media.port = sock.getsockname()[1]
    store._media._idle.clear()
    pd.testing.assert_frame_equal(store.read("raw", HOURS[0]), hour_frame(HOURS[0]))
    assert store.read_many("raw", ["2024-01-01-00:00"], missing_ok=True).empty


def test_gcs_proxy_settings_keep_the_requests_session(gcs_emulator, monkeypatch):
    """Settings the fast path doesn't reproduce (here a proxy) leave reads on the session."""
    for variable in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    store = ParquetStore("gs://any-bucket", gcs_emulator.client())
    assert store._media is None


def test_read_many_of_no_keys_is_empty(tmp_path):
    assert ParquetStore(str(tmp_path)).read_many("raw", []).empty


def test_gcs_forked_process_does_not_reuse_the_parents_connections(gcs_emulator):
    """Two processes on one kept-alive socket could read each other's responses."""
    bucket = gcs_emulator.make_bucket()
    store = ParquetStore(f"gs://{bucket.name}", gcs_emulator.client())
    store.write("raw", HOURS[0], hour_frame(HOURS[0]))
    store.read("raw", HOURS[0])
    assert store._media is not None

    # Local ports, not id()s: a freed connection object's id can be reused in the child.
    def local_ports() -> set[int]:
        return {conn.sock.getsockname()[1] for conn in store._media._idle if conn.sock}

    parents = local_ports()
    assert parents
    pid = os.fork()
    if pid == 0:  # child: read, then check it used a connection of its own
        ok = len(store.read("raw", HOURS[0])) == 4
        ok = ok and bool(local_ports()) and not parents & local_ports()
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert local_ports() == parents


def test_split_rejects_empty_partition_and_rows_outside_range():
    frame = pd.DataFrame(
        {"HourUTC": pd.to_datetime(["2023-01-01T00:10", "2023-01-01T02:00"]), "v": [1, 2]}
    )
    keys = ["2023-01-01-00:00", "2023-01-01-01:00", "2023-01-01-02:00"]
    with pytest.raises(ValueError, match=r"1 of 3 partitions.*2023-01-01-01:00"):
        split_by_partition(frame, "HourUTC", keys, "raw")
    with pytest.raises(ValueError, match="outside the materialised range"):
        split_by_partition(frame, "HourUTC", keys[:2], "raw")
    daily = split_by_partition(frame, "HourUTC", ["2023-01-01"], "d")
    assert len(daily["2023-01-01"]) == 2
