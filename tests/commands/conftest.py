"""Command-line fixtures: the store commands run against a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from citybrain.config.server import ServerSettings
from citybrain.services import Services
from citybrain.store import Store
from support.postgres import postgres_server, postgres_url
from support.recording import RecordingCameras
from support.stores import store

__all__ = ["postgres_server", "postgres_url", "store"]


@pytest.fixture
def services(store: Store, tmp_path: Path) -> Services:
    """The services an API over ``store`` would have (for logging in with what a command made)."""
    return Services.of(ServerSettings(data_dir=tmp_path / "data"), store, RecordingCameras())
