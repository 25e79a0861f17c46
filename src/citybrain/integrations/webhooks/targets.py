"""Webhooks as the delivery engine sees them, and which events each one receives.

The store (phase B: a ``webhooks`` table) implements :class:`WebhookDirectory`;
:class:`MemoryDirectory` is the in-memory one for tests and the benchmark.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from citybrain.integrations.notices import EventNotice
from citybrain.records.webhook import check_webhook_url

__all__ = ["MemoryDirectory", "WebhookDirectory", "WebhookTarget", "check_webhook_url"]


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """One webhook.

    Attributes:
        id: its id.
        url: where deliveries are POSTed (may hold user info: never shown back in full).
        secrets: signing secrets (``whsec_…``); the first is current, a second one signs
            too while a rotation lasts.
        enabled: ``False`` pauses it: deliveries wait, no new ones are queued.
        kinds: event kinds it wants (``restricted_zone``, …); ``None`` = all.
        cameras: camera ids it wants; ``None`` = all.
        owner_cameras: the camera limit of the user who owns it, applied on top of
            ``cameras`` (read at every event, so narrowing a user's limit takes effect at
            once); ``None`` = an unlimited owner.
        failing_since: POSIX time it was marked failing, ``None`` while healthy.
    """

    id: int
    url: str
    secrets: tuple[str, ...]
    enabled: bool = True
    kinds: frozenset[str] | None = None
    cameras: frozenset[int] | None = None
    owner_cameras: frozenset[int] | None = None
    failing_since: float | None = None

    def selects(self, notice: EventNotice) -> bool:
        """Whether this webhook receives ``notice``."""
        if not self.enabled:
            return False
        if self.kinds is not None and notice.kind not in self.kinds:
            return False
        if self.cameras is not None and notice.camera_id not in self.cameras:
            return False
        return self.owner_cameras is None or notice.camera_id in self.owner_cameras


class WebhookDirectory(Protocol):
    """Where the engine finds webhooks and records their health."""

    def targets(self) -> Sequence[WebhookTarget]:
        """Every webhook (enabled or not)."""

    def target(self, webhook_id: int) -> WebhookTarget | None:
        """One webhook; ``None`` once deleted."""

    def set_failing(self, webhook_id: int, since: float | None) -> None:
        """Mark a webhook failing since ``since`` (POSIX time), or healthy again (``None``)."""


@dataclass
class MemoryDirectory:
    """Webhooks in memory (thread-safe)."""

    _targets: dict[int, WebhookTarget] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def put(self, target: WebhookTarget) -> None:
        with self._lock:
            self._targets[target.id] = target

    def delete(self, webhook_id: int) -> None:
        with self._lock:
            self._targets.pop(webhook_id, None)

    def targets(self) -> Sequence[WebhookTarget]:
        with self._lock:
            return list(self._targets.values())

    def target(self, webhook_id: int) -> WebhookTarget | None:
        with self._lock:
            return self._targets.get(webhook_id)

    def set_failing(self, webhook_id: int, since: float | None) -> None:
        with self._lock:
            if (target := self._targets.get(webhook_id)) is not None:
                self._targets[webhook_id] = replace(target, failing_since=since)
