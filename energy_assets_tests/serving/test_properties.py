"""Property tests generated from the service's own OpenAPI schema (schemathesis over hypothesis):
whatever the parameters, the answer is never a 5xx, every 4xx is one line of `{"error": …}`, and
every answer matches the schema's declared status codes and content types where it declares them."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from energy_assets.serving.app import ServeConfig, create_app
from energy_assets.storage.parquet_store import ParquetStore
from energy_assets_tests.serving.conftest import fill

# The app reads its storage only when asked, so the schema is loaded at collection and the
# folder filled (and removed) by the module's fixture.
_FOLDER = Path(tempfile.gettempdir()) / f"energy-api-properties-{id(object())}"
_STORE = ParquetStore(str(_FOLDER / "storage"))
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(ServeConfig(store=_STORE, dataset="ConsumptionDE35Hour"))
)


@pytest.fixture(scope="module", autouse=True)
def _stored():
    fill(_STORE)
    yield
    shutil.rmtree(_FOLDER, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_parameters_break_the_service(case):
    response = case.call()
    assert response.status_code < 500, f"{case.path} {case.query}: {response.text[:300]}"
    if 400 <= response.status_code < 500:
        message = response.json()["error"]
        assert message and "\n" not in message and "Traceback" not in message
