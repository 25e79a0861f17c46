"""The latest health of every camera the supervisor runs, with staleness turned into "offline".

Workers report health about once a second. A camera whose reports stop (its worker hung or
died) must not stay "online" on the strength of its last report: after ``stale_after`` seconds
without one, the board reports it offline.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from citybrain.records import CameraHealth

__all__ = ["HealthBoard", "offline_health"]


def offline_health(camera_id: int, error: str | None = None) -> CameraHealth:
    """The health of a camera that is not delivering (not started yet, or failed)."""
    return CameraHealth(
        camera_id=camera_id,
        online=False,
        fps_in=0.0,
        fps_analysed=0.0,
        lag_seconds=None,
        frames_dropped=0,
        reconnects=0,
        last_error=error,
        at=time.time(),
    )


class HealthBoard:
    """Thread-safe table of camera health (verbs: :meth:`report`, :meth:`expire`).

    Args:
        stale_after: seconds without a report after which an online camera counts as offline.
    """

    def __init__(self, stale_after: float = 3.0) -> None:
        self._stale_after = stale_after
        self._lock = threading.Lock()
        self._health: dict[int, CameraHealth] = {}
        self._watched: set[int] = set()

    def watch(self, camera_id: int, error: str | None = None) -> CameraHealth:
        """Start tracking ``camera_id`` (offline until it reports); returns its health now."""
        with self._lock:
            self._watched.add(camera_id)
            current = self._health.get(camera_id)
            if current is None or error is not None:
                current = offline_health(camera_id, error)
                self._health[camera_id] = current
            return current

    def forget(self, camera_id: int) -> None:
        """Stop tracking ``camera_id``; its later reports are ignored."""
        with self._lock:
            self._watched.discard(camera_id)
            self._health.pop(camera_id, None)

    def watching(self, camera_id: int) -> bool:
        """Whether ``camera_id`` is tracked (meant to be running)."""
        with self._lock:
            return camera_id in self._watched

    def report(self, health: CameraHealth) -> bool:
        """Record a worker's report; ``False`` (ignored) for a camera no longer tracked."""
        with self._lock:
            if health.camera_id not in self._watched:
                return False
            self._health[health.camera_id] = health
            return True

    def mark_offline(self, camera_id: int, error: str) -> CameraHealth | None:
        """Report a tracked camera offline with ``error`` (its worker died, say)."""
        with self._lock:
            current = self._health.get(camera_id)
            if camera_id not in self._watched or current is None:
                return None
            changed = current.model_copy(
                update={"online": False, "fps_in": 0.0, "fps_analysed": 0.0,
                        "last_error": error, "at": datetime.now(UTC)}
            )  # fmt: skip
            self._health[camera_id] = changed
            return changed

    def expire(self) -> list[CameraHealth]:
        """Turn online cameras without a recent report offline; returns the ones changed."""
        now = time.time()
        changed: list[CameraHealth] = []
        with self._lock:
            for camera_id, health in self._health.items():
                if health.online and now - health.at.timestamp() > self._stale_after:
                    stale = health.model_copy(
                        update={"online": False, "fps_in": 0.0, "fps_analysed": 0.0}
                    )
                    self._health[camera_id] = stale
                    changed.append(stale)
        return changed

    def snapshot(self) -> dict[int, CameraHealth]:
        """The latest health of every tracked camera."""
        with self._lock:
            return {cid: h for cid, h in self._health.items() if cid in self._watched}
