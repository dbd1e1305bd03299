"""``python -m spruce.replica``: serve one shard of one index until told to stop.

Prints ``SPRUCE-REPLICA-READY <port>`` on stdout once every namespace is loaded and
the port accepts connections; the supervisor waits for that line. With
``--parent-pid`` it exits when that process is gone, so a killed server leaves no
replicas behind. SIGTERM drains: reads in flight finish, then it exits.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import threading
import time
from pathlib import Path

import uvicorn

from spruce.engine.partition import Partition
from spruce.replica.app import ReplicaApp, ShardReader

READY = "SPRUCE-REPLICA-READY"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m spruce.replica", description=__doc__)
    p.add_argument("--root", type=Path, required=True, help="the index directory")
    p.add_argument("--dimension", type=int, default=None, help="omit for sparse indexes")
    p.add_argument("--metric", required=True, choices=["cosine", "euclidean", "dotproduct"])
    p.add_argument("--shard", type=int, default=0)
    p.add_argument("--shards", type=int, default=1)
    p.add_argument("--node-type", default="b1")
    p.add_argument("--threads", type=int, default=1, help="reads served at once")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0: any free port")
    p.add_argument("--parent-pid", type=int, default=None)
    return p


def _watch_parent(pid: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != pid:
            os._exit(0)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s replica %(message)s")
    if args.parent_pid is not None:
        threading.Thread(target=_watch_parent, args=(args.parent_pid,), daemon=True).start()
    reader = ShardReader(
        args.root,
        dimension=args.dimension,
        metric=args.metric,
        partition=Partition(args.shard, args.shards),
        node_type=args.node_type,
    )
    reader.warm()
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(128)  # connections queue from now on, so "ready" is true once printed
    app = ReplicaApp(reader, threads=max(1, args.threads))
    config = uvicorn.Config(
        app, log_level="warning", lifespan="on", timeout_graceful_shutdown=30, access_log=False
    )
    print(f"{READY} {sock.getsockname()[1]}", flush=True)
    sys.stdout.flush()
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
