"""The Dagster UI, driven by headless Chromium against a real `dagster dev` of our definitions.

Slow (about a minute: the webserver, daemon and code server start for real), so marked `slow`;
skipped with a reason where Debian's chromium is missing (`browser`).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from energy_assets_tests.fixtures.browser import launch_asset_partition_run, wait_for_run

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# An hour inside the shared slice (2022-12-21T16 -> 2023-01-17T22 UTC).
PARTITION = "2023-01-10-00:00"


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


def test_asset_graph_shows_assets_and_a_partition_materialises(
    dagster_dev_server, browser_page, replay_server, shared_slice, tmp_path
):
    api = replay_server(shared_slice)
    base_url = dagster_dev_server(
        env={
            "ENERGIDATA_API_URL": api.url,
            # Partitions from the slice's first hour: a short partition list keeps the UI quick.
            "ENERGY_PARTITIONS_START": "2022-12-21-16:00",
            "ENERGY_STORAGE_URL": str(tmp_path / "storage"),
        }
    )

    page = browser_page
    # The global lineage shows one collapsed node per group when there are several groups.
    page.goto(f"{base_url}/asset-groups")
    for group in ("ingestion", "features", "training", "forecasting", "monitoring"):
        page.get_by_text(group, exact=True).first.wait_for(state="visible")
    # raw_consumption's lineage: its node and its downstream consumption_features, expanded.
    page.goto(f"{base_url}/assets/raw_consumption?view=lineage")
    for asset_name in ("raw_consumption", "consumption_features"):
        page.get_by_text(asset_name, exact=True).last.wait_for(state="visible")
    before = tmp_path / "asset_graph.png"
    page.screenshot(path=str(before), full_page=True)

    run_id = launch_asset_partition_run(base_url, "raw_consumption", PARTITION)
    assert wait_for_run(base_url, run_id, timeout=180) == "SUCCESS"

    page.goto(f"{base_url}/runs/{run_id}")
    page.get_by_text("Success", exact=True).first.wait_for(state="visible")
    assert page.get_by_text(f"partition: {PARTITION}").count() >= 1
    # The asset's event list shows the new materialisation of exactly that partition.
    page.goto(f"{base_url}/assets/raw_consumption?view=events")
    page.get_by_text(PARTITION).first.wait_for(state="visible", timeout=60_000)
    after = tmp_path / "raw_consumption_events.png"
    page.screenshot(path=str(after), full_page=True)

    # The run wrote the partition's object where the hive-style layout says.
    assert (tmp_path / "storage/raw_consumption/date=2023-01-10/hour=00/data.parquet").is_file()
    for shot in (before, after):
        width, height = _png_size(shot)
        assert width >= 1440 and height >= 900
        # A blank or error page compresses to almost nothing; a rendered UI does not.
        assert shot.stat().st_size > 20_000, f"{shot} looks blank"
