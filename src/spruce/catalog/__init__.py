"""Control-plane state in SQLite: projects, API keys and indexes."""

from spruce.catalog.store import Catalog, IndexRow

__all__ = ["Catalog", "IndexRow"]
