"""The read path: snapshots and the query/fetch/list/count code every reader shares,
scoring and top-k, the filter language, metadata, sparse and HNSW indexes, the
read-only follower and shards of dedicated indexes.

Imports nothing, so that modules of the sibling packages can import each other freely.
"""
