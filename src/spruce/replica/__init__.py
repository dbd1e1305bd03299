"""A dedicated read replica: one process serving reads of one shard of one index.

Started by the server (``service/read_capacity/replicas.py``) as
``python -m spruce.replica``; it can also run on another host against a shared or
mirrored copy of the index directory (docs/READ_CAPACITY.md). It never writes to the
index: it follows the writer's files (``engine/read/follower.py``) and answers
``service/read_capacity/protocol.py`` requests.
"""

from spruce.replica.app import ReplicaApp, ShardReader

__all__ = ["ReplicaApp", "ShardReader"]
