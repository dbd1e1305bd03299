"""Bulk import: Parquet files in object storage (or on local disk) into new namespaces."""

from spruce.imports.messages import JobError
from spruce.imports.plan import ImportLimits, IndexShape
from spruce.imports.runner import ImportRunner, RunnerConfig
from spruce.imports.sources import (
    PROVIDERS,
    ObjectStores,
    Source,
    check_integration,
    check_local,
    parse_uri,
)

__all__ = [
    "PROVIDERS",
    "ImportLimits",
    "ImportRunner",
    "IndexShape",
    "JobError",
    "ObjectStores",
    "RunnerConfig",
    "Source",
    "check_integration",
    "check_local",
    "parse_uri",
]
