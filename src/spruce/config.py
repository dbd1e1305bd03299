"""Settings for one Spruce server, from defaults, the environment and the CLI."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from spruce.tls import ServerTLS

__all__ = ["Settings"]


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def _env_path(name: str) -> Path | None:
    raw = os.environ.get(name)
    return Path(raw) if raw else None


@dataclass
class Settings:
    """Everything a server needs to start; the CLI fills it in.

    ``advertised_host`` is what ``describe_index`` puts in ``host``: clients
    must be able to reach it, so it defaults to the loopback address.
    """

    data_dir: Path = Path(os.environ.get("SPRUCE_DATA_DIR", "./data"))
    host: str = os.environ.get("SPRUCE_HOST", "127.0.0.1")
    port: int = _env_int("SPRUCE_PORT", 5080)
    advertised_host: str | None = os.environ.get("SPRUCE_ADVERTISED_HOST") or None
    #: Accept any API key (local development); keys are still required to be present.
    dev: bool = os.environ.get("SPRUCE_DEV", "") not in ("", "0", "false")
    #: A key to register on start (so tests and scripts know it in advance).
    api_key: str | None = os.environ.get("SPRUCE_API_KEY") or None
    #: Rows in a namespace memtable before it is flushed to a segment.
    flush_rows: int = _env_int("SPRUCE_FLUSH_ROWS", 20_000)
    #: Threads that run engine calls off the event loop.
    worker_threads: int = _env_int("SPRUCE_WORKER_THREADS", 8)
    #: Give each index its own port serving REST and gRPC (docs/GRPC.md); without it
    #: index hosts are path prefixes on the main port and gRPC is off.
    index_ports: bool = os.environ.get("SPRUCE_INDEX_PORTS", "1") not in ("", "0", "false")
    #: First port tried for an index (0: the main port + 1); the next free one is taken.
    index_port_base: int = _env_int("SPRUCE_INDEX_PORT_BASE", 0)
    #: Pinecone model names served by local models, "NAME=LOCAL,..." (docs/INFERENCE.md),
    #: e.g. "multilingual-e5-large=all-MiniLM-L6-v2"; unmapped hosted names are refused.
    model_aliases: str = os.environ.get("SPRUCE_MODEL_ALIASES", "")
    #: Torch threads for local models (0: half the cores, 1 to 4): more oversubscribes a
    #: server that also answers vector requests, and is much slower, not faster.
    embed_threads: int = _env_int("SPRUCE_EMBED_THREADS", 0)
    #: Object stores for bulk import (docs/IMPORT.md): endpoint overrides, e.g. an
    #: emulator's http://127.0.0.1:PORT; unset means the cloud's own endpoint.
    s3_endpoint: str | None = os.environ.get("SPRUCE_S3_ENDPOINT") or None
    s3_region: str = os.environ.get("SPRUCE_S3_REGION", "us-east-1")
    gcs_endpoint: str | None = os.environ.get("SPRUCE_GCS_ENDPOINT") or None
    azure_endpoint: str | None = os.environ.get("SPRUCE_AZURE_ENDPOINT") or None
    #: Pinecone's per-import limits; lower them to test "Exceeds system limit".
    import_max_namespaces: int = _env_int("SPRUCE_IMPORT_MAX_NAMESPACES", 10_000)
    import_max_files: int = _env_int("SPRUCE_IMPORT_MAX_FILES", 100_000)
    import_max_file_bytes: int = _env_int("SPRUCE_IMPORT_MAX_FILE_BYTES", 10 * 1000**3)
    import_max_namespace_bytes: int = _env_int("SPRUCE_IMPORT_MAX_NAMESPACE_BYTES", 500 * 1000**3)
    #: Directories local-path imports may read from (os.pathsep-separated), besides
    #: DATA_DIR/import-sources; ``--import-root`` adds more. Nothing else is readable.
    import_roots: str = os.environ.get("SPRUCE_IMPORT_ROOTS", "")
    #: Rows per segment an import writes: smaller overlaps writing with decoding more;
    #: background compaction merges them into indexed segments afterwards.
    import_segment_rows: int = _env_int("SPRUCE_IMPORT_SEGMENT_ROWS", 25_000)
    #: Testing aid: seconds an import sleeps after each batch (to catch it mid-flight).
    import_batch_delay: float = float(os.environ.get("SPRUCE_IMPORT_BATCH_DELAY") or 0)
    #: Dedicated read nodes (docs/READ_CAPACITY.md): storage per shard (Pinecone: 250 GB);
    #: tests lower it to reach "full" with a few records.
    shard_capacity_bytes: int = _env_int("SPRUCE_SHARD_CAPACITY_BYTES", 250 * 1000**3)
    #: Per node type, "b1=N,t1=N": memory bytes, reads served at once, monthly USD rate
    #: (empty: the defaults in service/read_capacity/spec.py).
    node_memory_bytes: str = os.environ.get("SPRUCE_NODE_MEMORY_BYTES", "")
    node_threads: str = os.environ.get("SPRUCE_NODE_THREADS", "")
    node_rates: str = os.environ.get("SPRUCE_NODE_RATES", "")
    #: Pinecone allows one node type / mode change per 24 h and one shard / replica
    #: change per hour; tests shorten both.
    rc_mode_interval_s: float = float(os.environ.get("SPRUCE_RC_MODE_INTERVAL_S") or 86400)
    rc_scale_interval_s: float = float(os.environ.get("SPRUCE_RC_SCALE_INTERVAL_S") or 3600)
    max_nodes_per_project: int = _env_int("SPRUCE_MAX_NODES_PER_PROJECT", 20)
    #: s3://bucket/prefix or file:///path: ship dedicated indexes there for read replicas
    #: on other hosts (uses the s3_endpoint / s3_region above); unset: not shipped.
    replica_store: str | None = os.environ.get("SPRUCE_REPLICA_STORE") or None
    #: The secret read replicas require; set it on every host to run replicas elsewhere.
    replica_token: str | None = os.environ.get("SPRUCE_REPLICA_TOKEN") or None

    #: Connection bounds (docs/RELIABILITY.md, "Resource bounds"), on the main port and
    #: every index port: seconds to send a request's headers, then its body; seconds an
    #: idle keep-alive connection is kept (clients reuse pooled sockets for a while, so
    #: more than they wait); connections held at once (idle ones are closed first).
    header_timeout_s: float = float(os.environ.get("SPRUCE_HEADER_TIMEOUT_S") or 30)
    body_timeout_s: float = float(os.environ.get("SPRUCE_BODY_TIMEOUT_S") or 60)
    keep_alive_s: int = _env_int("SPRUCE_KEEP_ALIVE_S", 75)
    max_connections: int = _env_int("SPRUCE_MAX_CONNECTIONS", 1000)
    #: Key for storage integration secrets at rest (32 bytes, URL-safe base64); unset:
    #: DATA_DIR/secret.key, made on first start (docs/IMPORT.md).
    secret_key: str | None = os.environ.get("SPRUCE_SECRET_KEY") or None
    #: TLS on the main port, every index port and the read replicas (docs/TLS.md):
    #: a PEM certificate (chain) and its key; both or neither. ``tls_ca`` is the CA
    #: bundle that checks replicas on other hosts (unset: the system's roots).
    tls_cert: Path | None = field(default_factory=lambda: _env_path("SPRUCE_TLS_CERT"))
    tls_key: Path | None = field(default_factory=lambda: _env_path("SPRUCE_TLS_KEY"))
    tls_ca: Path | None = field(default_factory=lambda: _env_path("SPRUCE_TLS_CA"))
    #: Testing aid: serve ``POST /_test/fail``, which raises an unexpected exception.
    test_faults: bool = os.environ.get("SPRUCE_TEST_FAULTS", "") not in ("", "0", "false")

    def local_import_roots(self) -> tuple[Path, ...]:
        """The allowed roots, resolved; the data-dir one first."""
        named = [Path(p) for p in self.import_roots.split(os.pathsep) if p]
        roots = [self.data_dir / "import-sources", *named]
        return tuple(dict.fromkeys(p.expanduser().resolve() for p in roots))

    @property
    def tls(self) -> ServerTLS | None:
        """The certificate every port presents; None serves plaintext."""
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("give both --tls-cert and --tls-key (SPRUCE_TLS_*), or neither")
        if self.tls_cert is None or self.tls_key is None:
            return None
        # Absolute: replica processes are handed these paths.
        return ServerTLS(self.tls_cert.resolve(), self.tls_key.resolve())

    @property
    def public_base(self) -> str:
        """Base URL clients use to reach this server."""
        host = self.advertised_host or (
            "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        )
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"  # an IPv6 literal
        scheme = "http" if self.tls_cert is None else "https"
        return f"{scheme}://{host}:{self.port}"
