"""Samples gathered during one scrape, and their conversion to prometheus_client metric families."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from monitoring.catalogue import BY_NAME, METRICS


class Samples:
    """Values by metric name; every name must be declared in ``monitoring.catalogue`` (else ``KeyError``)."""

    def __init__(self) -> None:
        self.values: dict[str, list[tuple[tuple[str, ...], float]]] = {}
        self.histograms: dict[str, list[tuple[tuple[str, ...], list[tuple[str, float]], float]]] = {}

    def add(self, name: str, value: float, *labels: object) -> None:
        metric = BY_NAME[name]
        if len(labels) != len(metric.labels):
            raise ValueError(f"{name}: expected labels {metric.labels}, got {labels!r}")
        self.values.setdefault(name, []).append((tuple(str(v) for v in labels), float(value)))

    def histogram(
        self, name: str, labels: Sequence[object], buckets: list[tuple[str, float]], total: float
    ) -> None:
        metric = BY_NAME[name]
        if metric.kind != "histogram" or len(labels) != len(metric.labels):
            raise ValueError(f"{name}: not a histogram with labels {metric.labels}")
        self.histograms.setdefault(name, []).append((tuple(str(v) for v in labels), buckets, total))

    def merge(self, other: Samples) -> None:
        for name, rows in other.values.items():
            self.values.setdefault(name, []).extend(rows)
        for name, rows in other.histograms.items():
            self.histograms.setdefault(name, []).extend(rows)

    def families(self) -> Iterator[Metric]:
        """One family per declared metric, in catalogue order (empty when nothing was read for it)."""
        for metric in METRICS:
            family = empty_family(metric.name)
            if metric.kind == "histogram":
                for labels, buckets, total in self.histograms.get(metric.name, ()):
                    family.add_metric(list(labels), buckets, total)
            else:
                for labels, value in self.values.get(metric.name, ()):
                    family.add_metric(list(labels), value)
            yield family


def empty_family(name: str) -> Metric:
    metric = BY_NAME[name]
    labels = list(metric.labels)
    if metric.kind == "counter":
        return CounterMetricFamily(metric.name, metric.help, labels=labels)
    if metric.kind == "histogram":
        return HistogramMetricFamily(metric.name, metric.help, labels=labels)
    return GaugeMetricFamily(metric.name, metric.help, labels=labels)


def described() -> Iterable[Metric]:
    return [empty_family(m.name) for m in METRICS]
