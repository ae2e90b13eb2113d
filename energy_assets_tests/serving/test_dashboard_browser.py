"""The dashboard in headless Chromium (Debian's), against a real `energy-assets serve` process:
it loads through the API, the series picker redraws the latest forecast for the chosen series, the
as-issued view shows a past issue against what happened, and the glance table sorts by error.
Screenshots go to docs/img/dashboard*.png with ENERGY_UPDATE_SCREENSHOTS=1."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from energy_assets.storage.parquet_store import ParquetStore
from energy_assets_tests.helpers import stop_process
from energy_assets_tests.serving import stored
from energy_assets_tests.serving.test_server import _free_port, _serve, _wait_up

pytestmark = [pytest.mark.browser]

REPO = Path(__file__).resolve().parents[2]
SERIES = [
    ("DK1", "111"),
    ("DK1", "119"),
    ("DK1", "121"),
    ("DK2", "111"),
    ("DK2", "122"),
    ("DK2", "130"),
]
END = pd.Timestamp("2026-11-20 06:00")


def _keep(shot: Path, name: str) -> None:
    if os.environ.get("ENERGY_UPDATE_SCREENSHOTS"):
        (REPO / "docs" / "img").mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, REPO / "docs" / "img" / name)


@pytest.fixture
def service(tmp_path):
    store = ParquetStore(str(tmp_path / "storage"))
    stored.write_dashboard_platform(store, SERIES, END.tz_localize("UTC"))
    port = _free_port()
    process = _serve(tmp_path, "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_up(base, process)
        yield base
    finally:
        stop_process(process, timeout=10)


def _ready(page) -> None:
    page.wait_for_selector("body[data-ready='1']")


def test_series_picker_and_as_issued_view(service, browser_page, tmp_path):
    page = browser_page
    page.goto(service + "/")
    _ready(page)
    assert page.locator("#error").inner_text() == ""
    latest = page.locator("#latest-chart")
    assert (
        latest.locator("path.forecast").count() == 1 and latest.locator("polygon.band").count() == 1
    )
    assert latest.locator("path.actual").get_attribute("d").count("L") > 100  # a week of hours
    assert page.locator("#glance tbody tr").count() == len(SERIES)

    page.select_option("#series", "DK2|122")
    page.wait_for_function("document.body.dataset.ready === '1'")
    assert page.locator("#glance tr.chosen td").nth(1).inner_text() == "122"
    note = page.locator("#latest-note").inner_text()
    assert note.startswith("issued 2026-11-20T05:00:00Z") and "24 hours ahead" in note
    page.locator("#accuracy-chart path.mape").wait_for()
    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    _keep(shot, "dashboard.png")

    # The as-issued view: the 06:00 issue of 19 November, against the actuals of its hours.
    page.fill("#issued-day", "2026-11-19")
    page.wait_for_function("document.querySelectorAll('#issued-at option').length === 24")
    page.select_option("#issued-at", "2026-11-19T06:00:00Z")
    page.wait_for_function(
        "document.querySelector('#issued-note').textContent.includes('2026-11-19T06:00')"
    )
    issued = page.locator("#issued-chart")
    assert (
        issued.locator("path.forecast").count() == 1 and issued.locator("path.actual").count() == 1
    )
    assert "24 of 24 hours have actuals" in page.locator("#issued-note").inner_text()

    # All series at a glance, by size, then by error (largest first).
    page.locator("#glance th[data-key='size']").click()
    sizes = [
        float(t.replace(",", ""))
        for t in page.locator("#glance tbody tr td:nth-child(3)").all_inner_texts()
    ]
    assert sizes == sorted(sizes, reverse=True)
    page.locator("#glance th[data-key='mape']").click()
    first = page.locator("#glance tbody tr").first.locator("td").nth(3).inner_text()
    values = [
        float(t.strip(" %"))
        for t in page.locator("#glance tbody tr td:nth-child(4)").all_inner_texts()
    ]
    assert values == sorted(values, reverse=True) and first.endswith("%")
    assert "issued 2026-11-19T06:00" in page.locator("#issued-note").inner_text()
    shot = tmp_path / "dashboard_as_issued.png"
    page.locator("main").screenshot(path=str(shot))
    _keep(shot, "dashboard_as_issued.png")
