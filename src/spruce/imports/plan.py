"""Planning an import: which files go into which namespace, checked before any load.

Layout (Pinecone's): the URI is a prefix; each subdirectory below it is a namespace
(``__default__`` for the default one) and every ``*.parquet`` file under that
subdirectory, at any depth, is imported into it. Other files are ignored. Everything
that can be checked from listings and Parquet footers alone (layout, limits, columns
and their types) is checked here, so a bad import fails before it writes anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from spruce.imports.messages import (
    FILE_AS_URI,
    FOOTER,
    METADATA_TYPE,
    MISSING_COLUMN,
    NO_NAMESPACE,
    NO_PARQUET,
    SYSTEM_LIMIT,
    TYPE_MISMATCH,
    UNSUPPORTED_COLUMN,
    JobError,
    file_error,
)
from spruce.imports.sources import Source

__all__ = [
    "FilePlan",
    "ImportLimits",
    "IndexShape",
    "NamespacePlan",
    "check_schema",
    "discover",
    "open_parquet",
    "read_footers",
    "type_name",
]

_COLUMNS = ("id", "values", "sparse_values", "metadata")
_SPARSE_TYPE = "STRUCT<indices: LIST<UINT_32>, values: LIST<FLOAT>>"


@dataclass(frozen=True)
class ImportLimits:
    """Pinecone's per-import limits (docs: "Import limits")."""

    max_namespaces: int = 10_000
    max_files: int = 100_000
    max_file_bytes: int = 10 * 1000**3
    max_namespace_bytes: int = 500 * 1000**3


@dataclass(frozen=True)
class IndexShape:
    """What the target index accepts."""

    dimension: int | None
    metric: str
    vector_type: str  # "dense" or "sparse"


@dataclass
class FilePlan:
    path: str  # pyarrow.fs path
    display: str  # how messages name the whole file
    relative: str  # its path within the namespace directory, "/0.parquet"
    size: int
    rows: int = 0


@dataclass
class NamespacePlan:
    name: str
    files: list[FilePlan] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)


def _limit(detail: str) -> JobError:
    return JobError(SYSTEM_LIMIT.format(detail=detail))


def _list(fs: pafs.FileSystem, source: Source) -> list[pafs.FileInfo]:
    try:
        info = fs.get_file_info(source.root)
        if info.type == pafs.FileType.File:
            raise JobError(FILE_AS_URI.format(path=source.display(source.root)))
        selector = pafs.FileSelector(source.root, recursive=True, allow_not_found=True)
        return [i for i in fs.get_file_info(selector) if i.type == pafs.FileType.File]
    except OSError as exc:
        raise JobError(f'Could not list "{source.uri}": {exc}') from None


def discover(fs: pafs.FileSystem, source: Source, limits: ImportLimits) -> list[NamespacePlan]:
    """Namespaces and their Parquet files, sorted by name; enforces layout and limits."""
    prefix = source.root.rstrip("/") + "/"
    namespaces: dict[str, NamespacePlan] = {}
    files = sorted(
        (i for i in _list(fs, source) if i.path.endswith(".parquet")), key=lambda i: i.path
    )
    for info in files:
        relative = info.path[len(prefix) :] if info.path.startswith(prefix) else info.base_name
        name, sep, rest = relative.partition("/")
        if not sep:
            raise JobError(NO_NAMESPACE.format(path=source.display(info.path)))
        plan = namespaces.setdefault(name, NamespacePlan(name))
        plan.files.append(FilePlan(info.path, source.display(info.path), "/" + rest, info.size))
    if not namespaces:
        raise JobError(NO_PARQUET.format(uri=source.uri))
    if len(namespaces) > limits.max_namespaces:
        raise _limit(
            f"the import has {len(namespaces)} namespaces, more than the "
            f"{limits.max_namespaces} allowed per import"
        )
    if len(files) > limits.max_files:
        raise _limit(
            f"the import has {len(files)} files, more than the {limits.max_files} allowed "
            "per import"
        )
    for plan in namespaces.values():
        for f in plan.files:
            if f.size > limits.max_file_bytes:
                raise _limit(
                    f'"{f.display}" is {f.size} bytes, more than the {limits.max_file_bytes} '
                    "bytes allowed per file"
                )
        if plan.bytes > limits.max_namespace_bytes:
            raise _limit(
                f'namespace "{plan.name}" has {plan.bytes} bytes of files, more than the '
                f"{limits.max_namespace_bytes} bytes allowed per namespace"
            )
    return [namespaces[name] for name in sorted(namespaces)]


def open_parquet(fs: pafs.FileSystem, file: FilePlan) -> pq.ParquetFile:
    try:
        stream = fs.open_input_file(file.path)
    except OSError as exc:
        raise file_error(file.display, f"could not be read: {exc}") from None
    try:
        return pq.ParquetFile(stream, pre_buffer=True)
    except (pa.ArrowException, OSError, ValueError):
        stream.close()
        raise file_error(file.display, FOOTER) from None


def _is_string(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t))


def _is_list(t: pa.DataType, item: Callable[[pa.DataType], bool]) -> bool:
    listy = pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)
    return bool(listy and item(t.value_type))


def _is_float(t: pa.DataType) -> bool:
    return bool(pa.types.is_float32(t) or pa.types.is_float64(t))


def _is_sparse(t: pa.DataType) -> bool:
    if not pa.types.is_struct(t) or t.num_fields != 2:
        return False
    names = {t.field(i).name: t.field(i).type for i in range(2)}
    if set(names) != {"indices", "values"}:
        return False
    return _is_list(names["indices"], pa.types.is_integer) and _is_list(names["values"], _is_float)


def type_name(t: pa.DataType) -> str:
    """A column type in the notation of Pinecone's messages (``LIST<FLOAT>``, ``STRING``)."""
    if _is_string(t):
        return "STRING"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return f"LIST<{type_name(t.value_type)}>"
    if pa.types.is_struct(t):
        fields = ", ".join(
            f"{t.field(i).name}: {type_name(t.field(i).type)}" for i in range(t.num_fields)
        )
        return f"STRUCT<{fields}>"
    if pa.types.is_integer(t):
        return f"{'UINT' if pa.types.is_unsigned_integer(t) else 'INT'}_{t.bit_width}"
    names = {pa.float32(): "FLOAT", pa.float64(): "DOUBLE", pa.float16(): "HALF_FLOAT"}
    if t in names:
        return names[t]
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    return str(t).upper()


def check_schema(schema: pa.Schema, shape: IndexShape, display: str) -> None:
    """Columns and types as Pinecone requires for the index's vector type."""
    names = list(schema.names)
    for name in names:
        if name not in _COLUMNS or names.count(name) > 1:
            raise file_error(display, UNSUPPORTED_COLUMN.format(column=name))
    required: tuple[str, ...] = (
        ("id", "sparse_values") if shape.vector_type == "sparse" else ("id", "values")
    )
    if shape.vector_type == "sparse" and "values" in names:
        # A dense file for a sparse index fails row by row, as Pinecone's guide says:
        # "Upserting dense vectors is not supported for sparse indexes" (records.py).
        required = ("id",)
    for name in required:
        if name not in names:
            raise file_error(display, MISSING_COLUMN.format(column=name))
    checks: dict[str, tuple[str, Callable[[pa.DataType], bool]]] = {
        "id": ("STRING", _is_string),
        "values": ("LIST<FLOAT>", lambda t: _is_list(t, _is_float)),
        "sparse_values": (_SPARSE_TYPE, _is_sparse),
    }
    for name in names:
        given = schema.field(name).type
        if name == "metadata":
            if not _is_string(given):
                raise file_error(display, METADATA_TYPE.format(given=type_name(given)))
            continue
        expected, ok = checks[name]
        if not ok(given):
            raise file_error(
                display,
                TYPE_MISMATCH.format(column=name, expected=expected, given=type_name(given)),
            )


def read_footers(fs: pafs.FileSystem, plans: list[NamespacePlan], shape: IndexShape) -> None:
    """Open every file's footer: it must parse, and its schema must fit the index."""
    for plan in plans:
        for file in plan.files:
            parquet = open_parquet(fs, file)
            try:
                check_schema(parquet.schema_arrow, shape, file.display)
                file.rows = parquet.metadata.num_rows
            finally:
                parquet.close()
