"""Use cases shared by the REST, gRPC and console edges."""

from __future__ import annotations

from dataclasses import dataclass

from spruce.service.admin import AdminOps
from spruce.service.auth import Auth
from spruce.service.control_plane import ControlPlane, IndexRequest
from spruce.service.data_plane import DataPlane, FetchPage, ListPage, QueryResult
from spruce.service.documents import DocumentIndexes
from spruce.service.documents.data import Documents
from spruce.service.documents.search import DocumentSearch
from spruce.service.imports import Imports
from spruce.service.inference import Inference
from spruce.service.integrated import IntegratedIndexes
from spruce.service.read_capacity.nodes import ReadNodes
from spruce.service.read_capacity.routing import DedicatedDataPlane
from spruce.service.read_capacity.spec import CapacitySettings
from spruce.service.storage import NamespaceInfo, NamespacePage, Stats
from spruce.service.text_records import TextRecords

__all__ = [
    "AdminOps",
    "Auth",
    "CapacitySettings",
    "ControlPlane",
    "DataPlane",
    "DedicatedDataPlane",
    "DocumentIndexes",
    "DocumentSearch",
    "Documents",
    "Imports",
    "IndexRequest",
    "Inference",
    "IntegratedIndexes",
    "TextRecords",
    "FetchPage",
    "ListPage",
    "NamespaceInfo",
    "NamespacePage",
    "QueryResult",
    "ReadNodes",
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
    #: Integrated embedding and inference (``spruce.embeddings``); None: not served.
    inference: Inference | None = None
    integrated: IntegratedIndexes | None = None
    text_records: TextRecords | None = None
    #: Document indexes (API 2026-07 typed schemas, ``index.documents``).
    documents: DocumentIndexes | None = None
    document_data: Documents | None = None
    document_search: DocumentSearch | None = None
    #: Bulk import jobs and storage integrations (``spruce.imports``).
    imports: Imports | None = None
    #: Dedicated read nodes: replicas, shards, states (``service/read_capacity/nodes.py``).
    nodes: ReadNodes | None = None
    #: The admin API: projects, keys, audit log (``service/admin.py``).
    admin: AdminOps | None = None
