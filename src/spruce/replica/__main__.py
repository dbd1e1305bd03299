"""``python -m spruce.replica``: serve one shard of one index until told to stop.

Prints ``SPRUCE-REPLICA-READY <port>`` on stdout once every namespace is loaded and
the port accepts connections; the supervisor waits for that line. With
``--parent-pid`` it exits when that process is gone, so a killed server leaves no
replicas behind. SIGTERM drains: reads in flight finish, then it exits.

On another host, ``--source s3://bucket/prefix/<index uid>`` mirrors the index from
object storage into ``--cache-dir`` and serves that; ``--join URL --index NAME`` then
registers the replica with the server, which routes reads to it (docs/READ_CAPACITY.md).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
import threading
import time
import urllib.request
from pathlib import Path

import uvicorn

from spruce.api.rest.connections import ConnectionLimits, bounded_protocol
from spruce.engine.disk.ship import IndexMirror
from spruce.engine.read.partition import Partition
from spruce.replica.app import ReplicaApp, ShardReader
from spruce.storage import StoreOptions, open_store
from spruce.tls import ClientTLS

READY = "SPRUCE-REPLICA-READY"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m spruce.replica", description=__doc__)
    p.add_argument("--root", type=Path, help="the index directory (shared filesystem)")
    p.add_argument("--source", help="s3://bucket/prefix/<index uid> or file://...: mirror it")
    p.add_argument("--cache-dir", type=Path, help="where --source is mirrored to")
    p.add_argument("--s3-endpoint", default=os.environ.get("SPRUCE_S3_ENDPOINT"))
    p.add_argument("--s3-region", default=os.environ.get("SPRUCE_S3_REGION", "us-east-1"))
    p.add_argument("--join", help="the server's URL: register this replica with it")
    p.add_argument("--index", help="with --join: the index name")
    p.add_argument("--api-key", default=os.environ.get("PINECONE_API_KEY"))
    p.add_argument("--advertise", help="URL the server reaches this replica at")
    # The token comes from SPRUCE_REPLICA_TOKEN, never argv (which ps shows).
    p.add_argument("--dimension", type=int, default=None, help="omit for sparse indexes")
    p.add_argument("--metric", required=True, choices=["cosine", "euclidean", "dotproduct"])
    p.add_argument("--shard", type=int, default=0)
    p.add_argument("--shards", type=int, default=1)
    p.add_argument("--node-type", default="b1")
    p.add_argument("--threads", type=int, default=1, help="reads served at once")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0: any free port")
    p.add_argument("--parent-pid", type=int, default=None)
    # TLS (docs/TLS.md): serve HTTPS with this certificate; --tls-ca checks the --join
    # server's certificate (default: the system's roots).
    p.add_argument("--tls-cert", default=os.environ.get("SPRUCE_TLS_CERT"))
    p.add_argument("--tls-key", default=os.environ.get("SPRUCE_TLS_KEY"))
    p.add_argument("--tls-ca", default=os.environ.get("SPRUCE_TLS_CA"))
    return p


def _watch_parent(pid: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != pid:
            os._exit(0)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if (args.tls_cert is None) != (args.tls_key is None):
        raise SystemExit("give both --tls-cert and --tls-key, or neither")
    os.umask(0o077)  # its cache holds an index's records: private, as the server's data
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s replica %(message)s")
    if args.parent_pid is not None:
        threading.Thread(target=_watch_parent, args=(args.parent_pid,), daemon=True).start()
    mirror = None
    root = args.root
    if args.source:
        if args.cache_dir is None:
            raise SystemExit("--source needs --cache-dir")
        store = open_store(args.source, StoreOptions(args.s3_endpoint, args.s3_region))
        mirror = IndexMirror(store, args.cache_dir)
        root = args.cache_dir
    if root is None:
        raise SystemExit("give --root (a shared index directory) or --source")
    reader = ShardReader(
        root,
        dimension=args.dimension,
        metric=args.metric,
        partition=Partition(args.shard, args.shards),
        node_type=args.node_type,
        mirror=mirror,
    )
    reader.warm()
    reader.keep_synced()
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(128)  # connections queue from now on, so "ready" is true once printed
    token = os.environ.get("SPRUCE_REPLICA_TOKEN") or None
    app = ReplicaApp(reader, threads=max(1, args.threads), token=token)
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=30,
        access_log=False,
        # Bounded connections; idle TLS ones do not hold a shutdown for 30 s.
        http=bounded_protocol(ConnectionLimits()),
        ssl_certfile=args.tls_cert,
        ssl_keyfile=args.tls_key,
    )
    port = sock.getsockname()[1]
    print(f"{READY} {port}", flush=True)
    sys.stdout.flush()
    if args.join:
        scheme = "http" if args.tls_cert is None else "https"
        url = args.advertise or f"{scheme}://{args.host}:{port}"
        threading.Thread(target=_join, args=(args, url), daemon=True).start()
    uvicorn.Server(config).run(sockets=[sock])


def _join(args: argparse.Namespace, url: str) -> None:
    """Register with the server (retrying while it is not up yet)."""
    body = json.dumps({"url": url}).encode()
    target = f"{args.join.rstrip('/')}/indexes/{args.index}/read_capacity/replicas"
    tls = ClientTLS(ca=None if args.tls_ca is None else Path(args.tls_ca))
    context = tls.context() if target.startswith("https:") else None
    for _ in range(60):
        request = urllib.request.Request(
            target,
            data=body,
            method="POST",
            headers={"Api-Key": args.api_key or "", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30, context=context):
                return
        except OSError as exc:
            logging.warning("joining %s failed (%s); retrying", target, exc)
            time.sleep(1)


if __name__ == "__main__":
    main()
