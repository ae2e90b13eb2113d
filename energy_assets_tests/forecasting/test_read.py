"""Reading published forecasts back (`energy-assets forecasts`): the newest or a given origin,
one series, three formats, JSON that round-trips exactly, and one-line errors for storage that is
not there, an origin never forecast and an unknown series. Local folder and GCS emulator."""

from __future__ import annotations

import json
import socket

import numpy as np
import pandas as pd
import pytest

from energy_assets.cli import main
from energy_assets.forecasting.fallback import with_quality
from energy_assets.forecasting.publish import publish_latest
from energy_assets.forecasting.read import (
    ForecastReadError,
    forecasts_from_json,
    open_store,
    parse_origin,
    read_forecasts,
    render,
    to_json,
)
from energy_assets.storage.parquet_store import ParquetStore

SERIES = [("DK1", "111"), ("DK1", "999"), ("DK2", "122")]


def _forecast(origin: pd.Timestamp) -> pd.DataFrame:
    """A FORECASTS frame as the asset writes it, with awkward floats (no round decimals)."""
    rng = np.random.default_rng(int(origin.hour))
    rows = []
    for area, segment in SERIES:
        for h in range(1, 25):
            prediction = float(rng.uniform(50, 2e6)) / 3
            rows.append(
                {
                    "area": area,
                    "segment": segment,
                    "forecast_origin": origin,
                    "datetime_utc": origin + pd.Timedelta(hours=h),
                    "horizon_hours": h,
                    "prediction": prediction,
                    "prediction_lower": prediction * 0.9,
                    "prediction_upper": prediction * 1.1 if h != 5 else np.nan,
                    "model_used": "lightgbm",
                    "model_version": "3",
                }
            )
    return pd.DataFrame(rows)


ORIGINS = [pd.Timestamp("2023-01-16 04:00", tz="UTC"), pd.Timestamp("2023-01-16 05:00", tz="UTC")]


@pytest.fixture
def published(tmp_path) -> ParquetStore:
    store = ParquetStore(str(tmp_path / "storage"))
    for origin in ORIGINS:
        frame = _forecast(origin)
        store.write("forecasts", origin.strftime("%Y-%m-%d-%H:%M"), frame)
        publish_latest(store, frame)
    return store


def test_latest_and_a_given_origin(published):
    latest = read_forecasts(published, "latest")
    earlier = read_forecasts(published, "2023-01-16T04:00Z")

    assert (latest["forecast_origin"] == ORIGINS[1]).all() and len(latest) == 3 * 24
    assert (earlier["forecast_origin"] == ORIGINS[0]).all()
    pd.testing.assert_frame_equal(
        read_forecasts(published, "2023-01-16-04:00"), earlier
    )  # a partition key names the same origin


def test_one_series(published):
    one = read_forecasts(published, "latest", area="dk1", segment="999")
    assert set(zip(one["area"], one["segment"], strict=True)) == {("DK1", "999")}
    assert one["horizon_hours"].tolist() == list(range(1, 25))


def test_json_round_trips_what_was_written(published):
    # Written before the quality labels: read back as the model's.
    written = with_quality(published.read("forecasts", "2023-01-16-05:00"))
    assert set(written["quality"]) == {"model"} and written["quality_reason"].isna().all()
    read_back = forecasts_from_json(to_json(read_forecasts(published, "2023-01-16T05:00Z")))
    expected = written.sort_values(["area", "segment", "horizon_hours"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(read_back, expected, check_exact=True)
    assert str(read_back["forecast_origin"].dt.tz) == "UTC"


def test_csv_and_table(published):
    frame = read_forecasts(published, "latest", area="DK2")
    csv_text = render(frame, "csv")
    table = render(frame, "table")

    assert csv_text.splitlines()[0].startswith("area,segment,forecast_origin,datetime_utc")
    assert "2023-01-16T05:00:00Z" in csv_text.splitlines()[1]
    assert table.splitlines()[0].startswith("forecast from 2023-01-16T05:00Z · model v3 · 1 series")
    assert len(table.splitlines()) == 2 + 24


@pytest.mark.parametrize(
    "origin, area, segment, message",
    [
        ("2023-01-16T07:00Z", None, None, "no forecast for origin 2023-01-16T07:00Z"),
        ("latest", "DK3", None, "no series with area DK3 in the forecast from 2023-01-16T05:00Z"),
        ("latest", "DK1", "122", "segments are 111, 122, 999"),
        ("yesterday", None, None, "is neither 'latest' nor an ISO hour"),
        ("2023-01-16T05:30Z", None, None, "is not a whole hour"),
    ],
)
def test_clear_errors(published, origin, area, segment, message):
    with pytest.raises(ForecastReadError, match=message) as raised:
        read_forecasts(published, origin, area, segment)
    assert "\n" not in str(raised.value)
    if origin.startswith("2023-01-16T07"):
        assert "the newest published origin is 2023-01-16T05:00Z" in str(raised.value)


def test_missing_folder_and_nothing_published(tmp_path):
    with pytest.raises(ForecastReadError, match="storage folder .* does not exist"):
        read_forecasts(ParquetStore(str(tmp_path / "nowhere")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ForecastReadError, match="no forecast published yet"):
        read_forecasts(ParquetStore(str(tmp_path / "empty")))
    assert parse_origin("LATEST") is None


def test_reads_from_gcs_and_names_an_unreachable_bucket(gcs_emulator, monkeypatch):
    bucket = gcs_emulator.make_bucket()
    store = ParquetStore(f"gs://{bucket.name}/energy", gcs_client=gcs_emulator.client())
    frame = _forecast(ORIGINS[1])
    store.write("forecasts", "2023-01-16-05:00", frame)
    publish_latest(store, frame)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.host)

    # open_store builds its client as the CLI does: from the environment (the emulator here).
    read_back = read_forecasts(open_store(f"gs://{bucket.name}/energy"), "latest", "DK1", 111)
    assert len(read_back) == 24

    with pytest.raises(ForecastReadError, match="bucket gs://no-such-bucket-x does not exist"):
        read_forecasts(open_store("gs://no-such-bucket-x/energy"))
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{closed}")
    with pytest.raises(
        ForecastReadError, match=f"cannot reach gs://{bucket.name}: ConnectionError"
    ):
        read_forecasts(open_store(f"gs://{bucket.name}/energy"))


def test_the_cli_prints_json_and_fails_in_one_line(published, monkeypatch, capsys):
    monkeypatch.setenv("ENERGY_STORAGE_URL", published.url)

    assert main(["forecasts", "--format", "json", "--area", "DK1", "--consumer-type", "111"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 24 and rows[0]["forecast_origin"] == "2023-01-16T05:00:00Z"
    assert rows[4]["prediction_upper"] is None  # NaN is JSON null

    assert main(["forecasts", "--origin", "2022-01-01T00:00Z"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith(
        "energy-assets forecasts: error: no forecast for origin"
    )
