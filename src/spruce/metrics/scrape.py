"""One scrape: the caller's project's indexes under Pinecone's names and labels, plus
Spruce's engine internals.

Pinecone's serverless exporter names its counters ``pinecone_db_op_upsert_count`` and
``pinecone_db_op_upsert_duration_sum`` (milliseconds). prometheus-client's text format
appends ``_total`` to every counter, so these are written untyped under exactly those
names (Prometheus's ``rate()`` treats an untyped series as a counter): a dashboard made
for Pinecone finds them. Gauges that need a walk over indexes are computed here, from
``IndexStore`` counts that open no namespace.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.samples import Sample

from spruce.catalog import Catalog, IndexRow
from spruce.engine.write.store import IndexStore
from spruce.metrics.recorder import Recorder
from spruce.service import DataPlane, ReadNodes

__all__ = ["INDEX_LABELS", "Scrape"]

log = logging.getLogger("spruce")

#: Pinecone's labels on every metric (docs.pinecone.io, "Monitor performance").
INDEX_LABELS = ("index_name", "cloud", "region", "capacity_mode")

#: The operations Pinecone exports counts and durations for.
_PINECONE_OPS = ("upsert", "query", "fetch", "update", "delete", "list")


def _labels(row: IndexRow) -> dict[str, str]:
    return {
        "index_name": row.name,
        "cloud": str(row.spec.get("cloud") or "aws"),
        "region": str(row.spec.get("region") or "us-east-1"),
        # Pinecone's values are serverless and byoc; a self-hosted Spruce index is the
        # serverless kind (dedicated read nodes are a read capacity of it).
        "capacity_mode": "serverless",
    }


class Scrape:
    """A prometheus-client collector for one scrape by one project."""

    def __init__(
        self,
        recorder: Recorder,
        catalog: Catalog,
        data: DataPlane,
        nodes: ReadNodes | None,
        project_id: str,
    ) -> None:
        self._recorder = recorder
        self._data = data
        self._nodes = nodes
        self._rows = {row.uid: row for row in catalog.list_indexes(project_id)}
        self._labels = {uid: _labels(row) for uid, row in self._rows.items()}

    def collect(self) -> Iterator[Metric]:
        for family in self._recorder.registry.collect():
            if family.name == "spruce_db_op_duration_seconds":
                yield from self._pinecone_ops(family)
            if family.name == "spruce_read_units":
                yield self._untyped(family, "pinecone_db_read_unit_count", "Read units consumed.")
            elif family.name == "spruce_write_units":
                yield self._untyped(
                    family, "pinecone_db_write_unit_count", "Write units consumed (estimated)."
                )
            else:
                yield self._relabelled(family)
        yield from self._index_gauges()

    # -- from the recorder --------------------------------------------------------

    def _samples(self, family: Metric) -> Iterator[tuple[Sample, dict[str, str]]]:
        """The family's samples of this project's indexes, with Pinecone's labels
        instead of the uid; samples without an index pass as they are."""
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue  # creation times: noise for a dashboard
            labels = dict(sample.labels)
            uid = labels.pop("index_uid", None)
            if uid is not None:
                if uid not in self._labels:
                    continue  # another project's index, or one deleted
                labels = {**self._labels[uid], **labels}
            yield sample, labels

    def _relabelled(self, family: Metric) -> Metric:
        out = Metric(family.name, family.documentation, family.type, family.unit)
        out.samples = [s._replace(labels=labels) for s, labels in self._samples(family)]
        return out

    def _untyped(self, family: Metric, name: str, doc: str) -> Metric:
        out = Metric(name, doc, "unknown")
        for sample, labels in self._samples(family):
            if sample.name.endswith("_total"):
                out.add_sample(name, labels, sample.value)
        return out

    def _pinecone_ops(self, family: Metric) -> Iterator[Metric]:
        """``pinecone_db_op_<op>_count`` and ``_duration_sum`` (ms), from the histogram."""
        counts = {op: Metric(f"pinecone_db_op_{op}_count", f"{op} requests.", "unknown")
                  for op in _PINECONE_OPS}  # fmt: skip
        sums = {
            op: Metric(
                f"pinecone_db_op_{op}_duration_sum",
                f"Time spent processing {op} requests, in milliseconds.",
                "unknown",
            )
            for op in _PINECONE_OPS
        }
        for sample, labels in self._samples(family):
            op = labels.pop("op", "")
            if op not in counts:
                continue
            if sample.name.endswith("_count"):
                counts[op].add_sample(counts[op].name, labels, sample.value)
            elif sample.name.endswith("_sum"):
                sums[op].add_sample(sums[op].name, labels, sample.value * 1000.0)
        for op in _PINECONE_OPS:
            yield counts[op]
            yield sums[op]

    # -- computed now ---------------------------------------------------------------

    def _index_gauges(self) -> Iterator[Metric]:
        names = [*INDEX_LABELS]
        records = GaugeMetricFamily(
            "pinecone_db_record_total", "The total number of records in the index.", labels=names
        )
        size = GaugeMetricFamily(
            "pinecone_db_storage_size_bytes", "The total size of the index in bytes.", labels=names
        )
        fullness = {
            key: GaugeMetricFamily(f"pinecone_db_index_{key}", doc, labels=names)
            for key, doc in (
                ("fullness", "The greater of memory and storage fullness (dedicated), 0 to 1."),
                ("memory_fullness", "Memory used by the fullest shard (dedicated), 0 to 1."),
                ("storage_fullness", "Storage used by the fullest shard (dedicated), 0 to 1."),
            )
        }
        open_ns = GaugeMetricFamily(
            "spruce_open_namespaces", "Namespaces open in memory.", labels=names
        )
        ns_names = [*names, "namespace"]
        memtable = GaugeMetricFamily(
            "spruce_memtable_rows", "Live rows in memtables (open namespaces).", labels=ns_names
        )
        segments = GaugeMetricFamily(
            "spruce_segments", "Segments (open namespaces).", labels=ns_names
        )
        unindexed = GaugeMetricFamily(
            "spruce_unindexed_rows",
            "Live rows in no HNSW graph, searched exactly (open namespaces).",
            labels=ns_names,
        )
        lag = GaugeMetricFamily(
            "spruce_replica_lag_lsn",
            "LSNs a dedicated read node replica is behind the writer (its worst namespace).",
            labels=[*names, "shard", "replica"],
        )
        up = GaugeMetricFamily(
            "spruce_replica_up",
            "1 if the replica answered its health check.",
            labels=[*names, "shard", "replica"],
        )
        for uid, row in self._rows.items():
            values = [self._labels[uid][k] for k in INDEX_LABELS]
            store = self._data.store(row)
            records.add_metric(values, _records(store, row.name))
            size.add_metric(values, _tree_bytes(store.root))
            opened = store.open_namespaces()
            open_ns.add_metric(values, len(opened))
            writer_lsn: dict[str, int] = {}
            for name, ns in opened:
                shape = ns.shape()
                memtable.add_metric([*values, name], shape.memtable_rows)
                segments.add_metric([*values, name], shape.segments)
                unindexed.add_metric([*values, name], shape.unindexed_rows)
                writer_lsn[name] = ns.lsn
            if self._nodes is not None:
                full = self._nodes.fullness(row)
                if full is not None:
                    fullness["fullness"].add_metric(values, max(full))
                    fullness["memory_fullness"].add_metric(values, full[0])
                    fullness["storage_fullness"].add_metric(values, full[1])
                    self._replicas(row, values, writer_lsn, lag, up)
        yield records
        yield size
        yield from fullness.values()
        yield open_ns
        yield memtable
        yield segments
        yield unindexed
        yield lag
        yield up

    def _replicas(
        self,
        row: IndexRow,
        values: list[str],
        writer_lsn: dict[str, int],
        lag: GaugeMetricFamily,
        up: GaugeMetricFamily,
    ) -> None:
        """Each replica's lag over its namespaces open on the writer (a namespace takes
        writes only while open; one closed since is not counted)."""
        assert self._nodes is not None
        replicas = self._nodes.replicas(row)
        for replica in [] if replicas is None else replicas.all():
            labels = [*values, str(replica.spec.shard), replica.url]
            try:
                applied = replica.health().namespaces
            except Exception:
                up.add_metric(labels, 0)
                continue
            up.add_metric(labels, 1)
            # A shard's replica holds only its shard's namespaces: those it reports.
            behind = [max(0, lsn - applied[n]) for n, lsn in writer_lsn.items() if n in applied]
            lag.add_metric(labels, max(behind, default=0))


def _records(store: IndexStore, index_name: str) -> int:
    total = 0
    for name in store.names():
        try:
            total += store.count(name) or 0
        except Exception:  # damaged: /ready names it; the scrape counts the others
            log.warning("metrics: cannot count %s/%s", index_name, name, exc_info=True)
    return total


def _tree_bytes(root: Path) -> int:
    """Bytes of every file under ``root``: one stat per file, no file read."""
    total = 0
    stack = [os.fspath(root)]
    while stack:
        try:
            entries: Iterable[os.DirEntry[str]] = list(os.scandir(stack.pop()))
        except OSError:
            continue  # removed meanwhile (a compaction, a drop)
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return total
