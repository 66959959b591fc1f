"""Prometheus metrics: request counts and latency by route template and status, and
counters kept in the database (``Totals``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as _generate
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

log = structlog.get_logger(__name__)
Row = Sequence[str | int]


class HttpMetrics:
    """Holds one app's collectors in its own registry, so several apps can share a process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ledgerbridge_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ledgerbridge_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        return _generate(self.registry), CONTENT_TYPE_LATEST


class Totals(Collector):
    """Counters whose values live in the database, read when scraped: work done by every
    process (a worker's, say) counts, whichever process answers ``/metrics``. ``fetch``
    answers rows of label values followed by one value per name."""

    def __init__(
        self,
        prefix: str,
        documentation: str,
        labels: Sequence[str],
        names: Sequence[str],
        fetch: Callable[[], Sequence[Row]],
    ) -> None:
        self.prefix, self.documentation = prefix, documentation
        self.labels, self.names, self.fetch = list(labels), list(names), fetch

    def collect(self) -> Iterator[Metric]:
        try:
            rows = self.fetch()
        except Exception as exc:  # a scrape never fails for want of these
            log.warning("metrics from the database unavailable", error=type(exc).__name__)
            return
        families = [
            CounterMetricFamily(
                f"{self.prefix}_{name}", f"{self.documentation}: {name}", labels=self.labels
            )
            for name in self.names
        ]
        width = len(self.labels)
        for row in rows:
            labels = [str(v) for v in row[:width]]
            for family, value in zip(families, row[width:], strict=True):
                family.add_metric(labels, float(value))
        yield from families
