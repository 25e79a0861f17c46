"""What the API, the command line and the server share: the live hub, metrics, security,
audit trail, retention, export and the routing of worker messages.

No HTTP here (that is :mod:`citybrain.api`) and no process wiring (that is the composition root,
:mod:`citybrain.server.app`). :class:`Services` is what the composition root hands the API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from citybrain.config.server import ServerSettings
from citybrain.netpolicy import NetworkPolicy, OwnEndpoint
from citybrain.records import CameraHealth
from citybrain.services.audit import AuditTrail
from citybrain.services.hub import LiveHub
from citybrain.services.metrics import ServerMetrics
from citybrain.services.outbound import Outbound
from citybrain.services.sources import SourcePolicy, source_policy
from citybrain.store import MediaStore, Store

__all__ = ["CameraControl", "Services", "network_policy"]


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
        media: the anonymised snapshots.
        audit: the audit trail.
        policy: the outbound network policy every connection the server makes is checked
            against (camera sources, webhooks, MQTT).
        sources: which camera sources may be stored and opened.
        hub: live events, health and anonymised frames; the runtime's messages are published
            into it by :class:`~citybrain.services.router.MessageRouter`.
        metrics: Prometheus metrics in a private registry.
        outbound: MQTT and webhooks (``None`` where nothing is handed on: the webhook routes
            still manage webhooks, but cannot test them).
    """

    settings: ServerSettings
    store: Store
    cameras: CameraControl
    media: MediaStore
    audit: AuditTrail
    policy: NetworkPolicy
    sources: SourcePolicy
    hub: LiveHub = field(default_factory=LiveHub)
    metrics: ServerMetrics = field(default_factory=ServerMetrics)
    #: Called after sites were imported or deleted, so that rules from data follow at once.
    sites_changed: Callable[[], None] = field(default=lambda: None)
    outbound: Outbound | None = None
    #: Waits (at most the seconds given) until the events the engine reported are stored.
    #: Live views show an event a moment before its batch is written; an operator acting on
    #: it at once must find it, not a 404.
    events_written: Callable[[float], bool] = field(default=lambda _timeout: True)

    @classmethod
    def of(
        cls,
        settings: ServerSettings,
        store: Store,
        cameras: CameraControl,
        *,
        hub: LiveHub | None = None,
        metrics: ServerMetrics | None = None,
        outbound: Outbound | None = None,
    ) -> Services:
        """The services of one server, with the media store and audit trail its settings say."""
        policy = network_policy(settings)
        return cls(
            settings=settings, store=store, cameras=cameras, media=MediaStore(settings.media_dir),
            audit=AuditTrail(store), policy=policy, sources=source_policy(settings, policy),
            hub=hub or LiveHub(), metrics=metrics or ServerMetrics(), outbound=outbound,
        )  # fmt: skip


def network_policy(settings: ServerSettings) -> NetworkPolicy:
    """The outbound policy of a server with ``settings`` (its own address and port refused)."""
    own = OwnEndpoint.parse(settings.host, settings.port)
    return NetworkPolicy.from_settings(settings.network, own)
