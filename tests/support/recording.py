"""A stand-in for the camera runtime's control side, for tests of what sits above it."""

from __future__ import annotations

from citybrain.records import CameraHealth

__all__ = ["RecordingCameras"]


class RecordingCameras:
    """A :class:`~citybrain.services.CameraControl` that records what it is told."""

    def __init__(self) -> None:
        self.synced: list[int] = []
        self.healths: dict[int, CameraHealth] = {}
        self.is_ready = True

    def sync(self, camera_id: int) -> None:
        self.synced.append(camera_id)

    def health(self) -> dict[int, CameraHealth]:
        return dict(self.healths)

    def ready(self) -> bool:
        return self.is_ready
