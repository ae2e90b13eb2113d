"""energy_assets: a Dagster asset-graph platform forecasting hourly electricity consumption."""

import warnings

# Backfill policies (runs of a bounded number of hours) and partition mappings that tolerate hours before the first
# partition are what the design rests on; Dagster still labels both beta. We pin dagster in
# uv.lock and test them, so their per-definition warnings are noise on every load.
warnings.filterwarnings(
    "ignore", message=r"Parameter `(backfill_policy|allow_nonexistent_upstream_partitions)`"
)
# mlflow.pyfunc warns about its own chat-agent type hints on import; nothing of ours.
warnings.filterwarnings("ignore", message=r".*Any type hint is inferred as AnyType")
