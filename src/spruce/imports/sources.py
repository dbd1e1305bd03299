"""Where an import reads from: URIs, storage integrations and pyarrow filesystems.

Pinecone's URI forms are ``s3://BUCKET/DIR``, ``gs://BUCKET/DIR`` and
``https://ACCOUNT.blob.core.windows.net/CONTAINER/DIR``; Spruce adds local paths and
``file://`` URIs (the embedded default). Reads go through ``pyarrow.fs``, which reads
Parquet footers and column chunks with range requests; endpoints can be overridden
(``SPRUCE_S3_ENDPOINT`` and friends) to point at an emulator or an S3-compatible store.

Local paths are read only under the server's allowed import roots (``check_local``):
any API key can start an import, and the server process can read far more than the
data it should serve. Outside the roots, existing or not, is one answer, so that a
caller cannot probe which paths exist.

Credentials come from a storage integration (``provider`` aws, gcp or azure, with a
config of strings, documented in docs/IMPORT.md); without one, S3 and GCS are read
anonymously, which is what public buckets need.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pyarrow.fs as pafs

from spruce.errors import InvalidArgument

__all__ = [
    "PROVIDERS",
    "ObjectStores",
    "Source",
    "check_integration",
    "check_local",
    "check_local_files",
    "open_filesystem",
    "parse_uri",
]

#: Integration provider -> the URI scheme it serves, and the config keys it accepts.
PROVIDERS: dict[str, tuple[str, frozenset[str]]] = {
    "aws": (
        "s3",
        frozenset(
            {
                "access_key_id",
                "secret_access_key",
                "session_token",
                "region",
                "role_arn",
                "external_id",
            }
        ),
    ),
    "gcp": ("gs", frozenset({"access_token", "use_default_credentials"})),
    "azure": (
        "azure",
        frozenset({"account_key", "sas_token", "client_id", "client_secret", "tenant_id"}),
    ),
}

_AZURE_HOST = re.compile(r"^([a-z0-9]{3,24})\.blob\.core\.windows\.net$")
_SCHEME_NAMES = {"s3": "Amazon S3", "gs": "Google Cloud Storage", "azure": "Azure Blob Storage"}


@dataclass(frozen=True)
class ObjectStores:
    """Server-wide object-store settings (from ``Settings``)."""

    s3_endpoint: str | None = None
    s3_region: str = "us-east-1"
    gcs_endpoint: str | None = None
    azure_endpoint: str | None = None


@dataclass(frozen=True)
class Source:
    """A parsed import URI.

    ``root`` is the prefix as a ``pyarrow.fs`` path: ``BUCKET/DIR`` for object stores
    (the container for Azure), an absolute path for local files.
    """

    uri: str
    scheme: str  # "file", "s3", "gs" or "azure"
    root: str
    account: str | None = None

    @property
    def kind(self) -> str:
        return _SCHEME_NAMES.get(self.scheme, "local files")

    def display(self, path: str) -> str:
        """How error messages name a file: its key within the bucket, or local path."""
        if self.scheme == "file":
            return path
        return path.split("/", 1)[1] if "/" in path else path


def _invalid(uri: str) -> InvalidArgument:
    return InvalidArgument(
        f"Invalid import URI {uri!r}: expected s3://BUCKET/DIR, gs://BUCKET/DIR, "
        "https://ACCOUNT.blob.core.windows.net/CONTAINER/DIR, a file:// URI or a local path"
    )


def parse_uri(uri: str) -> Source:
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme in ("s3", "gs"):
        key = parts.path.strip("/")
        if not parts.netloc:
            raise _invalid(uri)
        root = f"{parts.netloc}/{key}" if key else parts.netloc
        return Source(uri, scheme, root)
    if scheme == "https":
        match = _AZURE_HOST.match(parts.netloc.lower())
        container_and_dir = unquote(parts.path).strip("/")
        if match is None or not container_and_dir:
            raise _invalid(uri)
        return Source(uri, "azure", container_and_dir, account=match.group(1))
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise _invalid(uri)
        path = unquote(parts.path)
    elif scheme == "" or (len(scheme) == 1 and uri[1:2] == ":"):  # no scheme (or C:)
        path = uri
    else:
        raise _invalid(uri)
    if not path:
        raise _invalid(uri)
    return Source(uri, "file", str(Path(path).expanduser().resolve()))


def _not_allowed(uri: str) -> InvalidArgument:
    return InvalidArgument(
        f'Import source "{uri}" is not allowed or was not found: local paths are read only '
        "under the server's import roots (--import-root, SPRUCE_IMPORT_ROOTS)"
    )


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def check_local(source: Source, roots: Sequence[Path]) -> None:
    """A local source must be under one of ``roots`` (resolved, symlinks followed).

    Outside them, whether the path exists is never looked at; inside, a missing
    directory is a failed import ("No Parquet files found"), as for a bucket prefix.
    """
    if source.scheme != "file":
        return
    if not _inside(Path(source.root), roots):  # resolved by parse_uri
        raise _not_allowed(source.uri)


def check_local_files(source: Source, roots: Sequence[Path], paths: Iterable[str]) -> None:
    """Every file found must also resolve under a root: a symlink inside a root may
    point anywhere."""
    if source.scheme != "file":
        return
    for path in paths:
        if not _inside(Path(os.path.realpath(path)), roots):
            raise _not_allowed(source.uri)


def _host_and_scheme(endpoint: str) -> tuple[str, str]:
    parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    return parts.netloc, parts.scheme


def check_integration(source: Source, provider: str) -> None:
    """An integration serves one cloud; refuse it for another's URI."""
    scheme = PROVIDERS[provider][0]
    if scheme != source.scheme:
        raise InvalidArgument(
            f"Storage integration provider {provider!r} cannot read {source.kind} URIs; "
            f"it serves {_SCHEME_NAMES[scheme]}"
        )


def open_filesystem(
    source: Source, stores: ObjectStores, credentials: dict[str, str] | None
) -> pafs.FileSystem:
    """A filesystem reading ``source``, with the integration's credentials if any."""
    creds = credentials or {}
    if source.scheme == "file":
        return pafs.LocalFileSystem()
    if source.scheme == "s3":
        kwargs: dict[str, Any] = {
            "region": creds.get("region") or stores.s3_region,
            "connect_timeout": 10,
            "request_timeout": 60,
            "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=3),
        }
        if stores.s3_endpoint:
            kwargs["endpoint_override"] = stores.s3_endpoint
        if "access_key_id" in creds:
            kwargs["access_key"] = creds["access_key_id"]
            kwargs["secret_key"] = creds.get("secret_access_key", "")
            if creds.get("session_token"):
                kwargs["session_token"] = creds["session_token"]
        elif "role_arn" not in creds:
            kwargs["anonymous"] = True
        if creds.get("role_arn"):
            kwargs["role_arn"] = creds["role_arn"]
            if creds.get("external_id"):
                kwargs["external_id"] = creds["external_id"]
        return pafs.S3FileSystem(**kwargs)
    if source.scheme == "gs":
        gcs: dict[str, Any] = {"retry_time_limit": dt.timedelta(seconds=30)}
        if stores.gcs_endpoint:
            gcs["endpoint_override"], gcs["scheme"] = _host_and_scheme(stores.gcs_endpoint)
        if creds.get("access_token"):
            gcs["access_token"] = creds["access_token"]
            gcs["credential_token_expiration"] = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        elif creds.get("use_default_credentials", "").lower() not in ("true", "1", "yes"):
            gcs["anonymous"] = True
        return pafs.GcsFileSystem(**gcs)
    assert source.scheme == "azure" and source.account is not None
    azure: dict[str, Any] = {
        key: creds[key]
        for key in ("account_key", "sas_token", "client_id", "client_secret", "tenant_id")
        if creds.get(key)
    }
    if stores.azure_endpoint:
        authority, scheme = _host_and_scheme(stores.azure_endpoint)
        azure.update(
            blob_storage_authority=authority,
            blob_storage_scheme=scheme,
            dfs_storage_authority=authority,
            dfs_storage_scheme=scheme,
        )
    return pafs.AzureFileSystem(source.account, **azure)
