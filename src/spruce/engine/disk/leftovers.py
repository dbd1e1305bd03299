"""What recovery may remove, and what it must only move aside.

Recovery deletes a file or directory only when it can prove that it is a leftover of
Spruce's own interrupted work and that nothing is lost with it:

- names starting with ``.``: temporaries (``.tmp-<hex>``) that nothing ever reads;
- a flush segment ``<L>`` the manifest does not name, with ``L`` above the manifest's
  flushed LSN and at most the last LSN in the WAL: the flush never committed, and every
  row it holds is still in the WAL (a segment above the WAL's last LSN means the WAL
  lost acknowledged writes: ``Corruption``);
- a compaction output ``<P>-c<hex>`` whose ``SOURCES`` (the segments it merged) are all
  still named: the compaction never committed, and its inputs hold every row;
- a directory the manifest lists in ``obsolete``: its commit dropped it (merged, or no
  live row left) and a crash came before the cleanup;
- a deletion bitmap of a named segment older than the one named (a newer bitmap holds
  every deletion of an older one), or above the flushed LSN (an uncommitted flush).

Anything else the manifest does not name (a segment from a newer manifest that was
replaced by an older copy, a file an operator put there) is moved to the namespace's
``quarantine/`` directory and logged, never removed. docs/RELIABILITY.md describes it.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from spruce.engine.disk.fsutil import fsync_dir, remove_tree
from spruce.engine.disk.manifest import MANIFEST, Manifest
from spruce.engine.disk.segment import read_sources
from spruce.errors import Corruption

__all__ = ["QUARANTINE", "Plan", "apply", "classify"]

log = logging.getLogger(__name__)

QUARANTINE = "quarantine"
_FLUSH = re.compile(r"[0-9]{20}")
_COMPACTED = re.compile(r"[0-9]{20}-c[0-9a-f]{8}")
_DELETES = re.compile(r"deletes-([0-9]{20})\.roaring")


@dataclass
class Plan:
    """What recovery found besides the named state: provable leftovers and the rest."""

    remove: list[Path] = field(default_factory=list)
    quarantine: list[Path] = field(default_factory=list)


def classify(root: Path, manifest: Manifest, last_lsn: int) -> Plan:
    """Sort what ``manifest`` does not name; ``last_lsn``: the WAL's last LSN (or the
    flushed LSN). Raises ``Corruption`` (and changes nothing) if a leftover proves that
    acknowledged writes are missing from the WAL."""
    plan = Plan()
    flushed = manifest.flushed_lsn
    named = {e.name: e for e in manifest.segments}
    obsolete = set(manifest.obsolete) - named.keys()
    segments = root / "segments"
    for name in named:
        if not (segments / name).is_dir():
            raise Corruption(f"{segments / name}: named by the manifest but missing")
    for path in sorted(segments.iterdir()):
        name = path.name
        entry = named.get(name)
        if entry is not None:
            _classify_segment_files(path, entry.deletes, flushed, last_lsn, plan)
        elif name.startswith(".") or name in obsolete:
            plan.remove.append(path)
        elif _FLUSH.fullmatch(name) and int(name) > flushed:
            if int(name) > last_lsn:
                raise Corruption(
                    f"{path}: unpublished segment of LSN {int(name)}, but the WAL ends at "
                    f"LSN {last_lsn}: acknowledged writes are missing from the WAL"
                )
            plan.remove.append(path)
        elif _COMPACTED.fullmatch(name) and _redundant_merge(path, named.keys()):
            plan.remove.append(path)
        else:
            plan.quarantine.append(path)
    for path in sorted((root / "manifest").iterdir()):
        if path.name == MANIFEST:
            continue
        (plan.remove if path.name.startswith(".") else plan.quarantine).append(path)
    return plan


def _redundant_merge(path: Path, named: Collection[str]) -> bool:
    sources = read_sources(path)
    return sources is not None and bool(sources) and all(s in named for s in sources)


def _classify_segment_files(
    directory: Path, current: str | None, flushed: int, last_lsn: int, plan: Plan
) -> None:
    current_lsn = None
    if current is not None and (m := _DELETES.fullmatch(current)) is not None:
        current_lsn = int(m.group(1))
    for file in sorted(directory.iterdir()):
        if file.name.startswith("."):
            plan.remove.append(file)
            continue
        match = _DELETES.fullmatch(file.name)
        if match is None or file.name == current:
            continue
        lsn = int(match.group(1))
        if lsn > flushed:
            if lsn > last_lsn:
                raise Corruption(
                    f"{file}: unpublished bitmap of LSN {lsn}, but the WAL ends at LSN "
                    f"{last_lsn}: acknowledged writes are missing from the WAL"
                )
            plan.remove.append(file)  # an uncommitted flush's
        elif current_lsn is not None and lsn < current_lsn:
            plan.remove.append(file)  # superseded by the named, newer bitmap
        else:
            plan.quarantine.append(file)


def apply(root: Path, plan: Plan) -> None:
    """Remove the leftovers; move everything else to ``quarantine/`` and log it."""
    for path in plan.remove:
        remove_tree(path)
    if plan.quarantine:
        target = root / QUARANTINE
        if not target.is_dir():
            target.mkdir()
            fsync_dir(root)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        for path in plan.quarantine:
            relative = path.relative_to(root)
            moved = target / f"{stamp}-{'-'.join(relative.parts)}"
            n = 1
            while moved.exists():
                n += 1
                moved = target / f"{stamp}-{'-'.join(relative.parts)}-{n}"
            os.rename(path, moved)
            fsync_dir(path.parent)
            log.warning(
                "recovery: %s is not named by %s and not provably a leftover of an "
                "interrupted flush or compaction; moved to %s (nothing was deleted)",
                path,
                root / "manifest" / MANIFEST,
                moved,
            )
        fsync_dir(target)
    for directory in {p.parent for p in plan.remove}:
        fsync_dir(directory)
