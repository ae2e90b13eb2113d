"""`/metrics`: the service's Prometheus metrics (the official client, a registry per app).

Request metrics, by route template (never a series or a raw path) and status:

    energy_api_requests_total{endpoint, method, status}
    energy_api_request_duration_seconds{endpoint}        histogram

What the platform's stored forecasts say, computed when scraped (label sets: product / dataset):

    energy_forecast_age_seconds{product}            now - when the newest forecast was written
    energy_forecast_newest_issue_timestamp_seconds{product}   its issue time (Unix seconds)
    energy_forecast_series{product}                 series in the newest forecast
    energy_forecast_series_expected{dataset}        series the catalogue expects
    energy_forecast_accuracy_mape{dataset}          the newest scored day's overall MAPE (fraction)
    energy_forecast_accuracy_wape{dataset}          … WAPE
    energy_forecast_accuracy_coverage{dataset}      … share of actuals inside p10–p90 (target 0.8)
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from energy_assets.contracts import FORECAST_ACCURACY_ASSET

if TYPE_CHECKING:
    from energy_assets.serving.reader import StoreReader

log = logging.getLogger("energy_assets.serving")
# Request latencies of a cached answer are a millisecond; a cold GCS read a few hundred.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ApiMetrics:
    """The app's registry: request counters fed by the middleware, forecast gauges on scrape."""

    def __init__(self, reader: StoreReader, dataset: str):
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "energy_api_requests",
            "HTTP requests answered, by route template, method and status",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "energy_api_request_duration_seconds",
            "Time to answer a request, by route template",
            ["endpoint"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_ForecastCollector(reader, dataset))

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, method, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _ForecastCollector:
    def __init__(self, reader: StoreReader, dataset: str):
        self.reader, self.dataset = reader, dataset

    def describe(self) -> list[Any]:
        return []  # computed on scrape only: nothing to read when the collector is registered

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            yield from self._collect()
        except Exception as error:  # a scrape must answer even when the storage does not
            log.warning("forecast metrics not collected: %s", " ".join(str(error).split())[:200])

    def _collect(self) -> Iterator[GaugeMetricFamily]:
        age = GaugeMetricFamily(
            "energy_forecast_age_seconds",
            "Seconds since the newest forecast of a product was written",
            labels=["product"],
        )
        issue = GaugeMetricFamily(
            "energy_forecast_newest_issue_timestamp_seconds",
            "Issue time of the newest forecast of a product (Unix seconds)",
            labels=["product"],
        )
        series = GaugeMetricFamily(
            "energy_forecast_series",
            "Series in the newest forecast of a product",
            labels=["product"],
        )
        now = time.time()
        for product in self.reader.available_products():
            loaded = self.reader.latest(product)
            if loaded is None or loaded.frame.empty:
                continue
            age.add_metric([product.name], max(0.0, now - loaded.info.modified))
            issue.add_metric([product.name], loaded.frame["issued_at"].max().timestamp())
            series.add_metric(
                [product.name], float(loaded.frame[["area", "segment"]].drop_duplicates().shape[0])
            )
        yield age
        yield issue
        yield series

        from energy_assets.monitoring.series_catalogue import load_catalogue
        from energy_assets.sources import spec_for

        expected = GaugeMetricFamily(
            "energy_forecast_series_expected",
            "Series the dataset's catalogue expects to be forecast",
            labels=["dataset"],
        )
        catalogue = load_catalogue(self.reader.store, spec_for(self.dataset))
        expected.add_metric([self.dataset], float(len(catalogue.expected)))
        yield expected

        days = self.reader.partition_keys(FORECAST_ACCURACY_ASSET)
        scored = self.reader.accuracy(days[-7:])
        overall = scored[(scored["level"] == "overall") & (scored["n_points"] > 0)]
        if overall.empty:
            return
        newest = overall.iloc[-1]
        for name, what in (
            ("mape", "mean absolute percentage error (fraction)"),
            ("wape", "weighted absolute percentage error (fraction)"),
            ("coverage", "share of actuals inside the p10-p90 band (target 0.8)"),
        ):
            family = GaugeMetricFamily(
                f"energy_forecast_accuracy_{name}",
                f"The newest scored day's overall {what}",
                labels=["dataset"],
            )
            value = float(newest[name])
            if math.isfinite(value):
                family.add_metric([self.dataset], value)
                yield family
