"""The storage and query engine of one index's namespaces, in four parts.

- ``write``: the namespace writer (WAL, memtable, working state, validation) and the
  store of all namespaces of an index; bulk building for imports.
- ``read``: snapshots and the one read path every reader uses (writer, follower,
  replica), scoring, filters, metadata/sparse/HNSW indexes, shards.
- ``disk``: on-disk formats (docs/FORMAT.md), recovery and leftovers, fsync helpers.
- ``background``: flush, compaction and the worker threads that run them.

``options`` (engine tuning) is shared by all four.
"""
