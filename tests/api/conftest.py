"""API fixtures: the real app over a real store (SQLite and PostgreSQL), a test client, users.

Only the camera runtime's control side is a test double (``RecordingCameras``): it records
``sync`` calls; the runtime itself is tested end to end by its own tests.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from citybrain.api.main import create_app
from citybrain.config.server import ServerSettings
from citybrain.services import Services
from citybrain.services.hub import LiveHub
from citybrain.store import Store

# pytest runs with --import-mode=importlib, which leaves sys.path alone: tests/ holds the shared
# helpers (support.postgres), this folder the API tests' own (apisupport).
for _path in (Path(__file__).resolve().parents[1], Path(__file__).resolve().parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from apisupport import FAST_PASSWORDS, RecordingCameras, World  # noqa: E402

from support.postgres import postgres_server, postgres_url  # noqa: E402
from support.stores import store  # noqa: E402

__all__ = ["postgres_server", "postgres_url", "store"]


@pytest.fixture
def cameras() -> RecordingCameras:
    return RecordingCameras()


@pytest.fixture
def services(store: Store, cameras: RecordingCameras, tmp_path: Path) -> Services:
    settings = ServerSettings(data_dir=tmp_path / "data", token_hours=1.0, live_fps=15.0)
    # No camera runtime here: a frame request waits only a moment for a frame that never comes.
    return Services.of(settings, store, cameras, hub=LiveHub(frame_wait_s=0.3))


@pytest.fixture
def app(services: Services) -> FastAPI:
    return create_app(
        services, retention_interval_s=3600.0, heartbeat_s=0.5, passwords=FAST_PASSWORDS
    )


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def world(client: TestClient, services: Services) -> World:
    return World(client=client, services=services)
