"""The import job runner: one background thread that takes jobs in creation order.

A job goes Pending -> InProgress -> Completed | Failed | Cancelled:
1. plan: list the URI, check layout, limits and every file's footer and schema;
2. check that no target namespace exists (the default one may exist if empty);
3. load each namespace into its own staging directory (``engine.bulk``), recording in
   the job's checkpoint which namespaces are complete;
4. publish: rename every staged namespace into the index at once (``IndexStore.adopt``).

Nothing is visible in the index before step 4, and a cancel (or failure) removes the
staging directory, so an import never leaves a partial namespace. After a restart,
unfinished jobs run again: namespaces the checkpoint records as complete are kept, the
others are rebuilt, and a job that was publishing finishes publishing.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from spruce import observe
from spruce.catalog import Catalog, IndexRow
from spruce.catalog.imports import (
    ACTIVE,
    COMPLETED,
    FAILED,
    PENDING,
    PUBLISHING,
    ImportCatalog,
    ImportJob,
)
from spruce.engine.disk.fsutil import remove_tree
from spruce.engine.write.bulk import NamespaceBuilder
from spruce.engine.write.store import IndexStore
from spruce.errors import InvalidArgument, NotFound
from spruce.imports.loader import LoadStopped, NamespaceLoader
from spruce.imports.messages import NAMESPACE_EXISTS, JobError
from spruce.imports.plan import ImportLimits, IndexShape, NamespacePlan, discover, read_footers
from spruce.imports.sources import (
    ObjectStores,
    check_local,
    check_local_files,
    open_filesystem,
    parse_uri,
)
from spruce.types import DEFAULT_NAMESPACE

__all__ = ["ImportRunner", "RunnerConfig"]

log = logging.getLogger("spruce.imports")

# How often progress reaches the catalog while a namespace loads.
_PROGRESS_SECONDS = 0.5


@dataclass(frozen=True)
class RunnerConfig:
    staging: Path  # on the same filesystem as the index roots (publishing renames)
    stores: ObjectStores
    limits: ImportLimits
    segment_rows: int = 25_000
    #: Testing aid: sleep this long after each batch, to catch a job mid-flight.
    batch_delay: float = 0.0
    #: Local paths are imported only from under these (resolved) directories.
    local_roots: tuple[Path, ...] = ()


class _Job:
    """A running job's counters, and the check that it should keep going."""

    def __init__(self, runner: ImportRunner, job: ImportJob, total_rows: int) -> None:
        self.runner = runner
        self.job = job
        self.total_rows = max(total_rows, 1)
        self.rows_done = 0
        self.records = 0
        self.last_saved = 0.0

    def check(self) -> None:
        if self.runner._stopping.is_set() or self.job.id in self.runner._cancelled:
            raise LoadStopped

    def on_batch(self, rows: int, records: int) -> None:
        self.rows_done += rows
        self.records += records
        observe.record("import", 0.0, records)
        if self.runner.config.batch_delay:
            time.sleep(self.runner.config.batch_delay)
        self.check()
        now = time.monotonic()
        if now - self.last_saved >= _PROGRESS_SECONDS:
            self.save()

    def save(self, checkpoint: dict[str, Any] | None = None) -> None:
        self.last_saved = time.monotonic()
        percent = round(min(100.0, 100.0 * self.rows_done / self.total_rows), 2)
        self.runner.jobs.progress(self.job.id, percent, self.records, checkpoint)


class ImportRunner:
    def __init__(
        self,
        jobs: ImportCatalog,
        catalog: Catalog,
        store_for: Callable[[IndexRow], IndexStore],
        config: RunnerConfig,
    ) -> None:
        self.jobs = jobs
        self.catalog = catalog
        self.store_for = store_for
        self.config = config
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._stopping = threading.Event()
        self._cancelled: set[str] = set()
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        """Resume unfinished jobs, drop staging left by finished ones, start the thread."""
        active = self.jobs.active_jobs()
        keep = {job.id for job in active}
        if self.config.staging.is_dir():
            for entry in self.config.staging.iterdir():
                if entry.name not in keep:
                    remove_tree(entry)
        for job in active:
            self._queue.put(job.id)
        self._thread = threading.Thread(target=self._loop, name="spruce-imports", daemon=True)
        self._thread.start()

    def submit(self, job_id: str) -> None:
        self._queue.put(job_id)

    def cancel(self, job_id: str) -> None:
        """Stop a job the catalog already marks Cancelled, at its next batch."""
        self._cancelled.add(job_id)

    def close(self, timeout: float = 10.0) -> None:
        """Stop between batches; an unfinished job stays InProgress and resumes next start."""
        self._stopping.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            job_id = self._queue.get()
            if job_id is None:
                return
            try:
                self._run(job_id)
            except Exception:  # the thread must survive any one job
                log.exception("import %s: runner error", job_id)

    # -- one job ---------------------------------------------------------------

    def _staging(self, job: ImportJob) -> Path:
        return self.config.staging / job.id

    def _run(self, job_id: str) -> None:
        job = self.jobs.job(job_id)
        if job is None or job.status not in ACTIVE or job_id in self._cancelled:
            if job is not None:
                remove_tree(self._staging(job))
            return
        if job.status == PENDING and not self.jobs.start(job_id):
            return
        started = time.monotonic()
        try:
            records = self._execute(job)
        except LoadStopped:
            if not self._stopping.is_set():  # cancelled: leave nothing behind
                remove_tree(self._staging(job))
            return
        except JobError as exc:
            log.info("import %s failed: %s", job_id, exc)
            self.jobs.finish(job_id, FAILED, error=str(exc))
            remove_tree(self._staging(job))
            return
        except Exception as exc:
            log.exception("import %s: internal error", job_id)
            self.jobs.finish(job_id, FAILED, error=f"Internal error: {exc}")
            remove_tree(self._staging(job))
            return
        seconds = time.monotonic() - started
        log.info(
            "import %s completed: %d records in %.2f s (%.0f records/s)",
            job_id,
            records,
            seconds,
            records / max(seconds, 1e-9),
        )

    def _resolve(self, job: ImportJob) -> IndexRow:
        for row in self.catalog.list_indexes(job.project_id):
            if row.uid == job.index_uid:
                return row
        raise JobError("The index of this import was deleted")

    def _execute(self, job: ImportJob) -> int:
        index = self._resolve(job)
        if job.phase == PUBLISHING:
            return self._publish(job, index)
        source = parse_uri(job.uri)
        try:  # again: the roots or the files may have changed since the job started
            check_local(source, self.config.local_roots)
        except InvalidArgument as exc:
            raise JobError(exc.message) from None
        credentials = None
        if job.integration_id:
            try:
                credentials = self.jobs.integration(job.project_id, job.integration_id).config
            except NotFound:
                raise JobError(f"Storage integration {job.integration_id} not found") from None
        fs = open_filesystem(source, self.config.stores, credentials)
        shape = IndexShape(index.dimension, index.metric, index.vector_type)
        plans = discover(fs, source, self.config.limits)
        try:
            check_local_files(
                source, self.config.local_roots, (f.path for p in plans for f in p.files)
            )
        except InvalidArgument as exc:
            raise JobError(exc.message) from None
        read_footers(fs, plans, shape)
        self._check_targets(self.store_for(index), [p.name for p in plans])
        state = _Job(self, job, sum(p.rows for p in plans))
        state.check()
        done: dict[str, dict[str, Any]] = dict(job.checkpoint.get("done", {}))
        for number, plan in enumerate(plans):
            entry = done.get(plan.name)
            if entry is not None and (self._staging(job) / entry["dir"]).is_dir():
                state.rows_done += plan.rows
                state.records += int(entry["records"])
                continue
            records = self._load(job, state, fs, shape, plan, str(number))
            done[plan.name] = {"dir": str(number), "records": records}
            state.save({"done": done})
        if not self.jobs.begin_publish(job.id):
            raise LoadStopped  # a cancel came first
        job.checkpoint = {"done": done}
        return self._publish(job, index)

    def _check_targets(self, store: IndexStore, names: list[str]) -> None:
        existing = set(store.names())
        for name in names:
            if name not in existing:
                continue
            if name == DEFAULT_NAMESPACE and not store.count(name):
                continue  # "The default namespace must be empty"
            raise JobError(NAMESPACE_EXISTS.format(namespace=name))

    def _load(
        self,
        job: ImportJob,
        state: _Job,
        fs: pafs.FileSystem,
        shape: IndexShape,
        plan: NamespacePlan,
        directory: str,
    ) -> int:
        path = self._staging(job) / directory
        remove_tree(path)  # a partial build from before a restart
        path.parent.mkdir(parents=True, exist_ok=True)
        builder = NamespaceBuilder(
            path,
            dimension=shape.dimension,
            metric=shape.metric,
            segment_rows=self.config.segment_rows,
        )
        loader = NamespaceLoader(
            plan,
            builder,
            shape,
            abort_on_error=job.error_mode == "abort",
            on_batch=state.on_batch,
        )
        try:
            loader.load(fs)
            return builder.finish()
        except BaseException:
            builder.abort()
            raise

    def _publish(self, job: ImportJob, index: IndexRow) -> int:
        index = self._resolve(job)  # not into an index deleted while this job loaded
        done: dict[str, dict[str, Any]] = job.checkpoint.get("done", {})
        staged = {
            name: self._staging(job) / entry["dir"]
            for name, entry in done.items()
            if (self._staging(job) / entry["dir"]).is_dir()
        }
        # A staged directory already gone was published before a restart cut this short.
        store = self.store_for(index)
        conflict = store.adopt(staged, replace_if_empty=(DEFAULT_NAMESPACE,))
        if conflict is not None:
            raise JobError(NAMESPACE_EXISTS.format(namespace=conflict))
        records = sum(int(entry["records"]) for entry in done.values())
        self.jobs.finish(job.id, COMPLETED, records=records)
        remove_tree(self._staging(job))
        for name in staged:
            # Opening a namespace schedules its background compaction, which merges the
            # imported segments and builds their HNSW index while queries already work.
            store.get(name, create=False)
        return records
