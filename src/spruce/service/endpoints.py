"""Network endpoints an index gets beyond the main port.

The SDK's gRPC client drops the path of an index host and dials only its
port, so an index must own a port for gRPC to know which index a call is for.
The edge that owns sockets implements ``Endpoints``; the control plane only
asks it to open and close them and stores the port in the index's spec.
"""

from __future__ import annotations

from typing import Protocol

from spruce.catalog import IndexRow

__all__ = ["Endpoints"]


class Endpoints(Protocol):
    def open(self, row: IndexRow) -> int:
        """Serve ``row`` on a port (its stored ``spec["port"]`` if free) and return it."""
        ...

    def close(self, row: IndexRow) -> None:
        """Stop accepting connections for ``row``; unknown rows are ignored."""
        ...
