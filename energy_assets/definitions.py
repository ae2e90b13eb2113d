"""The code location (`energy_assets.definitions:defs`): the settings, read once, and the
Definitions built from them, merged with whatever else the `defs/` folder holds.

`build_definitions(settings)` assembles the platform (its assets depend on settings such as the
dataset's source spec and the first partition, so they are built by functions, not at import).
`dg.load_definitions_from_package_module` adds every definition declared at module level under
`energy_assets/defs/` (pyproject's `[tool.dg]` defs module) — what `dg scaffold defs
dagster.asset my_asset.py` writes — so a scaffolded asset, check, job, sensor or schedule shows up
in `dg list defs` and the UI without editing this file. (It also finds the module-level jobs of
`defs/jobs.py`; they are the same objects the builders use, which Dagster merges as one.)

Not `dg.load_from_defs_folder`: it also loads every installed Dagster plugin's components
(dagster-gcp's pull in BigQuery, pandas and pyarrow), which would triple the cost of loading the
code location — paid by every run, sensor tick and UI reload (energy_assets_tests/test_layering.py).
"""

import dagster as dg

import energy_assets.defs as defs_package
from energy_assets.defs import build_definitions
from energy_assets.settings import Settings


@dg.definitions
def defs() -> dg.Definitions:
    settings = Settings.from_env()
    return dg.Definitions.merge(
        build_definitions(settings), dg.load_definitions_from_package_module(defs_package)
    )
