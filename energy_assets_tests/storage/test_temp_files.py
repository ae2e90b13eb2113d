"""Temp files of local atomic writes: what a killed writer leaves, who removes it, file modes.

Real processes: a writer SIGKILLed while it stages, a live process holding a temp file, a
subprocess with its own umask; GCS through the emulator.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energy_assets.storage.parquet_store import ParquetStore
from energy_assets.storage.temp_files import ORPHAN_AGE_SECONDS, create_temp

HOURS = [f"2023-01-{d:02d}-{h:02d}:00" for d in range(1, 11) for h in range(24)]

WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np, pandas as pd
    from energy_assets.storage.parquet_store import ParquetStore
    store = ParquetStore(sys.argv[1])
    frame = pd.DataFrame({"v": np.arange(20_000, dtype="float64")})
    keys = [f"2023-01-{d:02d}-{h:02d}:00" for d in range(1, 11) for h in range(24)]
    print("ready", flush=True)
    while True:
        store.write_many("raw_consumption", {key: frame for key in keys})
    """
)


def temp_files(root: Path) -> list[Path]:
    return sorted(root.rglob(".tmp-*.part"))


def kill_writer_mid_write(root: Path) -> int:
    """Start a writer rewriting 240 partitions in a loop; SIGKILL it while its temp files exist.

    Returns how many temp files it left.
    """
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while not temp_files(root):
            assert time.monotonic() < deadline, "the writer never staged a temp file"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    return len(temp_files(root))


def test_temp_files_of_a_killed_writer_are_removed_by_the_next_write_and_clean_temp(tmp_path):
    left = kill_writer_mid_write(tmp_path)
    assert left > 0
    store = ParquetStore(str(tmp_path))
    # The next write of a partition clears its folder at once: the dead writer ran on this host.
    orphan = temp_files(tmp_path)[0]
    key = next(k for k in HOURS if store.uri(store.relpath("raw_consumption", k)).startswith(
        str(orphan.parent) + os.sep
    ))  # fmt: skip
    store.write("raw_consumption", key, pd.DataFrame({"v": [1.0]}))
    assert not list(orphan.parent.glob(".tmp-*.part"))
    assert len(temp_files(tmp_path)) == left - 1
    # The maintenance sweep removes the rest, whatever their age.
    result = store.clean_temp()
    assert len(result.removed) == left - 1 and not result.kept
    assert not temp_files(tmp_path)
    # Every object the writer had renamed in place is whole.
    frames = store.read_many("raw_consumption", HOURS, missing_ok=True)
    assert len(frames) and not frames["v"].isna().any()


def test_a_live_writers_temp_file_is_kept_until_it_is_old(tmp_path):
    folder = tmp_path / "raw_consumption" / "date=2023-01-01" / "hour=00"
    folder.mkdir(parents=True)
    # A temp file named for a process that is running (this one), and one of an older version.
    fd, live = create_temp(str(folder))
    os.close(fd)
    legacy = folder / ".tmp-k3j2h1g0.part"
    legacy.write_bytes(b"partial")
    store = ParquetStore(str(tmp_path))
    store.write("raw_consumption", "2023-01-01-00:00", pd.DataFrame({"v": [1.0]}))
    assert Path(live).exists() and legacy.exists()  # possibly a live writer: kept
    assert len(store.clean_temp().kept) == 2
    # An hour later nobody can still be writing them.
    old = time.time() - ORPHAN_AGE_SECONDS - 60
    for path in (live, legacy):
        os.utime(path, (old, old))
    result = store.clean_temp(dry_run=True)
    assert len(result.removed) == 2 and Path(live).exists()
    assert len(store.clean_temp().removed) == 2
    assert not temp_files(tmp_path)
    assert store.read("raw_consumption", "2023-01-01-00:00")["v"].tolist() == [1.0]


UMASK_WRITER = textwrap.dedent(
    """
    import os, sys
    import pandas as pd
    from energy_assets.storage.parquet_store import ParquetStore
    os.umask(int(sys.argv[2], 8))
    store = ParquetStore(sys.argv[1])
    store.write("forecasting_model", None, pd.DataFrame({"v": [1.0]}))
    store.write_many("raw_consumption", {"2023-01-01-00:00": pd.DataFrame({"v": [1.0]})})
    """
)


@pytest.mark.parametrize("umask, mode", [("022", 0o644), ("027", 0o640)])
def test_stored_files_get_the_permissions_the_umask_gives(tmp_path, umask, mode):
    subprocess.run([sys.executable, "-c", UMASK_WRITER, str(tmp_path), umask], check=True)
    files = list(tmp_path.rglob("data.parquet"))
    assert len(files) == 2
    assert {stat.S_IMODE(path.stat().st_mode) for path in files} == {mode}


def test_gcs_clean_temp_removes_stray_temp_objects_only(gcs_emulator):
    bucket = gcs_emulator.make_bucket()
    store = ParquetStore(f"gs://{bucket.name}/energy", gcs_emulator.client())
    store.write("raw_consumption", "2023-01-01-00:00", pd.DataFrame({"v": np.arange(3.0)}))
    # What copying a local store with orphans into the bucket leaves there.
    stray = [
        "energy/raw_consumption/date=2023-01-01/hour=00/.tmp-0a1b.123@host_1.part",
        "energy/raw_consumption/date=2023-01-01/hour=01/.tmp-legacy.part",
    ]
    for name in stray:
        bucket.blob(name).upload_from_string(b"partial")
    bucket.blob("elsewhere/.tmp-x.part").upload_from_string(b"not ours")  # outside the prefix
    fresh = store.clean_temp()
    assert len(fresh.kept) == 2 and not fresh.removed  # younger than the threshold
    result = store.clean_temp(older_than_seconds=0)
    assert sorted(result.removed) == sorted(f"gs://{bucket.name}/{n}" for n in stray)
    assert result.removed_bytes == 2 * len(b"partial")
    names = {blob.name for blob in gcs_emulator.client().list_blobs(bucket.name)}
    assert names == {
        "energy/raw_consumption/date=2023-01-01/hour=00/data.parquet",
        "elsewhere/.tmp-x.part",
    }
