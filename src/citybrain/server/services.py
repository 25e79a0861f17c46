"""What the API needs from the rest of the server, as narrow interfaces.

The composition root (:mod:`citybrain.server.app`) builds a :class:`Services` and hands it to
``create_app``; routes reach each piece through ``Annotated`` dependencies. Tests build their
own :class:`Services` around a real store and a real camera runtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from citybrain.api.hub import LiveHub
from citybrain.api.metrics import ServerMetrics
from citybrain.runtime.messages import CameraHealth
from citybrain.server.settings import ServerSettings
from citybrain.store import Store

__all__ = ["CameraControl", "Services"]


class CameraControl(Protocol):
    """Starts, restarts and stops camera pipelines; implemented by the camera supervisor."""

    def sync(self, camera_id: int) -> None:
        """Bring camera ``camera_id`` in line with the store (start, restart, or stop it).

        Called after every create, update or delete through the API; takes effect without a
        server restart. Returns at once; the work happens in the background.
        """

    def health(self) -> dict[int, CameraHealth]:
        """The latest health of every running camera."""

    def ready(self) -> bool:
        """Whether the workers are up."""


@dataclass(frozen=True, slots=True)
class Services:
    """The server's parts, as the API sees them.

    Attributes:
        hub: live events, health and anonymised frames; the runtime's receiver thread
            publishes into it (``publish_event``, ``publish_health``, ``set_frame``).
        metrics: Prometheus metrics in a private registry; the runtime updates them
            (``observe_health``, ``observe_detector``, ``set_queue_depth``, ``count_event``).
    """

    settings: ServerSettings
    store: Store
    cameras: CameraControl
    hub: LiveHub = field(default_factory=LiveHub)
    metrics: ServerMetrics = field(default_factory=ServerMetrics)
