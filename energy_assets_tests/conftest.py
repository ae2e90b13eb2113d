"""Shared fixtures: real servers on 127.0.0.1 (replay API, GCS emulator, dagster dev) and an isolated home."""

from __future__ import annotations

import importlib.util
import os

import pytest

# Fixture modules are pytest plugins, one per real component.
pytest_plugins = [
    name
    for name in (
        "energy_assets_tests.fixtures.replay",
        "energy_assets_tests.fixtures.gcs",
        "energy_assets_tests.fixtures.browser",
        "energy_assets_tests.fixtures.postgres",
        "energy_assets_tests.fixtures.mlflow_store",
        "energy_assets_tests.fixtures.alert_receivers",
    )
    if importlib.util.find_spec(name) is not None
]

# LightGBM's OpenMP threads sleep while they wait instead of spinning. The suite runs two xdist
# workers on two cores, and a final fit uses every core (`tuning.available_cores()`): with
# OpenMP's default (spin) policy two threads per worker ran a 40,000-row, 80-round fit in 100-120 s
# at load 20 where one thread took 10 s; passive waiting took 9-17 s, with the same threads and
# the same model. Set before LightGBM loads libgomp, so the run workers, code servers and
# daemons started from here inherit it; an explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


# The longest modules (`--durations` of a full run, 2026-12-06), longest first. With
# `--dist loadscope` a worker takes whole modules in collection order, so a long module collected
# late ran alone at the end while the other worker idled (test_pipeline's 7 minutes, last). Started
# first, they overlap and the short modules fill in around them. A module missing here just keeps
# its place; the order only changes scheduling, never what a test does.
LONGEST_FIRST = (
    "defs/test_secrets.py",
    "test_topology.py",
    "defs/test_pipeline.py",
    "test_ui_browser.py",
    "defs/test_every_dataset.py",
    "serving/test_materialised.py",
    "training/test_backtest.py",
    "training/test_steps.py",
    "training/test_tuning.py",
    # The other modules over ~1 min (the lead's list, 2026-12-07): not at the tail either.
    "defs/test_products.py",
    "defs/test_backfill_units.py",
    "defs/test_corrections.py",
    "defs/test_fallback_forecasts.py",
)


# Modules whose tests share nothing wider than a test (no module- or class-scoped fixture): each
# test is its own xdist work unit, so both workers take the long parameters (four datasets, two
# tracking stores, two issue days) instead of one worker running the module alone. Every other
# module stays one unit (`--dist loadscope`), as its module-scoped services need.
EACH_TEST_A_UNIT = (
    "defs/test_secrets.py",
    "defs/test_every_dataset.py",
    "defs/test_products.py",
)


def _module(nodeid: str) -> str:
    return nodeid.split("::")[0].removeprefix("energy_assets_tests/")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadscope`, with the tests of EACH_TEST_A_UNIT scheduled one by one."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if _module(nodeid) in EACH_TEST_A_UNIT:
                return nodeid
            return super()._split_scope(nodeid)

    return Scheduling(config, log)


def pytest_collection_modifyitems(config, items) -> None:
    def rank(item) -> int:
        path = _module(item.nodeid)
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: each module keeps its own order


@pytest.fixture(autouse=True)
def _isolated_dagster_home(tmp_path, monkeypatch):
    """Every test gets its own DAGSTER_HOME, storage folder and MLflow store unless it sets them."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for variable in ("ENERGY_STORAGE_URL", "MLFLOW_TRACKING_URI", "ENERGY_OPTUNA_STORAGE"):
        if variable in os.environ and not os.environ.get("ENERGY_KEEP_TEST_ENV"):
            monkeypatch.delenv(variable)
    yield home
