"""The ``spruce`` command."""

from __future__ import annotations

import argparse
from pathlib import Path

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
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.verb == "serve":
        from spruce.server import serve

        settings = Settings()
        for name in ("data_dir", "host", "port", "advertised_host", "api_key", "flush_rows"):
            value = getattr(args, name)
            if value is not None:
                setattr(settings, name, value)
        settings.dev = settings.dev or args.dev
        serve(settings)


if __name__ == "__main__":
    main()
