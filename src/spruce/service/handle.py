"""What the data plane needs of a namespace, whoever serves it.

An on-demand index's namespace is the engine's ``Namespace`` itself; a dedicated
index's is routed (``read_capacity/routing.py``) that sends writes to the
writer and reads to replicas. Both satisfy this protocol, so ``DataPlane`` is written
once for both, and the dedicated one is composed, not proxied.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from spruce.engine.read.filters import Filter
from spruce.engine.read.view import View
from spruce.types import Match, Metadata, Record, SparseVector, Vector

__all__ = ["NamespaceHandle"]


class NamespaceHandle(Protocol):
    @property
    def lsn(self) -> int: ...

    def upsert(self, records: Sequence[Record]) -> int: ...

    def update(
        self,
        id: str,
        *,
        values: Vector | None = None,
        sparse: SparseVector | None = None,
        set_metadata: Metadata | None = None,
    ) -> tuple[int, bool]: ...

    def update_where(self, filter: Filter, set_metadata: Metadata) -> tuple[int, int]: ...

    def delete(self, ids: Sequence[str]) -> int: ...

    def delete_where(self, filter: Filter) -> tuple[int, int]: ...

    def fetch(self, ids: Sequence[str]) -> dict[str, Record]: ...

    def fetch_where(
        self, filter: Filter, *, limit: int = 100, after: str | None = None
    ) -> list[Record]: ...

    def query(
        self,
        vector: Vector | None,
        *,
        top_k: int,
        filter: Filter | None = None,
        sparse: SparseVector | None = None,
        include_values: bool = False,
        include_metadata: bool = False,
    ) -> list[Match]: ...

    def list_ids(
        self, *, prefix: str = "", limit: int = 100, after: str | None = None
    ) -> list[str]: ...

    def count(self, filter: Filter | None = None) -> int: ...

    def read_view(self) -> View: ...
