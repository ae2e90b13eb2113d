"""energy_assets: a Dagster asset-graph platform forecasting hourly electricity consumption."""

import warnings
from importlib.metadata import PackageNotFoundError, version

# The release (pyproject.toml's version), read from the installed package's metadata so there is
# one place to change it; a source tree that was never installed reports no release.
try:
    __version__ = version("energy-assets")
except PackageNotFoundError:  # pragma: no cover - only outside any installation
    __version__ = "0+unknown"

# Backfill policies (runs of a bounded number of hours) and partition mappings that tolerate hours before the first
# partition are what the design rests on; Dagster still labels both beta. We pin dagster in
# uv.lock and test them, so their per-definition warnings are noise on every load.
warnings.filterwarnings(
    "ignore", message=r"Parameter `(backfill_policy|allow_nonexistent_upstream_partitions)`"
)
# mlflow.pyfunc warns about its own chat-agent type hints on import; nothing of ours.
warnings.filterwarnings("ignore", message=r".*Any type hint is inferred as AnyType")
