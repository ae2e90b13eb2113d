"""The forecast API and dashboard (`energy-assets serve`): read-only HTTP over the stored assets.

No Dagster, no MLflow, no model: the service reads the parquet objects the IO manager wrote
(a folder or gs://) through `storage.parquet_store`, so it starts in well under 2 s and a broken
code location cannot take it down. FastAPI / uvicorn / prometheus_client are imported by
`serving.app` and `serving.server` only.
"""
