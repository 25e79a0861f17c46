"""Server fixtures: a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from citybrain.store import Store, open_store, sqlite_url


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(sqlite_url(tmp_path / "data"))
    yield store
    store.close()
