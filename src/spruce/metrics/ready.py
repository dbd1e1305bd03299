"""``/ready``: whether this process can serve what its catalog says it holds."""

from __future__ import annotations

from spruce.catalog import Catalog
from spruce.service import DataPlane, ReadNodes

__all__ = ["not_ready"]


def not_ready(catalog: Catalog, data: DataPlane, nodes: ReadNodes | None) -> list[str]:
    """Why the server is not ready; empty when it is. Checks the catalog answers, that
    no namespace's last open found damage (``IndexStore.damaged``: each open verifies
    every file), and that each dedicated index has a live replica for every shard."""
    try:
        rows = catalog.list_indexes()
    except Exception as exc:
        return [f"catalog: {exc}"]
    reasons = []
    for row in rows:
        for name, message in sorted(data.store(row).damaged().items()):
            reasons.append(f"index {row.name}: namespace {name!r} cannot be recovered: {message}")
        if nodes is None or nodes.fullness(row) is None:
            continue  # on-demand: no replicas to wait for
        replicas = nodes.replicas(row)
        if replicas is None:
            reasons.append(f"index {row.name}: dedicated read nodes not started")
            continue
        healthy: set[int] = set()
        for replica in replicas.all():
            try:
                replica.health()
            except Exception:
                reasons.append(f"index {row.name}: replica {replica.url} is down")
                continue
            healthy.add(replica.spec.shard)
        for shard in range(replicas.shards):
            if shard not in healthy:
                reasons.append(f"index {row.name}: shard {shard} has no ready replica")
    return reasons
