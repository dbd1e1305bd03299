"""Fixtures for the bulk import tests: emulators, and servers pointed at them."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pinecone import Pinecone

from tests.api.helpers import client, make_index, unique
from tests.conftest import LiveServer
from tests.imports.emulators import Azurite, FakeGcs, Moto
from tests.imports.helpers import DATASET


@dataclass
class Emulators:
    moto: Moto
    gcs: FakeGcs
    azurite: Azurite

    @property
    def env(self) -> dict[str, str]:
        return {
            "SPRUCE_S3_ENDPOINT": self.moto.endpoint,
            "SPRUCE_GCS_ENDPOINT": self.gcs.endpoint,
            "SPRUCE_AZURE_ENDPOINT": self.azurite.endpoint,
        }


@pytest.fixture(scope="session")
def emulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulators]:
    logs = tmp_path_factory.mktemp("emulators")
    moto = Moto.start()
    gcs = FakeGcs.start(logs / "fake-gcs.log")
    azurite = Azurite.start(logs / "azurite.log")
    yield Emulators(moto, gcs, azurite)
    for emulator in (azurite, gcs, moto):
        emulator.stop()


def start_server(root: Path, env: dict[str, str]) -> LiveServer:
    """Local imports are allowed from the tests' temporary directories (tests/conftest.py)
    and from the shared dataset."""
    roots = os.pathsep.join([os.environ.get("SPRUCE_IMPORT_ROOTS", ""), str(DATASET)])
    live = LiveServer(root / "data", env={"SPRUCE_IMPORT_ROOTS": roots, **env})
    live.data_dir.mkdir(parents=True)
    live.start()
    return live


@pytest.fixture(scope="session")
def import_server(
    emulators: Emulators, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("imports"), emulators.env)
    yield live
    live.stop()


@pytest.fixture
def pc(import_server: LiveServer) -> Pinecone:
    return client(import_server)


IndexFactory = Callable[..., Any]


@pytest.fixture
def new_index(pc: Pinecone) -> Iterator[IndexFactory]:
    """Create indexes for one test (``new_index(dimension=8, metric=...)``); dropped after."""
    names: list[str] = []

    def make(dimension: int | None = 4, **kwargs: Any) -> Any:
        name = unique("imp")
        names.append(name)
        if dimension is None:
            kwargs.setdefault("vector_type", "sparse")
            kwargs.setdefault("metric", "dotproduct")
            from pinecone import ServerlessSpec

            pc.create_index(
                name=name, spec=ServerlessSpec(cloud="aws", region="us-east-1"), **kwargs
            )
            return pc.Index(host=pc.describe_index(name).host)
        return make_index(pc, name, dimension=dimension, **kwargs)

    yield make
    for name in names:
        pc.delete_index(name)
