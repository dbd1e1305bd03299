"""A grpc.aio server for ``VectorService`` on a private loopback port.

It runs in a thread with its own event loop, so gRPC and the REST server never
share (or depend on the kind of) a loop. Clients do not dial it directly: each
index's port (``ports.IndexPorts``) pipes HTTP/2 connections to it and tells
``locate`` which index a connection came in for.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import grpc

from spruce.api.grpc.servicer import Locate, VectorService
from spruce.service import Services
from spruce.service.limits import MAX_REQUEST_BYTES

__all__ = ["GrpcServer"]

log = logging.getLogger(__name__)

_OPTIONS = [
    # Bigger than the service's limit, so an oversized request gets Pinecone's
    # INVALID_ARGUMENT message rather than grpc's RESOURCE_EXHAUSTED (which the
    # SDK would retry).
    ("grpc.max_receive_message_length", 4 * MAX_REQUEST_BYTES),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ("grpc.so_reuseport", 0),
]


class GrpcServer:
    def __init__(self, services: Services, locate: Locate, *, workers: int = 8) -> None:
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="spruce-grpc")
        self._servicer = VectorService(services, locate, self._executor)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.port = 0

    def start(self) -> int:
        """Start serving on 127.0.0.1 and return the port."""
        self._thread = threading.Thread(target=self._main, name="spruce-grpc-loop", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self.port

    def stop(self, grace: float = 2.0) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(grace + 5)
        self._thread = None
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            log.exception("gRPC server failed")
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = grpc.aio.server(options=_OPTIONS)
        server.add_generic_rpc_handlers([self._servicer.handlers()])
        self.port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        self._ready.set()
        await self._stop.wait()
        await server.stop(1.0)
