"""`dg` loads what it scaffolds: the code location merges the defs/ folder's module-level
definitions, so `dg scaffold defs dagster.asset x.py` + `dg list defs` shows the new asset."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _dg(args: list[str], cwd: Path) -> str:
    dg = Path(sys.executable).with_name("dg")
    env = {**os.environ, "COLUMNS": "200", "DAGSTER_HOME": str(cwd / ".dagster_home")}
    done = subprocess.run(
        [str(dg), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_scaffolded_asset_is_listed(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO / "pyproject.toml", project / "pyproject.toml")
    shutil.copytree(
        REPO / "energy_assets", project / "energy_assets",
        ignore=shutil.ignore_patterns("__pycache__"),
    )  # fmt: skip
    _dg(["scaffold", "defs", "dagster.asset", "scaffolded_asset.py"], project)
    assert (project / "energy_assets" / "defs" / "scaffolded_asset.py").is_file()
    listed = _dg(["list", "defs", "--json"], project)
    assets = {a["asset_key"] for a in json.loads(listed[listed.index("{") :])["assets"]}
    # The scaffolded asset next to the platform's own, loaded from the copy.
    assert "scaffolded_asset" in assets
    assert {"raw_consumption", "forecasts", "forecast_accuracy"} <= assets
