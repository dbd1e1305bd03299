"""Why an import failed, in Pinecone's words.

The texts are those of Pinecone's import guide (docs.pinecone.io/guides/index-data/
import-data, "Troubleshooting"), so a script that matches on them works against both.
Where the guide gives no text (a duplicate in abort mode, a system limit's detail, a
failure to read storage), the message follows the same pattern.

``JobError`` never reaches an HTTP edge: its message becomes the ``error`` field of a
Failed import, which ``describe_import`` reports.
"""

from __future__ import annotations

__all__ = [
    "ALL_ROWS_SKIPPED",
    "FILE_AS_URI",
    "FOOTER",
    "JobError",
    "MISSING_COLUMN",
    "MISSING_VALUES",
    "NAMESPACE_EXISTS",
    "NO_NAMESPACE",
    "NO_PARQUET",
    "SYSTEM_LIMIT",
    "TYPE_MISMATCH",
    "METADATA_TYPE",
    "UNSUPPORTED_COLUMN",
    "file_error",
    "record_error",
]

USER = "User error: "

NAMESPACE_EXISTS = (
    'The namespace "{namespace}" already exists. '
    "Imports are only allowed into nonexistent namespaces."
)
NO_NAMESPACE = (
    '"{path}": No namespace detected. Each file should be nested under a subdirectory of '
    "the URI prefix. This indicates which namespace it should be imported into."
)
NO_PARQUET = (
    'No Parquet files found under "{uri}". Files must be stored with the specified bucket prefix.'
)
FILE_AS_URI = (
    '"{path}": It looks like you specified a complete path to a parquet file as the URI '
    "prefix to import from. Note that the URI prefix should give an ancestor directory with "
    "subdirectories to specify each namespace to import into. See "
    "https://docs.pinecone.io/guides/data/understanding-imports#directory-structure."
)
MISSING_COLUMN = 'Missing required column "{column}"'
UNSUPPORTED_COLUMN = 'Unsupported column "{column}"'
FOOTER = "Parquet footer could not be parsed. Are you sure this is valid parquet?"
TYPE_MISMATCH = 'The expected data type for column "{column}" is "{expected}", but got "{given}"'
METADATA_TYPE = (
    "The expected data type for metadata is a JSON encoded string in UTF-8 format, "
    'but got "{given}"'
)
MISSING_VALUES = 'missing required values in column "{column}"'
ALL_ROWS_SKIPPED = "No vectors added, all rows were skipped for namespace: {namespace}"
SYSTEM_LIMIT = "Exceeds system limit: {detail}"


class JobError(Exception):
    """An import failed for a reason the user can fix; ``str()`` is the full message."""

    def __init__(self, message: str) -> None:
        super().__init__(USER + message)


def file_error(path: str, message: str) -> JobError:
    """A problem with a whole file (schema, footer, storage)."""
    return JobError(f'"{path}": {message}')


def record_error(file: str, row: int, message: str) -> JobError:
    """The first invalid record in abort mode; ``file`` is relative to its namespace."""
    return JobError(f'error reading record (file "{file}", row {row}): {message}')
