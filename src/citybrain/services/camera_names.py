"""Camera id -> name, for what the workers report by id alone (health) and subscribers know by
name (MQTT topics, webhook subjects)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from citybrain.errors import StoreError
from citybrain.store import CameraRepo, Store

__all__ = ["CameraNames"]

log = logging.getLogger(__name__)


class CameraNames:
    """The names of the running cameras (thread-safe).

    A name is read from the store the first time it is needed and again after ``ttl``
    seconds, or learned from the worker's own messages (events, counts and occupancy carry the
    name the camera runs under), so a rename shows within seconds; ``on_rename`` hears the old
    name then (its retained MQTT states go).

    Args:
        store: where cameras are read from.
        on_rename: called with a camera's previous name when it changed.
        ttl: seconds a name read from the store is trusted.
        clock: monotonic seconds.
    """

    def __init__(
        self,
        store: Store,
        *,
        on_rename: Callable[[str], None] | None = None,
        ttl: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        #: Hears a camera's previous name when it changed (settable after construction).
        self.on_rename = on_rename
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._names: dict[int, tuple[str, float]] = {}

    def get(self, camera_id: int) -> str | None:
        """The name of an enabled camera, ``None`` for one deleted or disabled (or unknown
        while the store is away)."""
        with self._lock:
            cached = self._names.get(camera_id)
        if cached is not None and self._clock() - cached[1] < self._ttl:
            return cached[0]
        try:
            with self._store.session() as session:
                camera = CameraRepo(session).get(camera_id=camera_id)
        except (SQLAlchemyError, StoreError) as exc:
            log.debug("camera %d's name: store unavailable (%s)", camera_id, exc)
            return None if cached is None else cached[0]
        if camera is None or not camera.enabled:
            self.forget(camera_id)
            return None
        self.note(camera_id, camera.name, add=True)
        return camera.name

    def note(self, camera_id: int, name: str, *, add: bool = False) -> None:
        """``name`` is what camera ``camera_id`` runs under now (from its own messages).

        Only cameras already known are updated unless ``add``: the last events of a camera
        being deleted must not bring its name back.
        """
        with self._lock:
            cached = self._names.get(camera_id)
            if cached is None and not add:
                return
            self._names[camera_id] = (name, self._clock())
        if cached is not None and cached[0] != name and self.on_rename is not None:
            log.info("camera %d renamed %r -> %r", camera_id, cached[0], name)
            self.on_rename(cached[0])

    def forget(self, camera_id: int) -> str | None:
        """Drop a stopped camera; its name, if it was known."""
        with self._lock:
            gone = self._names.pop(camera_id, None)
        return None if gone is None else gone[0]
