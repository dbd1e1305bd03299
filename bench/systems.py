"""One adapter per system under test: load a dataset, set a recall knob, search.

Every adapter returns row numbers (positions in the dataset) so recall is computed the
same way for all. ``knobs`` lists the search-effort settings tried, cheapest first; the
runner picks the cheapest that reaches the recall target on a calibration slice.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from data import Dataset

REPO = Path(__file__).resolve().parent.parent
# The server runs from the project's own venv (all runtime deps); the SDK from bench's.
SERVER_PY = Path(os.environ.get("SPRUCE_SERVER_PYTHON", REPO / ".venv" / "bin" / "python"))
BATCH = 1000


class System:
    name = "?"
    knobs: list[int] = [0]
    server = False

    def __init__(self, ds: Dataset, workdir: Path) -> None:
        self.ds = ds
        self.workdir = workdir
        self.knob = self.knobs[0]

    def ingest(self) -> float:
        """Insert everything; returns seconds (the index may still be building)."""
        raise NotImplementedError

    def wait_built(self) -> float:
        """Block until the index is complete; returns seconds waited."""
        return 0.0

    def search(self, q: npt.NDArray[np.float32], k: int, selectivity: float) -> list[int]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def server_pid(self) -> int | None:
        return None


# -- library baselines ----------------------------------------------------------


class NumpyExact(System):
    name = "numpy-exact"

    def ingest(self) -> float:
        t = time.perf_counter()
        self.x = np.ascontiguousarray(self.ds.vectors)
        self.masks = {s: self.ds.allowed(s) for s in (0.001, 0.01, 0.1, 0.5)}
        self.rows = {s: np.flatnonzero(m) for s, m in self.masks.items()}
        self.sub = {s: self.x[r] for s, r in self.rows.items()}
        return time.perf_counter() - t

    def search(self, q: npt.NDArray[np.float32], k: int, selectivity: float) -> list[int]:
        if selectivity >= 1.0:
            s = self.x @ q
            top = np.argpartition(-s, k)[:k]
            return top[np.argsort(-s[top])].tolist()
        s = self.sub[selectivity] @ q
        kk = min(k, s.size)
        top = np.argpartition(-s, kk - 1)[:kk]
        return self.rows[selectivity][top[np.argsort(-s[top])]].tolist()


class FaissHnsw(System):
    """Raw faiss HNSW (M16, efConstruction 80) in one process: the library's limit.
    Filters use an IDSelectorBitmap at the same efSearch (faiss does not widen it)."""

    name = "faiss-hnsw"
    knobs = [32, 48, 64, 96, 128, 192, 256, 384, 512]

    def ingest(self) -> float:
        import faiss

        t = time.perf_counter()
        self.index = faiss.IndexHNSWFlat(self.ds.vectors.shape[1], 16, faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = 80
        for lo in range(0, len(self.ds.vectors), 65536):
            self.index.add(np.ascontiguousarray(self.ds.vectors[lo : lo + 65536]))
        self.bits = {}
        for s in (0.001, 0.01, 0.1, 0.5):
            self.bits[s] = np.packbits(self.ds.allowed(s), bitorder="little")
        faiss.omp_set_num_threads(1)
        return time.perf_counter() - t

    def search(self, q: npt.NDArray[np.float32], k: int, selectivity: float) -> list[int]:
        import faiss

        faiss.omp_set_num_threads(1)
        if selectivity >= 1.0:
            params = faiss.SearchParametersHNSW(efSearch=max(self.knob, k))
        else:
            bits = self.bits[selectivity]
            sel = faiss.IDSelectorBitmap(len(self.ds.vectors), faiss.swig_ptr(bits))
            params = faiss.SearchParametersHNSW(sel=sel, efSearch=max(self.knob, k))
        _, labels = self.index.search(q.reshape(1, -1), k, params=params)
        return [int(i) for i in labels[0] if i >= 0]


# -- Spruce -----------------------------------------------------------------------


class SpruceInProcess(System):
    """The engine's Namespace API directly (what the server calls)."""

    name = "spruce-inproc"
    storage = "f32"
    knobs = [32, 48, 64, 96, 128, 192, 256]

    def ingest(self) -> float:
        from spruce.engine.write.namespace import Namespace
        from spruce.engine.options import EngineOptions
        from spruce.types import Record

        self.opts = EngineOptions()
        if self.storage != "f32":
            import dataclasses

            hnsw = dataclasses.replace(self.opts.hnsw, storage=self.storage)
            self.opts = dataclasses.replace(self.opts, hnsw=hnsw)
        self.ns = Namespace.open(
            self.workdir / "ns",
            dimension=self.ds.vectors.shape[1],
            metric="cosine",
            options=self.opts,
        )
        self.index = {id: i for i, id in enumerate(self.ds.ids)}
        t = time.perf_counter()
        for lo in range(0, len(self.ds.ids), BATCH):
            hi = min(lo + BATCH, len(self.ds.ids))
            vectors = np.ascontiguousarray(self.ds.vectors[lo:hi])
            self.ns.upsert(
                [
                    Record(self.ds.ids[i], vectors[i - lo], None, self.ds.metadata(i))
                    for i in range(lo, hi)
                ]
            )
        return time.perf_counter() - t

    def wait_built(self) -> float:
        t = time.perf_counter()
        self.ns.compact()  # what the server's idle compaction does on its own
        return time.perf_counter() - t

    def search(self, q: npt.NDArray[np.float32], k: int, selectivity: float) -> list[int]:
        from spruce.engine.read.filters import parse_filter

        f = self._filters.get(selectivity) if hasattr(self, "_filters") else None
        if not hasattr(self, "_filters"):
            self._filters = {
                s: parse_filter(self.ds.filter_for(s)) for s in (0.001, 0.01, 0.1, 0.5, 1.0)
            }
            f = self._filters[selectivity]
        return [self.index[m.id] for m in self.ns.query(q, top_k=k, filter=f)]

    def set_knob(self, knob: int) -> None:
        import dataclasses

        self.knob = knob
        self.ns._options = dataclasses.replace(
            self.ns._options, search=dataclasses.replace(self.ns._options.search, ef_search=knob)
        )

    def close(self) -> None:
        self.ns.close()


class SpruceInProcessSq8(SpruceInProcess):
    """The same with 8-bit graph storage (SPRUCE_VECTOR_STORAGE=sq8), re-ranked exactly."""

    name = "spruce-inproc-sq8"
    storage = "sq8"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SpruceServer(System):
    """`spruce serve` in its own process, driven by the official pinecone SDK (REST)."""

    name = "spruce-server"
    server = True
    knobs = [32, 48, 64, 96, 128, 192, 256]

    def _start(self, ef: int) -> None:
        env = dict(os.environ, SPRUCE_HNSW_EF_SEARCH=str(ef), SPRUCE_COMPACT_IDLE_S="5")
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [
                str(SERVER_PY),
                "-m",
                "spruce.cli",
                "serve",
                "--data-dir",
                str(self.workdir / "data"),
                "--port",
                str(self.port),
                "--api-key",
                "bench-key",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.workdir / "server.log", "ab"),
        )
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        from pinecone import Pinecone

        self.pc = Pinecone(api_key="bench-key", host=f"http://127.0.0.1:{self.port}")

    def _stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)

    # Pinecone caps a request at 2 MB: 200 x 384-d vectors as JSON.
    batch = 200

    def _send(self, lo: int) -> None:
        hi = min(lo + self.batch, len(self.ds.ids))
        vecs = self.ds.vectors[lo:hi].tolist()
        self.idx.upsert(
            vectors=[
                {"id": self.ds.ids[i], "values": vecs[i - lo], "metadata": self.ds.metadata(i)}
                for i in range(lo, hi)
            ]
        )

    def ingest(self) -> float:
        from concurrent.futures import ThreadPoolExecutor

        from pinecone import ServerlessSpec

        self._start(self.knob)
        self.pc.create_index(
            name="bench",
            dimension=self.ds.vectors.shape[1],
            metric="cosine",
            spec=ServerlessSpec(cloud="aws", region="us-east-1"),
        )
        self.host = self.pc.describe_index("bench").host
        self.idx = self.client()
        t = time.perf_counter()
        # Four client threads keep the server busy while the SDK encodes requests.
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(self._send, range(0, len(self.ds.ids), self.batch)))
        self.index = {id: i for i, id in enumerate(self.ds.ids)}
        return time.perf_counter() - t

    def wait_built(self) -> float:
        """Idle compaction merges everything into one HNSW segment; watch the manifest."""
        import json as _json

        t = time.perf_counter()
        manifests = list((self.workdir / "data").rglob("MANIFEST"))
        while True:
            manifests = [m for m in (self.workdir / "data").rglob("manifest/MANIFEST")]
            done = False
            for m in manifests:
                raw = m.read_bytes()
                # Format 3 manifests start with a "SPRCMANIFEST 3 <crc> <len>" line
                # (docs/FORMAT.md section 4); the JSON follows it.
                if raw.startswith(b"SPRCMANIFEST"):
                    raw = raw.partition(b"\n")[2]
                doc = _json.loads(raw)
                segs = doc["segments"]
                rows = sum(s["rows"] for s in segs)
                small = rows < int(os.environ.get("SPRUCE_HNSW_MIN_ROWS", 50_000))
                if len(segs) == 1 and (segs[0].get("ann") or small) and rows >= len(self.ds.ids):
                    done = True
            if done:
                return time.perf_counter() - t
            time.sleep(1)

    def set_knob(self, knob: int) -> None:
        if knob != self.knob:
            self.knob = knob
            self._stop()
            self._start(knob)
            self.idx = self.client()
            self.idx.describe_index_stats()

    def client(self) -> Any:
        return self.pc.Index(host=self.host)  # one SDK client per concurrent thread

    def search(
        self, q: npt.NDArray[np.float32], k: int, selectivity: float, idx: Any = None
    ) -> list[int]:
        res = (idx or self.idx).query(
            vector=q.tolist(), top_k=k, filter=self.ds.filter_for(selectivity)
        )
        return [self.index[m.id] for m in res.matches]

    def server_pid(self) -> int | None:
        return self.proc.pid

    def close(self) -> None:
        self._stop()


class SpruceServerGrpc(SpruceServer):
    """The same server driven by the SDK's gRPC client (``PineconeGRPC``): upserts of
    1,000 vectors (protobuf floats fit Pinecone's 2 MB cap) from 4 client threads."""

    name = "spruce-server-grpc"

    def _start(self, ef: int) -> None:
        super()._start(ef)
        from pinecone.grpc import PineconeGRPC

        self.gpc = PineconeGRPC(
            api_key="bench-key", host=f"http://127.0.0.1:{self.port}", grpc_scheme="http"
        )

    batch = BATCH  # protobuf floats: 1,000 x 384-d fit Pinecone's 2 MB cap

    def _send(self, lo: int) -> None:
        hi = min(lo + self.batch, len(self.ds.ids))
        vecs = self.ds.vectors[lo:hi].tolist()
        self.idx.upsert(
            vectors=[(self.ds.ids[i], vecs[i - lo], self.ds.metadata(i)) for i in range(lo, hi)]
        )

    def client(self) -> Any:
        return self.gpc.Index(host=self.host)


# -- peers --------------------------------------------------------------------------


class Chroma(System):
    """chromadb PersistentClient (its Rust core in-process), HNSW M16 efC80, cosine."""

    name = "chroma"
    # A changed ef_search reaches Chroma's cached index only after a reload, so the
    # collection is created with one setting that reaches the target on this data.
    knobs = [128]

    def ingest(self) -> float:
        import chromadb

        self.db = chromadb.PersistentClient(path=str(self.workdir / "chroma"))
        self.col = self.db.create_collection(
            "bench",
            configuration={
                "hnsw": {
                    "space": "cosine",
                    "ef_construction": 80,
                    "ef_search": self.knob,
                    "max_neighbors": 16,
                }
            },
        )
        step = min(self.db.get_max_batch_size(), 5000)
        t = time.perf_counter()
        for lo in range(0, len(self.ds.ids), step):
            hi = min(lo + step, len(self.ds.ids))
            self.col.add(
                ids=[str(i) for i in range(lo, hi)],
                embeddings=np.ascontiguousarray(self.ds.vectors[lo:hi]),
                metadatas=[{"bucket": int(self.ds.buckets[i])} for i in range(lo, hi)],
            )
        return time.perf_counter() - t

    def search(self, q: npt.NDArray[np.float32], k: int, selectivity: float) -> list[int]:
        f = self.ds.filter_for(selectivity)
        r = self.col.query(query_embeddings=q.reshape(1, -1), n_results=k, where=f, include=[])
        return [int(i) for i in r["ids"][0]]


class MilvusLite(System):
    """pymilvus MilvusClient on a local milvus-lite file (it runs a local server process),
    HNSW M16 efConstruction 80, COSINE."""

    name = "milvus-lite"
    server = True
    knobs = [32, 48, 64, 96, 128, 192, 256]

    def ingest(self) -> float:
        from pymilvus import DataType, MilvusClient

        self.mc = MilvusClient(str(self.workdir / "milvus.db"))
        schema = MilvusClient.create_schema(auto_id=False)
        schema.add_field("pk", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.ds.vectors.shape[1])
        schema.add_field("bucket", DataType.INT64)
        params = self.mc.prepare_index_params()
        params.add_index(
            field_name="vector",
            index_type="HNSW",
            metric_type="COSINE",
            params={"M": 16, "efConstruction": 80},
        )
        self.mc.create_collection("bench", schema=schema, index_params=params)
        t = time.perf_counter()
        for lo in range(0, len(self.ds.ids), 5000):
            hi = min(lo + 5000, len(self.ds.ids))
            vecs = self.ds.vectors[lo:hi].tolist()
            self.mc.insert(
                "bench",
                [
                    {"pk": i, "vector": vecs[i - lo], "bucket": int(self.ds.buckets[i])}
                    for i in range(lo, hi)
                ],
            )
        return time.perf_counter() - t

    def wait_built(self) -> float:
        t = time.perf_counter()
        self.mc.flush("bench")
        while True:
            info = self.mc.describe_index("bench", "vector")
            if info.get("pending_index_rows", 0) == 0 and info.get("indexed_rows", 0) >= len(
                self.ds.ids
            ):
                break
            time.sleep(1)
        self.mc.load_collection("bench")
        return time.perf_counter() - t

    def search(self, q: npt.NDArray[np.float32], k: int, selectivity: float) -> list[int]:
        sel = self.ds.filter_for(selectivity)
        expr = "" if sel is None else f"bucket < {sel['bucket']['$lt']}"  # type: ignore[index]
        r = self.mc.search(
            "bench",
            data=[q.tolist()],
            limit=k,
            filter=expr,
            search_params={"params": {"ef": max(self.knob, k)}},
        )
        return [int(h["pk"] if "pk" in h else h["id"]) for h in r[0]]

    def server_pid(self) -> int | None:
        import psutil

        for p in psutil.Process().children(recursive=True):
            if "milvus" in " ".join(p.cmdline()).lower():
                return p.pid
        return None


class LanceDB(System):
    """lancedb embedded, IVF_HNSW_SQ index (cosine), prefiltering; knob = ef."""

    name = "lancedb"
    knobs = [32, 48, 64, 96, 128, 192, 256, 384, 512]

    def ingest(self) -> float:
        import lancedb
        import pyarrow as pa

        self.db = lancedb.connect(str(self.workdir / "lance"))
        d = self.ds.vectors.shape[1]
        t = time.perf_counter()
        self.tbl = None
        for lo in range(0, len(self.ds.ids), 100_000):
            hi = min(lo + 100_000, len(self.ds.ids))
            flat = pa.array(np.ascontiguousarray(self.ds.vectors[lo:hi]).ravel())
            batch = pa.table(
                {
                    "rid": np.arange(lo, hi),
                    "vector": pa.FixedSizeListArray.from_arrays(flat, d),
                    "bucket": self.ds.buckets[lo:hi],
                }
            )
            if self.tbl is None:
                self.tbl = self.db.create_table("bench", batch)
            else:
                self.tbl.add(batch)
        return time.perf_counter() - t

    def wait_built(self) -> float:
        t = time.perf_counter()
        n = len(self.ds.ids)
        self.tbl.create_index(
            metric="cosine",
            vector_column_name="vector",
            index_type="IVF_HNSW_SQ",
            num_partitions=max(1, n // 100_000),
        )
        self.tbl.create_scalar_index("bucket")
        return time.perf_counter() - t

    def search(self, q: npt.NDArray[np.float32], k: int, selectivity: float) -> list[int]:
        s = self.tbl.search(q).distance_type("cosine").limit(k).ef(self.knob).select(["rid"])
        f = self.ds.filter_for(selectivity)
        if f is not None:
            s = s.where(f"bucket < {f['bucket']['$lt']}", prefilter=True)  # type: ignore[index]
        return [int(r["rid"]) for r in s.to_list()]


SYSTEMS = {
    c.name: c
    for c in (
        NumpyExact,
        FaissHnsw,
        SpruceInProcess,
        SpruceInProcessSq8,
        SpruceServer,
        SpruceServerGrpc,
        Chroma,
        MilvusLite,
        LanceDB,
    )
}


def workdir(name: str) -> Path:
    base = Path(os.environ.get("SPRUCE_BENCH_TMP", tempfile.gettempdir()))
    path = Path(tempfile.mkdtemp(prefix=f"bench-{name}-", dir=base))
    return path


def cleanup(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


__all__ = ["SYSTEMS", "System", "cleanup", "workdir"]
