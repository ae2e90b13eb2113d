"""The code location (`energy_assets.definitions:defs`): the settings, read once, and the
Definitions built from them. Everything else lives in `energy_assets.defs`."""

import dagster as dg

from energy_assets.defs import build_definitions
from energy_assets.settings import Settings


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(Settings.from_env())
