"""Writing the audit trail: every read of video and every change, with who, when and where."""

from __future__ import annotations

from typing import Any

from citybrain.records import Action
from citybrain.store import AuditRepo, Store

__all__ = ["AuditTrail"]


class AuditTrail:
    """Appends entries to the trail (verb: :meth:`record`)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def record(
        self,
        action: Action,
        *,
        username: str | None,
        client: str | None,
        camera_id: int | None = None,
        target: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append one entry in its own transaction: it stays even if the request fails later,
        and it is written before any video it records is served."""
        with self._store.session() as session:
            AuditRepo(session).record(
                action=action.value, username=username, camera_id=camera_id, target=target,
                client=client, detail=detail,
            )  # fmt: skip
