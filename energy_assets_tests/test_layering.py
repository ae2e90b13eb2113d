"""The code location's shape: the one dependency rule (import-linter contracts in pyproject.toml)
holds, breaking it fails the check, and loading the definitions imports no heavy library."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
# What loading the code location must not import: every run, UI reload and sensor tick pays it.
HEAVY = [
    "lightgbm",
    "sklearn",
    "mlflow",
    "optuna",
    "great_expectations",
    "evidently",
    "sktime",
    "google.cloud.bigquery",
    "matplotlib",
    # Not in the list, but each costs more than the 1.5x-of-dagster budget allows.
    "pandas",
    "polars",
    "pyarrow",
]


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """Run import-linter with the repo's contracts over the package found under `root`."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={"PATH": str(LINT_IMPORTS.parent), "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_import_contracts_are_kept():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "4 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    "module, line, broken",
    [
        ("metrics.py", "import dagster", "The domain never imports Dagster"),
        ("training/forecaster.py", "from energy_assets.defs import keys", "Layers"),
        ("features/calendar.py", "import energy_assets.features.engineering", "No import cycles"),
        ("serving/reader.py", "import mlflow", "The forecast API never imports"),
    ],
    ids=[
        "domain_imports_dagster",
        "domain_imports_defs",
        "cycle_inside_a_package",
        "api_imports_mlflow",
    ],
)
def test_breaking_the_rule_fails_the_check(tmp_path, module, line, broken):
    shutil.copytree(REPO / "energy_assets", tmp_path / "energy_assets", ignore=_no_data)
    target = tmp_path / "energy_assets" / module
    # Inside a function, where an import hides from a reader but not from the import graph.
    target.write_text(target.read_text() + f"\n\ndef _sneaky():\n    {line}\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert f"{broken}" in result.stdout and "BROKEN" in result.stdout, result.stdout[-3000:]


def _no_data(directory: str, names: list[str]) -> list[str]:
    return [n for n in names if n in ("data", "__pycache__")]


def test_loading_the_definitions_imports_no_heavy_library(tmp_path):
    script = (
        "import json, sys\n"
        "import energy_assets.definitions as location\n"
        "location.defs()\n"  # what a code server does: import the module, build the Definitions
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={"DAGSTER_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
