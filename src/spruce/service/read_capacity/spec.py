"""Read capacity as Pinecone defines it: the request shape, its validation, and cost.

``read_capacity`` is ``{"mode": "OnDemand"}`` or ``{"mode": "Dedicated", "dedicated":
{"node_type": "b1"|"t1", "scaling": "Manual", "manual": {"shards": >= 1, "replicas":
>= 0}}}`` (Pinecone's "Dedicated read nodes" guide). A configure (PATCH) may send only
the fields that change, e.g. ``{"dedicated": {"manual": {"replicas": 2}}}``; they are
merged into the index's current request. Replicas 0 pauses the index.

The behaviour behind it (replica processes, shards, states) is ``read_nodes.py``; this
module is the pure part, shared with the CLI's cost estimate.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spruce.config import Settings
from spruce.errors import InvalidArgument
from spruce.tls import ServerTLS

__all__ = [
    "DEFAULT_NODE_RATES",
    "NODE_TYPES",
    "ON_DEMAND",
    "Capacity",
    "CapacitySettings",
    "cost_report",
    "estimate_cost",
    "parse_capacity",
    "parse_pairs",
]

NODE_TYPES = ("b1", "t1")
#: Monthly USD per node, the Standard-plan rates Pinecone's guide uses in its examples.
DEFAULT_NODE_RATES = {"b1": 548.96, "t1": 1758.53}
HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class Capacity:
    """One read capacity configuration (requested, or currently applied)."""

    mode: str = "OnDemand"
    node_type: str | None = None
    shards: int = 0
    replicas: int = 0

    @property
    def dedicated(self) -> bool:
        return self.mode == "Dedicated"

    @property
    def nodes(self) -> int:
        return self.shards * self.replicas if self.dedicated else 0

    def to_json(self) -> dict[str, Any]:
        """The request shape, as stored in the index spec and shown by describe."""
        if not self.dedicated:
            return {"mode": "OnDemand"}
        return {
            "mode": "Dedicated",
            "dedicated": {
                "node_type": self.node_type,
                "scaling": "Manual",
                "manual": {"shards": self.shards, "replicas": self.replicas},
            },
        }

    @classmethod
    def from_json(cls, raw: object) -> Capacity:
        """A stored request (already validated); anything else reads as on-demand."""
        if not isinstance(raw, dict) or raw.get("mode") != "Dedicated":
            return ON_DEMAND
        dedicated = raw.get("dedicated") or {}
        manual = dedicated.get("manual") or {}
        return cls(
            "Dedicated",
            str(dedicated.get("node_type", "b1")),
            int(manual.get("shards", 1)),
            int(manual.get("replicas", 1)),
        )


ON_DEMAND = Capacity()


def _count(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidArgument(
            f"Invalid value for read_capacity.dedicated.manual.{name}: {value!r}; "
            f"it must be an integer of at least {minimum}"
        )
    return value


def parse_capacity(raw: object, current: Capacity | None = None) -> Capacity:
    """Validate a create (``current`` None) or configure request; returns the new request.

    On configure, omitted fields keep their current values, so ``{"dedicated":
    {"manual": {"replicas": 0}}}`` pauses a dedicated index.
    """
    if not isinstance(raw, dict):
        raise InvalidArgument("read_capacity must be an object")
    base = current if current is not None and current.dedicated else None
    dedicated = raw.get("dedicated")
    mode = raw.get("mode", "Dedicated" if dedicated is not None and base else None)
    if mode not in ("OnDemand", "Dedicated"):
        raise InvalidArgument(
            f"Invalid value for read_capacity.mode: {mode!r}; expected 'OnDemand' or 'Dedicated'"
        )
    if mode == "OnDemand":
        if dedicated is not None:
            raise InvalidArgument("read_capacity.dedicated is only allowed with mode 'Dedicated'")
        return ON_DEMAND
    if dedicated is None and base is None:
        raise InvalidArgument(
            "read_capacity.dedicated is required for mode 'Dedicated': set node_type, "
            "scaling and manual.shards / manual.replicas"
        )
    if dedicated is None:
        dedicated = {}
    if not isinstance(dedicated, dict):
        raise InvalidArgument("read_capacity.dedicated must be an object")
    node_type = dedicated.get("node_type", base.node_type if base else None)
    if node_type not in NODE_TYPES:
        raise InvalidArgument(
            f"Invalid value for read_capacity.dedicated.node_type: {node_type!r}; "
            "expected 'b1' or 't1'"
        )
    scaling = dedicated.get("scaling", "Manual" if base else None)
    if scaling != "Manual":
        raise InvalidArgument(
            f"Invalid value for read_capacity.dedicated.scaling: {scaling!r}; "
            "'Manual' is the only supported value"
        )
    manual = dedicated.get("manual", {} if base else None)
    if not isinstance(manual, dict):
        raise InvalidArgument(
            "read_capacity.dedicated.manual is required: {'shards': >= 1, 'replicas': >= 0}"
        )
    shards = manual.get("shards", base.shards if base else None)
    replicas = manual.get("replicas", base.replicas if base else None)
    return Capacity(
        "Dedicated", str(node_type), _count(shards, "shards", 1), _count(replicas, "replicas", 0)
    )


def parse_pairs(text: str, kind: type[float] | type[int], what: str) -> dict[str, Any]:
    """``"b1=548.96,t1=1758.53"`` -> ``{"b1": 548.96, "t1": 1758.53}``."""
    out: dict[str, Any] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        try:
            out[key.strip()] = kind(value)
        except ValueError:
            sep = ""
        if not sep:
            raise InvalidArgument(f"{what}: expected NAME=NUMBER pairs, got {part!r}")
    return out


@dataclass
class CapacitySettings:
    """Knobs of dedicated read nodes; production defaults are Pinecone's documented ones."""

    #: Storage per shard (Pinecone: 250 GB); tests lower it to reach "full" quickly.
    shard_capacity_bytes: int = 250 * 1000**3
    #: Memory per node by type, for memoryFullness (an approximation, as Pinecone's is:
    #: what a node keeps in RAM to search is counted, 4 bytes per dimension + 8 per
    #: sparse value). t1 nodes have about 4x b1's memory.
    node_memory_bytes: dict[str, int] = field(
        default_factory=lambda: {"b1": 250 * 1000**3, "t1": 1000 * 1000**3}
    )
    #: Reads a replica serves at once, by node type (t1 has ~4x b1's compute).
    node_threads: dict[str, int] = field(default_factory=lambda: {"b1": 1, "t1": 4})
    #: Monthly USD per node, for the cost estimate.
    node_rates: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_NODE_RATES))
    #: Node type or mode: one change per 24 hours; shards or replicas: one per hour.
    mode_change_interval_s: float = 24 * 3600.0
    scale_change_interval_s: float = 3600.0
    #: Nodes (shards x replicas) a project may use across its dedicated indexes.
    max_nodes_per_project: int = 20
    #: Address replicas bind to (another host's replicas bind their own).
    replica_host: str = "127.0.0.1"
    #: Shared secret replicas require of every request (SPRUCE_REPLICA_TOKEN; without
    #: it, a random one per server start, so only this server's own replicas work).
    replica_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    #: The server's certificate: replicas it starts serve HTTPS with it (docs/TLS.md).
    tls: ServerTLS | None = None
    #: CA bundle that checks replicas on other hosts (None: the system's roots).
    tls_ca: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> CapacitySettings:
        out = cls(
            shard_capacity_bytes=settings.shard_capacity_bytes,
            mode_change_interval_s=settings.rc_mode_interval_s,
            scale_change_interval_s=settings.rc_scale_interval_s,
            max_nodes_per_project=settings.max_nodes_per_project,
            tls=settings.tls,
            tls_ca=settings.tls_ca,
        )
        if settings.replica_token:
            out.replica_token = settings.replica_token
        out.node_memory_bytes.update(
            parse_pairs(settings.node_memory_bytes, int, "SPRUCE_NODE_MEMORY_BYTES")
        )
        out.node_threads.update(parse_pairs(settings.node_threads, int, "SPRUCE_NODE_THREADS"))
        out.node_rates.update(parse_pairs(settings.node_rates, float, "SPRUCE_NODE_RATES"))
        return out


def estimate_cost(capacity: Capacity, rates: dict[str, float]) -> dict[str, Any]:
    """Pinecone's formula for read costs: node rate x shards x replicas."""
    if not capacity.dedicated:
        return {
            "mode": "OnDemand",
            "monthly_cost": 0.0,
            "note": "On-demand reads are billed per read unit; there is no fixed node cost.",
        }
    assert capacity.node_type is not None
    rate = rates.get(capacity.node_type)
    if rate is None:
        raise InvalidArgument(f"No rate is configured for node type {capacity.node_type!r}")
    monthly = rate * capacity.shards * capacity.replicas
    return {
        "mode": "Dedicated",
        "node_type": capacity.node_type,
        "shards": capacity.shards,
        "replicas": capacity.replicas,
        "nodes": capacity.nodes,
        "node_rate_monthly": rate,
        "monthly_cost": round(monthly, 2),
        "hourly_cost": round(monthly / HOURS_PER_MONTH, 4),
        "currency": "USD",
        "formula": "node rate x shards x replicas (storage, write and egress costs are extra)",
    }


def cost_report(node_type: str, shards: int, replicas: int, rates: str = "") -> int:
    """Print the estimate (``spruce cost-estimate``); returns an exit status."""
    table = {**DEFAULT_NODE_RATES, **parse_pairs(rates, float, "--rates")}
    manual = {"shards": shards, "replicas": replicas}
    raw = {"node_type": node_type, "scaling": "Manual", "manual": manual}
    try:
        cost = estimate_cost(parse_capacity({"mode": "Dedicated", "dedicated": raw}), table)
    except InvalidArgument as exc:
        print(exc.message)
        return 2
    print(
        f"{cost['nodes']} {node_type} nodes ({shards} shards x {replicas} replicas) at "
        f"${cost['node_rate_monthly']:,.2f}/month each: ${cost['monthly_cost']:,.2f}/month "
        f"(${cost['hourly_cost']:,.4f}/hour)"
    )
    print(f"Formula: {cost['formula']}")
    return 0


def shards_needed(total: int, capacity: int) -> int:
    return max(1, math.ceil(total / capacity)) if capacity > 0 else 1
