"""Composition root: builds catalog -> engine -> service -> edges and runs them."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from spruce.api.grpc import GrpcServer, IndexPorts
from spruce.api.rest import build_app
from spruce.api.rest.connections import ConnectionLimits, bounded_protocol
from spruce.catalog import Catalog
from spruce.catalog.imports import ImportCatalog
from spruce.catalog.secrets import SecretBox
from spruce.config import Settings
from spruce.console import routes as console_routes
from spruce.embeddings import Registry, parse_aliases
from spruce.imports import ImportLimits, ImportRunner, ObjectStores, RunnerConfig
from spruce.metrics import Metrics
from spruce.service import (
    AdminOps,
    Auth,
    CapacitySettings,
    ControlPlane,
    DataPlane,
    DedicatedDataPlane,
    DocumentIndexes,
    Documents,
    DocumentSearch,
    Imports,
    Inference,
    IntegratedIndexes,
    ReadNodes,
    Services,
    TextRecords,
)
from spruce.service.descriptors import IndexDescriptors
from spruce.storage import StoreOptions, open_store
from spruce.tls import INDEX_ALPN, is_loopback

__all__ = ["Server", "build", "serve"]

log = logging.getLogger("spruce")


@dataclass
class Server:
    settings: Settings
    services: Services
    catalog: Catalog
    app: Starlette
    new_key: str | None
    #: Each index's own port (REST + gRPC); None with ``--no-index-ports``.
    ports: IndexPorts | None = None
    #: The bulk import runner (a background thread).
    importer: ImportRunner | None = None
    #: ``/metrics`` and ``/ready`` (docs/OPERATIONS.md).
    metrics: Metrics | None = None

    def close(self) -> None:
        if self.ports is not None:
            self.ports.stop()
        if self.importer is not None:
            self.importer.close()
        if self.services.nodes is not None:
            self.services.nodes.close()  # replica processes stop before the data closes
        self.services.data.close()
        self.catalog.close()
        if self.metrics is not None:
            self.metrics.close()


def build(settings: Settings) -> Server:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    catalog_path = settings.data_dir / "catalog.sqlite3"
    catalog_lost = not catalog_path.exists()
    catalog = Catalog(catalog_path)
    # Each index keeps its catalog row beside its data (service/descriptors.py); a lost
    # catalog gets its index rows back before anything else (Auth) creates a project.
    descriptors = IndexDescriptors(settings.data_dir / "indexes")
    if catalog_lost and (restored := descriptors.rebuild(catalog)):
        log.warning(
            "%s was missing: rebuilt %d index(es) from their descriptors; API keys, import "
            "jobs and storage integrations cannot be rebuilt (docs/RELIABILITY.md)",
            catalog_path,
            restored,
        )
    catalog.index_listener = descriptors
    auth = Auth(catalog, dev=settings.dev)
    new_key = auth.bootstrap(settings.api_key)
    # Dedicated read nodes: replica processes, shards, states (docs/READ_CAPACITY.md).
    store = None
    if settings.replica_store:
        options = StoreOptions(settings.s3_endpoint, settings.s3_region)
        store = open_store(settings.replica_store, options)
    nodes = ReadNodes(
        catalog,
        settings.data_dir / "read_capacity",
        CapacitySettings.from_settings(settings),
        store=store,
    )
    data = DedicatedDataPlane(settings.data_dir, flush_rows=settings.flush_rows, nodes=nodes)
    ports = None
    tls = settings.tls
    if settings.index_ports:
        ports = IndexPorts(
            settings.host,
            settings.index_port_base or settings.port + 1,
            reserved={settings.port},
            first_bytes_timeout=settings.header_timeout_s,
            tls=None if tls is None else tls.context(INDEX_ALPN),
        )
    control = ControlPlane(catalog, data, endpoints=ports, nodes=nodes)
    control.recover()
    nodes.recover()
    descriptors.backfill(catalog)
    # Models load lazily, on the first request that needs one.
    registry = Registry(parse_aliases(settings.model_aliases), threads=settings.embed_threads)
    inference = Inference(registry)
    services = Services(
        auth=auth,
        control=control,
        data=data,
        public_base=settings.public_base,
        inference=inference,
        integrated=IntegratedIndexes(control, inference),
        text_records=TextRecords(data, inference),
        documents=DocumentIndexes(control, registry),
        document_data=Documents(data, inference),
        document_search=DocumentSearch(data, inference),
        nodes=nodes,
        admin=AdminOps(catalog, auth),
    )
    importer = _importer(settings, catalog, data)
    services.imports = Imports(importer.jobs, importer)
    importer.start()
    # Before anything serves: every data-plane call is timed from the first one.
    metrics = Metrics(catalog, data, nodes)
    app = build_app(
        services, extra_routes=console_routes, test_faults=settings.test_faults, metrics=metrics
    )
    return Server(settings, services, catalog, app, new_key, ports, importer, metrics)


def _importer(settings: Settings, catalog: Catalog, data: DataPlane) -> ImportRunner:
    config = RunnerConfig(
        staging=settings.data_dir / "imports",  # beside data_dir/indexes: one filesystem
        stores=ObjectStores(
            settings.s3_endpoint, settings.s3_region, settings.gcs_endpoint, settings.azure_endpoint
        ),
        limits=ImportLimits(
            settings.import_max_namespaces,
            settings.import_max_files,
            settings.import_max_file_bytes,
            settings.import_max_namespace_bytes,
        ),
        segment_rows=settings.import_segment_rows,
        batch_delay=settings.import_batch_delay,
        local_roots=settings.local_import_roots(),
    )
    (settings.data_dir / "import-sources").mkdir(exist_ok=True)
    secrets = SecretBox.open(settings.data_dir, settings.secret_key)
    return ImportRunner(ImportCatalog(catalog, secrets), catalog, data.store, config)


class _Uvicorn(uvicorn.Server):
    """uvicorn, plus the index ports: they start after it and stop accepting before it."""

    def __init__(self, config: uvicorn.Config, ports: IndexPorts | None, grpc_port: int) -> None:
        super().__init__(config)
        self.ports = ports
        self.grpc_port = grpc_port

    def rest_protocol(self) -> Callable[[], asyncio.BaseProtocol]:
        """A factory for uvicorn's own protocol: index ports hand it their HTTP/1 sockets."""
        config = self.config
        if not config.loaded:
            config.load()

        # uvicorn's protocols take these keywords (uvicorn/server.py, ``create_protocol``).
        protocol_class: Callable[..., asyncio.BaseProtocol] = config.http_protocol_class

        def make() -> asyncio.BaseProtocol:
            return protocol_class(
                config=config, server_state=self.server_state, app_state=self.lifespan.state
            )

        return make

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self.ports is not None:
            await self.ports.start(self.rest_protocol(), self.grpc_port)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.ports is not None:
            self.ports.stop()
        await super().shutdown(sockets=sockets)


def private_files(data_dir: Path) -> None:
    """Every file and directory this process creates is its user's only (0600 / 0700):
    the data holds records, key hashes and storage credentials. Applies to the replica
    processes too (they inherit the umask); what an older version left is tightened
    where it matters: the data directory itself and the catalog."""
    os.umask(0o077)
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    for path in data_dir.glob("catalog.sqlite3*"):
        path.chmod(0o600)


def warn_plaintext(settings: Settings) -> None:
    """Plaintext is the default on loopback; anywhere else it is worth saying so."""
    if settings.tls is not None or is_loopback(settings.host):
        return
    message = (
        f"Spruce is listening on {settings.host or 'every address'} without TLS: API keys "
        "and records cross the network in the clear. Give --tls-cert and --tls-key "
        "(docs/TLS.md)."
    )
    log.warning(message)
    print(f"WARNING: {message}", file=sys.stderr, flush=True)


def serve(settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    tls = settings.tls  # raises on half a configuration, before anything starts
    private_files(settings.data_dir)
    warn_plaintext(settings)
    server = build(settings)
    if server.new_key:
        print(f"Created API key (shown once, keep it): {server.new_key}", flush=True)
    print(f"Spruce listening on {settings.public_base} (data in {settings.data_dir})", flush=True)
    grpc = None
    if server.ports is not None:
        grpc = GrpcServer(server.services, server.ports.locate, workers=settings.worker_threads)
    try:
        grpc_port = grpc.start() if grpc is not None else 0
        config = uvicorn.Config(
            server.app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            # Per-request work that a loopback data plane does not need: no access log
            # line, no X-Forwarded-* rewriting (put a proxy in front to have either).
            access_log=False,
            proxy_headers=False,
            timeout_graceful_shutdown=5,
            # Bounded connections (api/rest/connections.py), on index ports too: they
            # hand their HTTP/1 sockets to this same protocol class.
            http=bounded_protocol(
                ConnectionLimits(
                    header_timeout=settings.header_timeout_s,
                    body_timeout=settings.body_timeout_s,
                    keep_alive=settings.keep_alive_s,
                    max_connections=settings.max_connections,
                )
            ),
            timeout_keep_alive=settings.keep_alive_s,
            ssl_certfile=None if tls is None else tls.cert,
            ssl_keyfile=None if tls is None else tls.key,
        )
        _Uvicorn(config, server.ports, grpc_port).run()
    finally:
        if grpc is not None:
            grpc.stop()
        server.close()
