"""The write path: the namespace writer, its working state, memtable, WAL and the
checks done before anything is logged; all namespaces of an index; bulk building.

Imports nothing, so that modules of the sibling packages can import each other freely.
"""
