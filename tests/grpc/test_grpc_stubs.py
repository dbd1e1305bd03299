"""The committed stubs are what `make proto` makes from the committed proto, and the
service they describe is the one the SDK calls (no package, these twelve methods)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from spruce.api.grpc.proto import db_data_2025_10_pb2 as pb

PROTO_DIR = Path(__file__).resolve().parents[2] / "src/spruce/api/grpc/proto"
PROTO = "db_data_2025_10.proto"


def test_stubs_are_up_to_date(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{PROTO_DIR}",
            f"--python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            f"--grpc_python_out={tmp_path}",
            str(PROTO_DIR / PROTO),
        ],
        check=True,
    )
    made = tmp_path / "db_data_2025_10_pb2_grpc.py"
    made.write_text(
        made.read_text().replace(
            "import db_data_2025_10_pb2 as", "from . import db_data_2025_10_pb2 as"
        )
    )
    for name in ("db_data_2025_10_pb2.py", "db_data_2025_10_pb2.pyi", made.name):
        assert (tmp_path / name).read_text() == (PROTO_DIR / name).read_text(), name


def test_service_is_the_sdks() -> None:
    service = pb.DESCRIPTOR.services_by_name["VectorService"]
    assert service.full_name == "VectorService"
    assert sorted(m.name for m in service.methods) == sorted(
        [
            "Upsert",
            "Query",
            "Fetch",
            "Update",
            "Delete",
            "List",
            "DescribeIndexStats",
            "FetchByMetadata",
            "ListNamespaces",
            "DescribeNamespace",
            "CreateNamespace",
            "DeleteNamespace",
        ]
    )
    # Field numbers the SDK was observed sending (docs: UpsertRequest vectors=1,
    # namespace=2; QueryRequest top_k=2, vector=7).
    assert pb.UpsertRequest.DESCRIPTOR.fields_by_name["namespace"].number == 2
    assert pb.QueryRequest.DESCRIPTOR.fields_by_name["vector"].number == 7
