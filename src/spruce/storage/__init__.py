"""Object storage for scale-out: blobs on S3 (or a local directory) and a writer lease.

``BlobStore`` is what the rest of Spruce asks of a bucket; ``open_store`` makes one for
``s3://bucket/prefix`` or ``file:///path`` (both through obstore). ``Lease`` gives one
writer at a time a namespace, with conditional PUTs. docs/READ_CAPACITY.md shows how
replicas on other hosts use them.
"""

from spruce.storage.blob import BlobStore, StoreOptions, open_store
from spruce.storage.lease import Lease

__all__ = ["BlobStore", "Lease", "StoreOptions", "open_store"]
