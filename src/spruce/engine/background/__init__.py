"""Background work: flush and compaction of a writer's namespace, and the
process-wide worker threads and timers that run them.

Imports nothing, so that modules of the sibling packages can import each other freely.
"""
