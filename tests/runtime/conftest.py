"""Fixtures for the camera runtime: a real SQLite store, models from the shared folder, and a sink
that records the workers' typed messages and lets a test wait for the ones it expects."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from citybrain.records import CameraFields
from citybrain.runtime.messages import WorkerMessage
from citybrain.store import CameraRepo, Store, open_store, sqlite_url


class Recorder:
    """A thread-safe message sink with waiting."""

    def __init__(self) -> None:
        self.messages: list[WorkerMessage] = []
        self._cond = threading.Condition()

    def __call__(self, message: WorkerMessage) -> None:
        with self._cond:
            self.messages.append(message)
            self._cond.notify_all()

    def wait_for(
        self, predicate: Callable[[WorkerMessage], bool], timeout: float, *, after: int = 0
    ) -> WorkerMessage:
        """The first message (from index ``after`` on) matching ``predicate``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for message in self.messages[after:]:
                    if predicate(message):
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    kinds = sorted({type(m).__name__ for m in self.messages})
                    raise AssertionError(
                        f"no matching message in {timeout} s; got {len(self.messages)} of {kinds}"
                    )
                self._cond.wait(left)

    def mark(self) -> int:
        with self._cond:
            return len(self.messages)

    def since(self, index: int) -> list[WorkerMessage]:
        with self._cond:
            return list(self.messages[index:])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(sqlite_url(tmp_path / "data"))
    yield store
    store.close()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


AddCamera = Callable[[str, str, dict[str, Any]], int]


@pytest.fixture
def add_camera(store: Store) -> AddCamera:
    """Creates a camera row (name, source, config); returns its id."""

    def add(name: str, source: str, config: dict[str, Any]) -> int:
        with store.session() as session:
            return (
                CameraRepo(session).create(CameraFields(name=name, source=source, config=config)).id
            )

    return add


@pytest.fixture
def zone_config() -> dict[str, Any]:
    """A restricted zone over the whole frame: any person seen starts an event."""
    return {
        "zones": {"floor": {"polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}},
        "rules": {"no_entry": {"kind": "restricted_zone", "zone": "floor", "labels": ["person"]}},
    }
