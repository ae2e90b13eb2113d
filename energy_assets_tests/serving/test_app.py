"""The forecast API over stored objects (in-process, through FastAPI's test client): the answer is
exactly the stored partition, vintages stay as issued, products appear when stored, CSV and
ETags, paging, metrics, tokens and one-line errors. Local folder and the GCS emulator."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from energy_assets.contracts import hour_key
from energy_assets_tests.serving import stored
from energy_assets_tests.serving.conftest import ORIGINS, SCORED_DAY, SERIES, client_for

FLOATS = ["prediction", "p10", "p50", "p90"]


def _rows(response) -> pd.DataFrame:
    assert response.status_code == 200, response.text
    frame = pd.DataFrame(response.json()["rows"])
    for column in ("issued_at", "data_origin", "datetime_utc"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def _stored_series(frame: pd.DataFrame, area: str, segment: str) -> pd.DataFrame:
    one = frame[(frame["area"] == area) & (frame["segment"] == segment)]
    return one.sort_values("horizon_hours").reset_index(drop=True)


def _assert_same_forecast(served: pd.DataFrame, stored_rows: pd.DataFrame) -> None:
    """Every stored value, bit for bit, under its served name."""
    assert len(served) == len(stored_rows) > 0
    assert (served["issued_at"] == stored_rows["forecast_origin"]).all()
    assert (served["datetime_utc"] == stored_rows["datetime_utc"]).all()
    assert served["lead_hours"].tolist() == stored_rows["horizon_hours"].tolist()
    for column in FLOATS:
        assert served[column].tolist() == stored_rows[column].tolist(), column
    assert served["model_version"].tolist() == stored_rows["model_version"].tolist()


def test_latest_and_an_origin_are_exactly_the_stored_partition(any_store):
    client = client_for(any_store.store)
    area, segment = SERIES[3]
    latest = _rows(client.get("/v1/forecasts/latest", params={"area": area, "segment": segment}))
    written = any_store.store.read("forecasts", hour_key(ORIGINS[-1]))
    _assert_same_forecast(latest, _stored_series(written, area, segment))

    earlier = _rows(
        client.get(
            "/v1/forecasts",
            params={"issued": "2026-11-20T04:00Z", "area": area, "segment": segment},
        )
    )
    written = any_store.store.read("forecasts", hour_key(ORIGINS[0]))
    _assert_same_forecast(earlier, _stored_series(written, area, segment))

    every = _rows(client.get("/v1/forecasts/latest", params={"product": "forecasts"}))
    assert len(every) == len(SERIES) * 24


def test_an_issue_is_unchanged_after_later_forecasts(local_store):
    client = client_for(local_store.store, cache_seconds=0)
    before = client.get("/v1/forecasts", params={"issued": "2026-11-20T04:00Z"})
    later = [pd.Timestamp("2026-11-20 06:00", tz="UTC"), pd.Timestamp("2026-11-20 07:00", tz="UTC")]
    stored.write_forecasts(local_store.store, later, SERIES, seed=99)  # a later run, another model

    after = client.get("/v1/forecasts", params={"issued": "2026-11-20T04:00Z"})
    assert after.json() == before.json()
    newest = _rows(client.get("/v1/forecasts/latest"))
    assert (newest["issued_at"] == later[-1]).all()


def test_csv_and_conditional_requests(local_store):
    client = client_for(local_store.store)
    params = {"area": "DK1", "segment": "100"}
    as_json = _rows(client.get("/v1/forecasts/latest", params=params))
    by_header = client.get("/v1/forecasts/latest", params=params, headers={"Accept": "text/csv"})
    by_param = client.get("/v1/forecasts/latest", params={**params, "format": "csv"})
    assert by_header.headers["content-type"].startswith("text/csv")
    assert by_header.text == by_param.text
    from_csv = pd.read_csv(io.StringIO(by_header.text))
    assert from_csv["prediction"].tolist() == as_json["prediction"].tolist()  # full precision

    etag = by_header.headers["etag"]
    assert (
        client.get(
            "/v1/forecasts/latest",
            params=params,
            headers={"Accept": "text/csv", "If-None-Match": etag},
        ).status_code
        == 304
    )
    modified = by_header.headers["last-modified"]
    assert (
        client.get(
            "/v1/forecasts/latest",
            params={**params, "format": "csv"},
            headers={"If-Modified-Since": modified},
        ).status_code
        == 304
    )
    # Another series or format is another answer.
    assert (
        client.get(
            "/v1/forecasts/latest", params={"area": "DK2"}, headers={"If-None-Match": etag}
        ).status_code
        == 200
    )


def test_a_new_forecast_changes_the_etag(local_store):
    client = client_for(local_store.store, cache_seconds=0)
    first = client.get("/v1/forecasts/latest")
    stored.write_forecasts(local_store.store, [pd.Timestamp("2026-11-20 06:00", tz="UTC")], SERIES)
    second = client.get("/v1/forecasts/latest", headers={"If-None-Match": first.headers["etag"]})
    assert second.status_code == 200 and second.headers["etag"] != first.headers["etag"]


def test_target_hour_across_origins(local_store):
    client = client_for(local_store.store)
    rows = _rows(
        client.get(
            "/v1/forecasts", params={"target": "2026-11-20T10:00Z", "area": "DK1", "segment": "100"}
        )
    )
    assert rows["issued_at"].tolist() == ORIGINS
    assert rows["lead_hours"].tolist() == [6, 5]


def test_ranges_are_paged(local_store, monkeypatch):
    from energy_assets.serving import app as app_module

    monkeypatch.setattr(app_module, "MAX_ACTUAL_HOURS", 5)
    client = client_for(local_store.store)
    first = client.get(
        "/v1/actuals",
        params={"from": "2026-11-19T00:00Z", "to": "2026-11-19T12:00Z", "area": "DK1"},
    )
    body = first.json()
    assert {r["datetime_utc"] for r in body["rows"]} == {
        f"2026-11-19T0{h}:00:00Z" for h in range(5)
    }
    assert body["next"] and first.headers["link"].startswith(f"<{body['next']}>")
    second = client.get(body["next"]).json()
    assert min(r["datetime_utc"] for r in second["rows"]) == "2026-11-19T05:00:00Z"


def test_series_actuals_and_accuracy(local_store):
    client = client_for(local_store.store)
    catalogue = _rows(client.get("/v1/series"))
    ours = catalogue[catalogue["forecast_now"]]
    assert set(zip(ours["area"], ours["segment"], strict=True)) == set(SERIES)
    assert (ours["last_hour"] == "2026-11-21T06:00Z").all() and (
        ours["first_hour"] == "2026-11-13T00:00Z"
    ).all()
    assert catalogue["expected"].sum() == 76  # DE35's catalogue; our synthetic series are not in it

    actuals = _rows(
        client.get(
            "/v1/actuals",
            params={
                "from": "2026-11-19T00:00Z",
                "to": "2026-11-19T02:00Z",
                "area": "DK2",
                "segment": "101",
            },
        )
    )
    stored_hour = local_store.store.read("consumption_features", "2026-11-19-01:00")
    expected = stored_hour.loc[stored_hour["segment"] == "101", "energy_consumption"].item()
    assert actuals["energy_consumption"].tolist()[1] == expected

    accuracy = client.get("/v1/accuracy", params={"from": "2026-11-18", "to": "2026-11-21"}).json()[
        "rows"
    ]
    assert {r["date"] for r in accuracy} == {SCORED_DAY}
    assert [r["level"] for r in accuracy].count("series") == len(SERIES)
    one = client.get(
        "/v1/accuracy",
        params={"from": "2026-11-18", "to": "2026-11-21", "area": "DK1", "segment": "102"},
    ).json()["rows"]
    assert [(r["segment"], r["mape"]) for r in one] == [("102", 0.03)]  # the third series: 0.01 * 3


def test_products_are_served_once_stored(local_store):
    """A day-ahead partition written in the product schema becomes the default product."""
    store = local_store.store
    client = client_for(store, cache_seconds=0)
    assert client.get("/v1/forecasts/latest").json()["product"] == "forecasts"

    morning = pd.Timestamp("2026-11-20 09:00", tz="UTC")
    later = pd.Timestamp("2026-11-20 10:00", tz="UTC")
    day = pd.concat(
        [stored.day_ahead_issue(morning, SERIES), stored.day_ahead_issue(later, SERIES)]
    )
    store.write("day_ahead_forecasts", "2026-11-20", day)
    intraday = stored.product_frame(
        later, pd.date_range(later + pd.Timedelta(hours=1), periods=38, freq="h"), SERIES
    )
    store.write("intraday_forecasts", "2026-11-20-10:00", intraday)

    latest = _rows(client.get("/v1/forecasts/latest", params={"area": "DK2", "segment": "101"}))
    want = day[(day["issued_at"] == later) & (day["segment"] == "101")].sort_values("datetime_utc")
    assert len(latest) == 24 and (latest["issued_at"] == later).all()
    for column in [*FLOATS, "lead_hours"]:
        assert latest[column].tolist() == want[column].tolist(), column
    assert latest["quality"].tolist() == ["fallback"] * 24
    assert latest["quality_reason"].tolist() == ["short history"] * 24
    assert latest["weather_used"].tolist() == [True] * 24

    as_issued = _rows(
        client.get("/v1/forecasts", params={"product": "day-ahead", "issued": "2026-11-20T09:00Z"})
    )
    assert (as_issued["issued_at"] == morning).all() and len(as_issued) == 24 * len(SERIES)
    whole_day = _rows(
        client.get("/v1/forecasts", params={"product": "day-ahead", "issued": "2026-11-20"})
    )
    assert (whole_day["issued_at"] == later).all()
    hourly = _rows(
        client.get(
            "/v1/forecasts/latest", params={"product": "intraday", "area": "DK1", "segment": "100"}
        )
    )
    assert hourly["lead_hours"].tolist() == list(range(1, 39))
    products = {p["product"]: p for p in client.get("/v1/products").json()["rows"]}
    assert products["day-ahead"]["default"] and all(p["stored"] for p in products.values())


def test_metrics_parse_and_count(local_store):
    client = client_for(local_store.store)
    client.get("/v1/forecasts/latest")
    client.get("/v1/forecasts", params={"issued": "nonsense"})
    text = client.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    requests = {
        (s.labels["endpoint"], s.labels["status"]): s.value
        for s in families["energy_api_requests"].samples
        if s.name == "energy_api_requests_total"
    }
    assert requests[("/v1/forecasts/latest", "200")] == 1
    assert requests[("/v1/forecasts", "400")] == 1
    assert "energy_api_request_duration_seconds" in families
    ages = {s.labels["product"]: s.value for s in families["energy_forecast_age_seconds"].samples}
    assert 0 <= ages["forecasts"] < 600
    assert families["energy_forecast_series"].samples[0].value == len(SERIES)
    assert families["energy_forecast_series_expected"].samples[0].value == 76
    assert families["energy_forecast_accuracy_mape"].samples[0].value == 0.05
    assert families["energy_forecast_accuracy_coverage"].samples[0].value == 0.8


def test_tokens(local_store):
    client = client_for(local_store.store, tokens=frozenset({"s3cret-token"}))
    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code == 200  # the page is code; its data needs the token
    for path in ("/v1/forecasts/latest", "/readyz", "/metrics", "/v1/series", "/openapi.json"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == "Bearer"
    assert client.get("/v1/series", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get("/v1/series", headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status_code == 200


@pytest.mark.parametrize(
    "path, params, status, reason",
    [
        (
            "/v1/forecasts/latest",
            {"product": "weekly"},
            400,
            "is not one of day-ahead, intraday, forecasts",
        ),
        (
            "/v1/forecasts/latest",
            {"area": "DK3"},
            404,
            "no series with area='DK3': areas are DK1, DK2",
        ),
        ("/v1/forecasts", {"issued": "2026-11-21T04:00Z"}, 404, "the newest is 2026-11-20-05:00"),
        ("/v1/forecasts", {"issued": "../../etc/passwd"}, 400, "is not a time"),
        ("/v1/forecasts", {"issued": "2026-11-20T04:30Z"}, 400, "is not a whole hour"),
        ("/v1/forecasts", {}, 400, "give one of issued=ISO"),
        ("/v1/forecasts", {"from": "2026-11-20"}, 400, "give one of issued=ISO"),
        ("/v1/actuals", {"from": "2026-11-20", "to": "2026-11-19"}, 400, "must be after"),
        ("/v1/actuals", {"from": "9999-01-01", "to": "9999-01-02"}, 400, "years 2000–2100"),
        ("/v1/actuals", {"to": "2026-11-19"}, 400, "from: Field required"),
        ("/v1/forecasts/latest", {"format": "xml"}, 400, "is not one of json, csv"),
        ("/v1/nothing", {}, 404, "Not Found"),
    ],
)
def test_bad_parameters_are_one_line_4xx(local_store, path, params, status, reason):
    response = client_for(local_store.store).get(path, params=params)
    assert response.status_code == status
    message = response.json()["error"]
    assert reason in message and "\n" not in message
    assert str(local_store.store.root) not in message or status == 404 and "stored" in message


def test_unreachable_storage_is_503_not_500(tmp_path):
    from energy_assets.storage.parquet_store import ParquetStore

    client = client_for(ParquetStore(str(tmp_path / "nowhere")))
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "does not exist" in ready.json()["reason"]
    assert client.get("/v1/forecasts/latest").status_code == 404
    assert json.loads(client.get("/healthz").text) == {"status": "ok"}


def test_the_api_page_works_without_internet(local_store):
    client = client_for(local_store.store, tokens=frozenset({"t"}))
    page = client.get("/docs", headers={"Authorization": "Bearer t"})
    assert page.status_code == 200 and "/static/swagger/swagger-ui-bundle.js" in page.text
    assert (
        "cdn" not in page.text.lower()
        and "http" not in page.text.split("<body>")[1].split("url:")[0]
    )
    script = client.get("/static/swagger/swagger-ui-bundle.js")  # code, no data: no token
    assert script.status_code == 200 and len(script.content) > 100_000
    assert client.get("/static/swagger/..%2F..%2F__init__.py").status_code == 404
    assert client.get("/openapi.json").status_code == 401  # the schema needs the token


def test_a_products_accuracy_is_scored_against_the_stored_actuals(local_store):
    """The day-ahead issue of 17 November (targets: the Danish 18 November, all published) scored
    by issue day; MAPE and coverage recomputed here from the stored objects."""
    import numpy as np

    store = local_store.store
    issue = stored.day_ahead_issue(pd.Timestamp("2026-11-17 09:00", tz="UTC"), SERIES)
    store.write("day_ahead_forecasts", "2026-11-17", issue)
    client = client_for(store)
    rows = client.get(
        "/v1/accuracy", params={"product": "day-ahead", "from": "2026-11-16", "to": "2026-11-19"}
    ).json()["rows"]
    assert {r["date"] for r in rows} == {"2026-11-17"}
    overall = next(r for r in rows if r["level"] == "overall")
    hours = sorted(set(issue["datetime_utc"]))
    actuals = store.read_many("consumption_features", [hour_key(h) for h in hours])
    joined = issue.merge(actuals, on=["datetime_utc", "area", "segment"])
    assert overall["n_points"] == len(joined) == 24 * len(SERIES)
    ape = (joined["energy_consumption"] - joined["prediction"]).abs() / joined["energy_consumption"]
    assert np.isclose(overall["mape"], ape.mean())
    inside = joined["energy_consumption"].between(joined["p10"], joined["p90"])
    assert np.isclose(overall["coverage"], inside.mean())
    assert [r["level"] for r in rows].count("series") == len(SERIES)
