"""The gRPC data plane: Pinecone's ``VectorService`` over grpc.aio, reached through
each index's own port (see ``ports``)."""

from spruce.api.grpc.ports import IndexPorts
from spruce.api.grpc.server import GrpcServer

__all__ = ["GrpcServer", "IndexPorts"]
