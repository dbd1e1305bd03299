"""Prometheus metrics (``/metrics``) and readiness (``/ready``), docs/OPERATIONS.md.

Sits between the edges and ``spruce.service``: it wraps the data plane's calls and reads
the catalog, the index stores and the read nodes; the REST edge serves what it gives.
"""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from spruce.catalog import Catalog
from spruce.metrics.ready import not_ready
from spruce.metrics.recorder import METHODS, Recorder
from spruce.metrics.scrape import INDEX_LABELS, Scrape
from spruce.service import DataPlane, ReadNodes

__all__ = ["CONTENT_TYPE", "INDEX_LABELS", "METHODS", "Metrics"]

#: The classic text format every Prometheus (2.x and 3.x) reads; the names are all
#: plain ASCII, so the output is the same as 1.0.0's.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


class Metrics:
    """Built once by ``spruce.server``; ``instrument`` it before serving."""

    def __init__(self, catalog: Catalog, data: DataPlane, nodes: ReadNodes | None) -> None:
        self._catalog = catalog
        self._data = data
        self._nodes = nodes
        self.recorder = Recorder()
        self.recorder.instrument(data)

    def exposition(self, project_id: str) -> bytes:
        """The text format for one scrape by ``project_id``'s key."""
        scrape = Scrape(self.recorder, self._catalog, self._data, self._nodes, project_id)
        return generate_latest(scrape)

    def not_ready(self) -> list[str]:
        return not_ready(self._catalog, self._data, self._nodes)

    def close(self) -> None:
        self.recorder.close()
