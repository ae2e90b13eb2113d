"""The forecast products against a replay presented as current with the live datasets' 216-hour
publication lag: the day-ahead job run at 10:00 on day D forecasts every hour of D + 1 for every
series, on a 23-hour and a 25-hour Danish day, and a vintage once issued is kept as issued."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pandas as pd
import pytest
from dagster import DagsterInstance

from energy_assets.contracts import DANISH_TZ, HOUR_KEY_FORMAT
from energy_assets.defs import build_definitions
from energy_assets.defs.products import (
    RUN_DELAY_MINUTES,
    day_ahead_partition,
    intraday_partition,
)
from energy_assets.devtools import SAMPLE_DATA_PATH
from energy_assets.reporting.charts import png_size
from energy_assets.settings import Settings
from energy_assets.storage.parquet_store import ParquetStore

LAG = 216
# Small trees: this test is about the wiring and the calendar; the backtest measures accuracy.
SMALL = {"num_boost_round": 40, "max_train_rows": 20_000, "shape_blend": 0.0}


def run_job(defs, name, instance, **kwargs):
    result = defs.resolve_job_def(name).execute_in_process(
        instance=instance, raise_on_error=False, **kwargs
    )
    if not result.success:
        failures = [e.message for e in result.all_events if e.is_failure]
        pytest.fail(f"{name} failed: {failures}")
    return result


def product_config(asset: str) -> dict:
    return {"ops": {asset: {"config": {"params": SMALL, "training_window_days": 30}}}}


@pytest.fixture
def live_like(tmp_path, monkeypatch, replay_server):
    """Start a replay whose clock is `issued_at` and ingest everything published by then."""

    def start(issued_at: pd.Timestamp):
        server = replay_server(
            SAMPLE_DATA_PATH,
            as_current=True,
            publication_delay_hours=LAG,
            clock=lambda: issued_at.to_pydatetime(),
        )
        monkeypatch.setenv("ENERGIDATA_API_URL", server.url)
        monkeypatch.setenv("ENERGY_STORAGE_URL", str(tmp_path / "storage"))
        monkeypatch.setenv("ENERGY_PUBLICATION_DELAY_HOURS", str(LAG))
        defs = build_definitions(Settings.from_env())
        newest = server.newest_published_hour()
        first = server.data["HourUTC"].min()
        tags = {
            "dagster/asset_partition_range_start": first.strftime(HOUR_KEY_FORMAT),
            "dagster/asset_partition_range_end": newest.strftime(HOUR_KEY_FORMAT),
        }
        return defs, tags, newest

    return start


@pytest.mark.slow
@pytest.mark.parametrize(
    ("issue_day", "hours_tomorrow"),
    [("2026-03-28", 23), ("2026-10-24", 25)],  # the day before the spring / autumn DST change
)
def test_day_ahead_at_ten_forecasts_every_hour_of_tomorrow(
    live_like, tmp_path, issue_day, hours_tomorrow
):
    issued_at = pd.Timestamp(f"{issue_day} 10:00").tz_localize(DANISH_TZ).tz_convert("UTC")
    defs, tags, newest = live_like(issued_at)
    with DagsterInstance.ephemeral() as instance:
        run_job(defs, "ingestion_backfill_job", instance, tags=tags)
        issued = run_job(
            defs,
            "day_ahead_job",
            instance,
            partition_key=issue_day,
            run_config=product_config("day_ahead_forecasts"),
        )
        metadata = issued.asset_materializations_for_node("day_ahead_forecasts")[0].metadata
        assert metadata["target_hours"].value == hours_tomorrow
        assert metadata["level_source"].value == "settled"
        png = metadata["product_chart"].value
        assert png_size(base64.b64decode(png.split("base64,", 1)[1].rstrip(")")))[0] >= 600
        store = ParquetStore(str(tmp_path / "storage"))
        vintage = store.read("day_ahead_forecasts", issue_day)
        tomorrow = (pd.Timestamp(issue_day) + pd.Timedelta(days=1)).date()
        local = vintage["datetime_utc"].dt.tz_convert(DANISH_TZ)
        assert (local.dt.date == tomorrow).all()
        assert vintage["datetime_utc"].nunique() == hours_tomorrow
        series = store.read("consumption_features", newest.strftime(HOUR_KEY_FORMAT))
        per_series = vintage.groupby(["area", "segment"])["datetime_utc"].nunique()
        assert len(per_series) == len(series) == 76
        assert (per_series == hours_tomorrow).all()
        # Issued at 10:00 local from the hour published then: 216 h before the issue.
        assert (vintage["issued_at"] == issued_at).all()
        assert (vintage["data_origin"] == issued_at - pd.Timedelta(hours=LAG)).all()
        assert vintage["data_origin"].iloc[0].tz_localize(None) == newest
        lead = (vintage["datetime_utc"] - vintage["issued_at"]) / pd.Timedelta(hours=1)
        assert (vintage["lead_hours"] == lead).all()
        assert (
            vintage["lead_hours"].min() == 14 and vintage["lead_hours"].max() == 13 + hours_tomorrow
        )
        assert ((vintage["p10"] <= vintage["p50"]) & (vintage["p50"] <= vintage["p90"])).all()
        assert (vintage["p50"] == vintage["prediction"]).all()
        assert set(vintage["level_source"]) == {"settled"} and set(vintage["quality"]) == {"model"}

        # Stored as issued: a second run keeps the vintage, it does not re-issue it.
        path = tmp_path / "storage" / store.relpath("day_ahead_forecasts", issue_day)
        written = path.stat().st_mtime_ns
        again = run_job(
            defs,
            "day_ahead_job",
            instance,
            partition_key=issue_day,
            run_config={"ops": {"day_ahead_forecasts": {"config": {"params": {"seed": 7}}}}},
        )
        assert path.stat().st_mtime_ns == written
        kept = again.asset_materializations_for_node("day_ahead_forecasts")[0].metadata
        assert "kept" in kept["vintage"].value
        pd.testing.assert_frame_equal(store.read("day_ahead_forecasts", issue_day), vintage)

        # The intraday issued in the same hour: from this hour (lead 0) to the end of tomorrow.
        hour_key = issued_at.strftime(HOUR_KEY_FORMAT)
        run_job(
            defs,
            "intraday_job",
            instance,
            partition_key=hour_key,
            run_config=product_config("intraday_forecasts"),
        )
        intraday = store.read("intraday_forecasts", hour_key)
        assert intraday["lead_hours"].min() == 0
        assert intraday["datetime_utc"].max() == vintage["datetime_utc"].max()
        assert intraday.groupby(["area", "segment"]).size().eq(14 + hours_tomorrow).all()


def test_schedules_issue_the_partition_of_their_issue_time():
    runs_at = datetime(2026, 3, 28, 9, RUN_DELAY_MINUTES, tzinfo=UTC)  # 10:20 CET
    assert day_ahead_partition(pd.Timestamp(runs_at)) == "2026-03-28"
    assert intraday_partition(pd.Timestamp(runs_at)) == "2026-03-28-09:00"
    # An issue at 23:50 local runs after midnight; it is still the issue day's partition.
    late = pd.Timestamp("2026-03-29 00:05", tz=DANISH_TZ)
    assert day_ahead_partition(late) == "2026-03-28"


def test_the_area_totals_read_the_weather_as_issued_only_when_it_reaches_every_target(tmp_path):
    """The `weather` table as stored (leads 1..WEATHER_LEAD_HOURS per issue hour): the day-ahead's
    targets reach lead 37 h, so a 24-hour forecast leaves the area totals without weather and the
    reason says why; forecasts stored to 48 h are read as issued at the issue hour."""
    import numpy as np
    import pandas as pd

    from energy_assets.contracts import HOUR_KEY_FORMAT, WEATHER
    from energy_assets.defs.products import _weather_as_issued
    from energy_assets.forecasting import products
    from energy_assets.storage.parquet_store import ParquetStore

    issued = products.day_ahead_issued_at("2023-12-01")
    hours = pd.date_range(issued - pd.Timedelta(hours=6), issued, freq="h")

    def stored(max_lead: int) -> ParquetStore:
        store = ParquetStore(str(tmp_path / f"lead{max_lead}"))
        for hour in hours:
            leads = np.arange(max_lead + 1)
            rows = pd.DataFrame({"issued_utc": hour, "area": "DK", "lead_hours": leads})
            rows["datetime_utc"] = hour + pd.to_timedelta(leads, unit="h")
            rows["temperature_c"] = 2.0 + 0.1 * leads
            rows["wind_speed_ms"] = 5.0
            rows["radiation_wm2"] = 0.0
            store.write(
                WEATHER.name,
                hour.strftime(HOUR_KEY_FORMAT),
                rows[[c for c in WEATHER.names if c in rows]],
            )
        return store

    weather, why = _weather_as_issued(stored(24), products.DAY_AHEAD, issued, days=1)
    assert weather is None and "reach 24 h" in why and "lead 37 h" in why
    weather, why = _weather_as_issued(stored(48), products.DAY_AHEAD, issued, days=1)
    targets = products.day_ahead_targets(issued)
    assert weather is not None and "as issued" in why
    assert weather["datetime_utc"].isin(targets).sum() == len(targets)


@pytest.mark.parametrize(
    "product, issued_at",
    [
        # The day-ahead before the 25-hour day (its last target at lead 38 h) and the intraday
        # issued at local midnight before it (end of tomorrow at lead 48 h): the longest reaches.
        ("day-ahead", "2023-10-28 10:00"),
        ("intraday", "2023-10-28 00:00"),
    ],
)
def test_the_stored_weather_layout_reaches_every_target_of_the_products(
    tmp_path, product, issued_at
):
    """The `weather` table as the `weather` asset writes it (issue_table: leads
    0..WEATHER_LEAD_HOURS per issue hour, from DMI's real hours) gives the products their target
    hours' weather as issued: the probe finds no hole and every target is read."""
    from energy_assets.contracts import WEATHER
    from energy_assets.defs.products import _weather_as_issued
    from energy_assets.devtools import WEATHER_SAMPLE_PATH
    from energy_assets.forecasting import products
    from energy_assets.ingestion.weather_files import issue_table, read_weather_file

    issued = pd.Timestamp(issued_at, tz=DANISH_TZ).tz_convert("UTC")
    targets = products.targets_for(product, issued)
    hourly = read_weather_file(WEATHER_SAMPLE_PATH)
    start = issued.floor("h") - pd.Timedelta(hours=23)
    table = issue_table(hourly, start, issued.floor("h") + pd.Timedelta(hours=1))
    store = ParquetStore(str(tmp_path))
    for hour, rows in table.groupby("issued_utc"):
        store.write(WEATHER.name, hour.strftime(HOUR_KEY_FORMAT), rows)
    weather, why = _weather_as_issued(store, product, issued, days=1)
    assert weather is not None, why
    assert "as issued" in why
    read = pd.to_datetime(weather["datetime_utc"], utc=True)
    assert set(targets) <= set(read)
    # Each target's value is the forecast issued at the issue hour (offline: DMI's observation).
    truth = hourly.set_index("datetime_utc")["temperature_c"]
    got = weather.set_index(read)["temperature_c"]
    assert (got.loc[targets].to_numpy() == truth.loc[targets].to_numpy()).all()
