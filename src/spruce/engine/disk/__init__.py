"""On-disk formats and recovery: segments, the manifest, the NAMESPACE and COUNT
files, opening a directory, leftovers, durable-filesystem helpers, shipping to
object storage (byte by byte in docs/FORMAT.md).

Imports nothing, so that modules of the sibling packages can import each other freely.
"""
