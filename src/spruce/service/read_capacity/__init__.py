"""Dedicated read nodes (Pinecone's read capacity), one concern in one package.

- ``spec``: the API shape of ``read_capacity``, its validation and cost.
- ``nodes``: each index's requested vs applied capacity, and the state machine that
  moves one to the other (Migrating, Scaling, paused, ready).
- ``replicas`` and ``fleet``: the replica processes of an index, started, reshaped,
  drained and replaced; picking one replica per shard for each read.
- ``routing``: the data plane of a dedicated index (writes to the writer, reads to the
  replicas), composed over the on-demand one.
- ``protocol``: what the server and its replicas say to each other.
- ``accounting``: what each shard stores against its capacity (fullness, limits).
- ``shipping``: publishing namespaces to object storage for replicas on other hosts.

Modules import each other directly; this file imports nothing, so that a replica
process (which needs only ``protocol``) does not load the rest.
"""
