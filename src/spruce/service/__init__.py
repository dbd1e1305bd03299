"""Use cases shared by the REST, gRPC and console edges."""

from __future__ import annotations

from dataclasses import dataclass

from spruce.service.auth import Auth
from spruce.service.control_plane import ControlPlane, IndexRequest
from spruce.service.data_plane import DataPlane, ListPage, NamespaceInfo, QueryResult, Stats

__all__ = [
    "Auth",
    "ControlPlane",
    "DataPlane",
    "IndexRequest",
    "ListPage",
    "NamespaceInfo",
    "QueryResult",
    "Services",
    "Stats",
]


@dataclass
class Services:
    """Everything an edge may call, wired once in ``spruce.server``."""

    auth: Auth
    control: ControlPlane
    data: DataPlane
    public_base: str
