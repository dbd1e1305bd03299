"""``spruce import`` and ``spruce integration``: bulk import from the command line.

These verbs talk to a running server's REST API like any other client (the same
calls as the SDK's ``start_import`` / ``describe_import``), so the job they start is
the one ``list_imports`` shows. Only the standard library and rich are used.
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

__all__ = ["VERBS", "add_verbs", "run"]

VERBS = ("import", "integration")
_API_VERSION = "2025-10"
_FINAL = ("Completed", "Failed", "Cancelled")


class CliError(Exception):
    pass


def add_verbs(verbs: Any) -> None:
    """Register the verbs on the ``spruce`` parser's subparsers."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        default=os.environ.get("SPRUCE_URL", "http://127.0.0.1:5080"),
        help="the server's control plane (default $SPRUCE_URL or http://127.0.0.1:5080)",
    )
    common.add_argument(
        "--api-key",
        default=os.environ.get("SPRUCE_API_KEY") or os.environ.get("PINECONE_API_KEY"),
        help="API key (default $SPRUCE_API_KEY or $PINECONE_API_KEY)",
    )
    imp = verbs.add_parser(
        "import",
        parents=[common],
        help="bulk-import Parquet files into new namespaces of an index",
        description="Start an import of URI (s3://, gs://, https://ACCOUNT.blob.core."
        "windows.net/..., file:// or a local path) and follow it with a progress bar.",
    )
    imp.add_argument("uri", help="the import directory: one subdirectory per namespace")
    imp.add_argument("--index", required=True, help="name of the index to import into")
    imp.add_argument(
        "--error-mode",
        choices=("abort", "continue"),
        default="abort",
        help="abort at the first invalid record (default) or skip invalid records",
    )
    imp.add_argument("--integration-id", help="storage integration holding the credentials")
    imp.add_argument(
        "--no-wait", action="store_true", help="print the import id and return at once"
    )

    integ = verbs.add_parser(
        "integration", parents=[common], help="manage storage integrations (credentials)"
    )
    actions = integ.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", parents=[common], help="register credentials")
    add.add_argument("name")
    add.add_argument("--provider", required=True, choices=("aws", "gcp", "azure"))
    add.add_argument(
        "--credential",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one credential, e.g. access_key_id=AKIA...; repeat for each",
    )
    actions.add_parser("list", parents=[common], help="list integrations (never secrets)")
    delete = actions.add_parser("delete", parents=[common], help="remove an integration")
    delete.add_argument("id")


def _request(method: str, url: str, api_key: str | None, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    headers = {"X-Pinecone-Api-Version": _API_VERSION}
    if api_key:
        headers["Api-Key"] = api_key
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    # A server with TLS (docs/TLS.md): its CA from SPRUCE_TLS_CA, else the system's.
    ca = os.environ.get("SPRUCE_TLS_CA") or None
    context = ssl.create_default_context(cafile=ca) if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        raise CliError(f"{exc.code}: {_message(exc.read())}") from None
    except urllib.error.URLError as exc:
        raise CliError(f"cannot reach {url}: {exc.reason}") from None
    return json.loads(raw) if raw.strip() else {}


def _message(raw: bytes) -> str:
    try:
        body = json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if body.get("message"):
            return str(body["message"])
    return str(body)


def _index_host(url: str, api_key: str | None, index: str) -> str:
    described = _request("GET", f"{url.rstrip('/')}/indexes/{urllib.parse.quote(index)}", api_key)
    host = str(described["host"])
    return host if "://" in host else f"http://{host}"


def _local(uri: str) -> str:
    """A relative local path means the CLI's directory, not the server's."""
    if "://" in uri:
        return uri
    return str(Path(uri).expanduser().resolve())


def _follow(console: Console, host: str, api_key: str | None, import_id: str) -> dict[str, Any]:
    url = f"{host}/bulk/imports/{urllib.parse.quote(import_id, safe='')}"
    columns = (
        TextColumn("[bold]import {task.fields[id]}[/] {task.fields[status]}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[records]:,} records"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("import", total=100.0, id=import_id, status="Pending", records=0)
        while True:
            state: dict[str, Any] = _request("GET", url, api_key)
            progress.update(
                task,
                completed=float(state.get("percentComplete") or 0.0),
                status=state["status"],
                records=int(state.get("recordsImported") or 0),
            )
            if state["status"] in _FINAL:
                return state
            time.sleep(0.25)


def _import(args: argparse.Namespace, console: Console) -> int:
    host = _index_host(args.url, args.api_key, args.index)
    body: dict[str, Any] = {"uri": _local(args.uri), "errorMode": {"onError": args.error_mode}}
    if args.integration_id:
        body["integrationId"] = args.integration_id
    started = _request("POST", f"{host}/bulk/imports", args.api_key, body)
    import_id = str(started["id"])
    if args.no_wait:
        print(import_id)
        return 0
    try:
        state = _follow(console, host, args.api_key, import_id)
    except KeyboardInterrupt:
        console.print(
            f"Stopped following; import {import_id} goes on in the server. "
            f"Cancel it with DELETE {host}/bulk/imports/{import_id}."
        )
        return 130
    if state["status"] == "Completed":
        print(
            f"Import {import_id} completed: {state.get('recordsImported', 0)} records "
            f"into index {args.index}."
        )
        return 0
    reason = state.get("error") or "cancelled"
    print(f"Import {import_id} {state['status'].lower()}: {reason}", file=sys.stderr)
    return 1


def _integration(args: argparse.Namespace, console: Console) -> int:
    base = f"{args.url.rstrip('/')}/storage-integrations"
    if args.action == "add":
        credentials = {}
        for item in args.credential:
            key, sep, value = item.partition("=")
            if not sep:
                raise CliError(f"--credential {item!r}: expected KEY=VALUE")
            credentials[key] = value
        body = {"name": args.name, "provider": args.provider, "credentials": credentials}
        created = _request("POST", base, args.api_key, body)
        print(created["id"])
    elif args.action == "list":
        for found in _request("GET", base, args.api_key)["data"]:
            keys = ",".join(found["credential_keys"])
            print(f"{found['id']}  {found['provider']:<6} {found['name']}  ({keys})")
    else:
        _request("DELETE", f"{base}/{urllib.parse.quote(args.id, safe='')}", args.api_key)
    return 0


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    try:
        if args.verb == "import":
            return _import(args, console)
        return _integration(args, console)
    except CliError as exc:
        print(f"spruce {args.verb}: {exc}", file=sys.stderr)
        return 2
