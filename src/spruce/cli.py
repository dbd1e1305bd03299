"""The ``spruce`` command."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from spruce import import_cli
from spruce.config import Settings

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spruce", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)
    serve = verbs.add_parser("serve", help="run the server (REST on one port)")
    serve.add_argument("--data-dir", type=Path, help="where data lives (default ./data)")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 5080)")
    serve.add_argument("--advertised-host", help="host name clients use to reach this server")
    serve.add_argument("--api-key", help="register this API key on start")
    serve.add_argument("--dev", action="store_true", help="accept any API key")
    serve.add_argument("--flush-rows", type=int, help="memtable rows before a flush")
    serve.add_argument(
        "--index-port-base", type=int, help="first port for index hosts (default: port + 1)"
    )
    serve.add_argument(
        "--no-index-ports",
        action="store_true",
        help="serve index hosts as paths on the main port only (no gRPC)",
    )
    # TLS on every port (docs/TLS.md); also SPRUCE_TLS_CERT / _KEY / _CA.
    serve.add_argument("--tls-cert", type=Path, help="PEM certificate (chain): serve TLS")
    serve.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    serve.add_argument(
        "--tls-ca", type=Path, help="CA bundle that checks read replicas on other hosts"
    )
    # Resource bounds (docs/RELIABILITY.md); each also has a SPRUCE_* variable.
    serve.add_argument(
        "--header-timeout",
        dest="header_timeout_s",
        type=float,
        help="seconds to send a request's headers (default 30)",
    )
    serve.add_argument(
        "--body-timeout",
        dest="body_timeout_s",
        type=float,
        help="seconds to send a request's body (default 60)",
    )
    serve.add_argument(
        "--keep-alive",
        dest="keep_alive_s",
        type=int,
        help="seconds an idle connection is kept open (default 75)",
    )
    serve.add_argument(
        "--max-connections",
        type=int,
        help="connections held at once, idle ones closed first (default 1000)",
    )
    serve.add_argument(
        "--import-root",
        action="append",
        default=[],
        help="a directory local-path imports may read (repeatable; DATA_DIR/import-sources "
        "is always allowed)",
    )
    import_cli.add_verbs(verbs)
    admin = verbs.add_parser("admin", help="admin credentials (docs/OPERATIONS.md, Admin API)")
    admin_verbs = admin.add_subparsers(dest="admin_verb", required=True)
    credential = admin_verbs.add_parser(
        "create-credential", help="print a new client id and secret for pinecone.Admin"
    )
    credential.add_argument("--data-dir", type=Path, help="the server's data dir (default ./data)")
    credential.add_argument("--name", default="admin", help="a label for the credential")
    cost = verbs.add_parser(
        "cost-estimate", help="monthly read cost of dedicated read nodes (docs/READ_CAPACITY.md)"
    )
    cost.add_argument("--node-type", default="b1", choices=["b1", "t1"])
    cost.add_argument("--shards", type=int, default=1)
    cost.add_argument("--replicas", type=int, default=1)
    cost.add_argument("--rates", default="", help="monthly USD per node, e.g. b1=548.96,t1=...")
    return parser


def _create_credential(data_dir: Path, name: str) -> int:
    """Writes the catalog directly (SQLite lets a running server share it)."""
    from spruce.catalog import Catalog
    from spruce.catalog.admin import AdminCatalog

    catalog = Catalog(data_dir / "catalog.sqlite3")
    try:
        row, secret = AdminCatalog(catalog).create_credential(name)
    finally:
        catalog.close()
    print(f"PINECONE_CLIENT_ID={row.client_id}")
    print(f"PINECONE_CLIENT_SECRET={secret}")
    return 0


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.verb in import_cli.VERBS:
        raise SystemExit(import_cli.run(args))
    if args.verb == "admin":
        raise SystemExit(_create_credential(args.data_dir or Settings().data_dir, args.name))
    if args.verb == "cost-estimate":
        from spruce.service.read_capacity.spec import cost_report

        raise SystemExit(cost_report(args.node_type, args.shards, args.replicas, args.rates))
    if args.verb == "serve":
        from spruce.server import serve

        settings = Settings()
        for name in (
            "data_dir",
            "host",
            "port",
            "advertised_host",
            "api_key",
            "flush_rows",
            "index_port_base",
            "header_timeout_s",
            "body_timeout_s",
            "keep_alive_s",
            "max_connections",
            "tls_cert",
            "tls_key",
            "tls_ca",
        ):
            value = getattr(args, name)
            if value is not None:
                setattr(settings, name, value)
        if args.import_root:
            named = [settings.import_roots] if settings.import_roots else []
            settings.import_roots = os.pathsep.join(named + [str(p) for p in args.import_root])
        settings.dev = settings.dev or args.dev
        settings.index_ports = settings.index_ports and not args.no_index_ports
        try:
            settings.tls  # noqa: B018 -- checks that cert and key come together
        except ValueError as exc:
            raise SystemExit(f"spruce serve: {exc}") from None
        serve(settings)


if __name__ == "__main__":
    main()
