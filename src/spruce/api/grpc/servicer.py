"""``VectorService``: each method turns its request into the arguments REST's route
passes, calls the same ``service`` function and builds the reply message.

A call runs whole (authentication, index lookup, the service call and the reply)
in a worker thread: the service blocks on disk, and the loop must not.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message

from spruce.api.grpc import convert
from spruce.api.grpc.errors import status_for
from spruce.api.grpc.proto import db_data_2025_10_pb2 as pb
from spruce.catalog import IndexRow
from spruce.errors import InvalidArgument, NotFound
from spruce.service import Services
from spruce.service.documents.control import require_vector_index
from spruce.service.limits import MAX_REQUEST_BYTES, request_too_large
from spruce.service.records import namespace_name

__all__ = ["SERVICE", "Locate", "VectorService"]

#: The service's full name: the SDK's proto has no package.
SERVICE = "VectorService"

#: Maps a call's peer address to the (project, index) whose port it came in on.
Locate = Callable[[str], tuple[str, str] | None]

Req = TypeVar("Req", bound=Message)
Reply = TypeVar("Reply", bound=Message)
Metadata = tuple[tuple[str, str], ...]

_LSN = "x-pinecone-request-lsn"
_MAX_LSN = "x-pinecone-max-indexed-lsn"


@dataclass
class _Call:
    """What a method body needs besides its request."""

    index: IndexRow
    svc: Services


#: The methods that change data: DataPlaneEditor (or ProjectEditor) keys only.
_WRITES = frozenset({"upsert", "update", "delete", "create_namespace", "delete_namespace"})


def _optional(message: Message, field: str) -> bool:
    return message.HasField(field)


_RECORD_REQUESTS = (
    pb.UpsertRequest,
    pb.QueryRequest,
    pb.FetchRequest,
    pb.UpdateRequest,
    pb.DeleteRequest,
    pb.ListRequest,
    pb.FetchByMetadataRequest,
)


class VectorService:
    def __init__(self, services: Services, locate: Locate, executor: Executor) -> None:
        self._svc = services
        self._locate = locate
        self._executor = executor

    def _index(self, api_key: str | None, peer: str, *, write: bool = False) -> IndexRow:
        project = self._svc.auth.authorize(api_key, "data", write).project
        located = self._locate(peer)
        if located is None:
            raise NotFound(
                "Unknown index: connect to the host that describe_index returns for the index"
            )
        owner, name = located
        if owner != project:
            raise NotFound(f"Index {name} not found")
        return self._svc.control.resolve(owner, name)

    def handlers(self) -> grpc.GenericRpcHandler[Any, Any]:
        methods: dict[str, tuple[Callable[..., Any], type[Message], type[Message]]] = {
            "Upsert": (self.upsert, pb.UpsertRequest, pb.UpsertResponse),
            "Query": (self.query, pb.QueryRequest, pb.QueryResponse),
            "Fetch": (self.fetch, pb.FetchRequest, pb.FetchResponse),
            "Update": (self.update, pb.UpdateRequest, pb.UpdateResponse),
            "Delete": (self.delete, pb.DeleteRequest, pb.DeleteResponse),
            "List": (self.list, pb.ListRequest, pb.ListResponse),
            "DescribeIndexStats": (
                self.describe_index_stats,
                pb.DescribeIndexStatsRequest,
                pb.DescribeIndexStatsResponse,
            ),
            "ListNamespaces": (
                self.list_namespaces,
                pb.ListNamespacesRequest,
                pb.ListNamespacesResponse,
            ),
            "DescribeNamespace": (
                self.describe_namespace,
                pb.DescribeNamespaceRequest,
                pb.NamespaceDescription,
            ),
            "CreateNamespace": (
                self.create_namespace,
                pb.CreateNamespaceRequest,
                pb.NamespaceDescription,
            ),
            "DeleteNamespace": (
                self.delete_namespace,
                pb.DeleteNamespaceRequest,
                pb.DeleteResponse,
            ),
            "FetchByMetadata": (
                self.fetch_by_metadata,
                pb.FetchByMetadataRequest,
                pb.FetchByMetadataResponse,
            ),
        }
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                name: grpc.unary_unary_rpc_method_handler(
                    self._unary(body),
                    request_deserializer=request.FromString,
                    response_serializer=reply.SerializeToString,
                )
                for name, (body, request, reply) in methods.items()
            },
        )

    def _unary(
        self, body: Callable[[Req, _Call], tuple[Reply, Metadata]]
    ) -> Callable[[Req, grpc.aio.ServicerContext[Req, Reply]], Awaitable[Reply]]:
        async def handle(request: Req, context: grpc.aio.ServicerContext[Req, Reply]) -> Reply:
            api_key = next(
                (str(v) for k, v in context.invocation_metadata() or () if k == "api-key"), None
            )
            run = functools.partial(self._run, body, request, api_key, context.peer())
            try:
                reply, trailers = await asyncio.get_running_loop().run_in_executor(
                    self._executor, run
                )
            except Exception as exc:
                code, message = status_for(exc)
                await context.abort(code, message)
            if trailers:
                context.set_trailing_metadata(trailers)
            return reply

        return handle

    def _run(
        self,
        body: Callable[[Req, _Call], tuple[Reply, Metadata]],
        request: Req,
        api_key: str | None,
        peer: str,
    ) -> tuple[Reply, Metadata]:
        index = self._index(api_key, peer, write=getattr(body, "__name__", "") in _WRITES)
        if isinstance(request, _RECORD_REQUESTS):
            require_vector_index(index)  # namespaces and stats serve document indexes too
        if request.ByteSize() > MAX_REQUEST_BYTES:
            raise request_too_large(request.ByteSize())
        return body(request, _Call(index, self._svc))

    # -- methods: request -> service -> reply, mirroring api/rest/vectors.py --------

    def upsert(self, req: pb.UpsertRequest, call: _Call) -> tuple[pb.UpsertResponse, Metadata]:
        vectors = [convert.record_dict(v) for v in req.vectors]
        ns = namespace_name(req.namespace)
        lsn, count = call.svc.data.upsert(call.index, ns, vectors)
        return pb.UpsertResponse(upserted_count=count), ((_LSN, str(lsn)),)

    def query(self, req: pb.QueryRequest, call: _Call) -> tuple[pb.QueryResponse, Metadata]:
        if len(req.queries):
            raise InvalidArgument("The deprecated 'queries' field is not supported; use vector")
        ns = namespace_name(req.namespace)
        result = call.svc.data.query(
            call.index,
            ns,
            top_k=req.top_k,
            vector=list(req.vector) or None,
            sparse_vector=(
                convert.sparse_dict(req.sparse_vector) if _optional(req, "sparse_vector") else None
            ),
            id=req.id or None,
            filter=convert.from_struct(req.filter) if _optional(req, "filter") else None,
            include_values=req.include_values,
            include_metadata=req.include_metadata,
        )
        reply = pb.QueryResponse(namespace=result.namespace)
        for match in result.matches:
            convert.scored_vector(match, reply.matches.add())
        reply.usage.read_units = result.read_units
        return reply, ((_MAX_LSN, str(result.lsn)),)

    def fetch(self, req: pb.FetchRequest, call: _Call) -> tuple[pb.FetchResponse, Metadata]:
        ns = namespace_name(req.namespace)
        ids = list(req.ids)
        records, lsn = call.svc.data.fetch(call.index, ns, ids)
        reply = pb.FetchResponse(namespace=ns)
        for rid, record in records.items():
            convert.vector(record, reply.vectors[rid])
        reply.usage.read_units = max(1, (len(ids) + 9) // 10)
        return reply, ((_MAX_LSN, str(lsn)),)

    def update(self, req: pb.UpdateRequest, call: _Call) -> tuple[pb.UpdateResponse, Metadata]:
        by_filter = _optional(req, "filter")
        lsn, matched = call.svc.data.update(
            call.index,
            namespace_name(req.namespace),
            id=req.id or None,
            values=list(req.values) or None,
            sparse_values=(
                convert.sparse_dict(req.sparse_values) if _optional(req, "sparse_values") else None
            ),
            set_metadata=(
                convert.from_struct(req.set_metadata) if _optional(req, "set_metadata") else None
            ),
            filter=convert.from_struct(req.filter) if by_filter else None,
            dry_run=req.dry_run,
        )
        reply = pb.UpdateResponse(matched_records=matched) if by_filter else pb.UpdateResponse()
        return reply, ((_LSN, str(lsn)),)

    def delete(self, req: pb.DeleteRequest, call: _Call) -> tuple[pb.DeleteResponse, Metadata]:
        lsn = call.svc.data.delete(
            call.index,
            namespace_name(req.namespace),
            ids=list(req.ids) or None,
            delete_all=req.delete_all,
            filter=convert.from_struct(req.filter) if _optional(req, "filter") else None,
        )
        return pb.DeleteResponse(), ((_LSN, str(lsn)),)

    def list(self, req: pb.ListRequest, call: _Call) -> tuple[pb.ListResponse, Metadata]:
        page = call.svc.data.list_ids(
            call.index,
            namespace_name(req.namespace),
            prefix=req.prefix,
            limit=req.limit if _optional(req, "limit") else 100,
            token=req.pagination_token or None,
        )
        reply = pb.ListResponse(namespace=page.namespace)
        reply.vectors.extend(pb.ListItem(id=i) for i in page.ids)
        if page.next_token:
            reply.pagination.next = page.next_token
        reply.usage.read_units = 1
        return reply, ((_MAX_LSN, str(page.lsn)),)

    def describe_index_stats(
        self, req: pb.DescribeIndexStatsRequest, call: _Call
    ) -> tuple[pb.DescribeIndexStatsResponse, Metadata]:
        stats = call.svc.data.stats(
            call.index, convert.from_struct(req.filter) if _optional(req, "filter") else None
        )
        reply = pb.DescribeIndexStatsResponse(
            index_fullness=stats.index_fullness,
            total_vector_count=stats.total,
            metric=stats.metric,
            vector_type=stats.vector_type,
        )
        for name, count in stats.namespaces.items():
            reply.namespaces[name].vector_count = count
        if stats.dimension is not None:
            reply.dimension = stats.dimension
        if stats.storage_fullness is not None:  # dedicated read nodes
            reply.memory_fullness = stats.memory_fullness or 0.0
            reply.storage_fullness = stats.storage_fullness
        return reply, ()

    def list_namespaces(
        self, req: pb.ListNamespacesRequest, call: _Call
    ) -> tuple[pb.ListNamespacesResponse, Metadata]:
        page = call.svc.data.namespaces_page(
            call.index,
            prefix=req.prefix,
            limit=req.limit if _optional(req, "limit") else 100,
            token=req.pagination_token or None,
        )
        reply = pb.ListNamespacesResponse(total_count=page.total)
        reply.namespaces.extend(convert.namespace_description(ns) for ns in page.namespaces)
        if page.next_token:
            reply.pagination.next = page.next_token
        return reply, ()

    def describe_namespace(
        self, req: pb.DescribeNamespaceRequest, call: _Call
    ) -> tuple[pb.NamespaceDescription, Metadata]:
        info = call.svc.data.describe_namespace(call.index, namespace_name(req.namespace))
        return convert.namespace_description(info), ()

    def create_namespace(
        self, req: pb.CreateNamespaceRequest, call: _Call
    ) -> tuple[pb.NamespaceDescription, Metadata]:
        if not req.name:
            raise InvalidArgument("Namespace name must be a non-empty string")
        schema = convert.schema_dict(req.schema) if req.HasField("schema") else None
        info = call.svc.data.create_namespace(call.index, req.name, schema)
        return convert.namespace_description(info), ()

    def delete_namespace(
        self, req: pb.DeleteNamespaceRequest, call: _Call
    ) -> tuple[pb.DeleteResponse, Metadata]:
        call.svc.data.delete_namespace(call.index, namespace_name(req.namespace))
        return pb.DeleteResponse(), ()

    def fetch_by_metadata(
        self, req: pb.FetchByMetadataRequest, call: _Call
    ) -> tuple[pb.FetchByMetadataResponse, Metadata]:
        page = call.svc.data.fetch_by_metadata(
            call.index,
            namespace_name(req.namespace),
            filter=convert.from_struct(req.filter) if _optional(req, "filter") else None,
            limit=req.limit if _optional(req, "limit") else None,
            token=req.pagination_token or None,
        )
        reply = pb.FetchByMetadataResponse(namespace=page.namespace)
        for record in page.records:
            convert.vector(record, reply.vectors[record.id])
        if page.next_token:
            reply.pagination.next = page.next_token
        reply.usage.read_units = page.read_units
        return reply, ((_MAX_LSN, str(page.lsn)),)
