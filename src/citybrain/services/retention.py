"""Retention: events, their snapshot files and audit entries older than the limit are deleted.

:func:`purge_expired` does one pass; :class:`RetentionJob` runs it on a background thread
(started and stopped by the app's lifespan) every ``interval_s`` seconds.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from citybrain.errors import CitybrainError
from citybrain.store import AuditRepo, DeliveryRepo, EventRepo, MediaStore, Store, describe_error

__all__ = ["RetentionJob", "RetentionReport", "purge_expired"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """What one pass deleted."""

    events: int
    snapshots: int
    audit: int
    orphans: int
    deliveries: int = 0


def purge_expired(*, store: Store, media: MediaStore, cutoff: datetime) -> RetentionReport:
    """Delete events that started before ``cutoff`` with their snapshots, and older audit rows.

    Rows go first, in one transaction; files after it commits, so a failed commit never
    leaves events whose snapshots are gone. Files left behind by earlier failures (or by
    deleted cameras) are swept by their modification time.
    """
    with store.session() as session:
        paths = EventRepo(session).delete_events_before(cutoff=cutoff)
        audit = AuditRepo(session).delete_before(cutoff=cutoff)
        # Webhook deliveries go with the events they carried (pending ones never get that old).
        deliveries = DeliveryRepo(session).delete_finished_before(cutoff=cutoff)
    snapshots = sum(media.delete(path) for path in paths)
    orphans = media.sweep(cutoff=cutoff)
    return RetentionReport(
        events=len(paths), snapshots=snapshots, audit=audit, orphans=orphans,
        deliveries=deliveries,
    )  # fmt: skip


class RetentionJob:
    """Runs :func:`purge_expired` now and then every ``interval_s`` seconds, on its own thread."""

    def __init__(
        self, *, store: Store, media: MediaStore, retention_hours: float, interval_s: float
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"retention interval {interval_s} s: it must be positive")
        self._store = store
        self._media = media
        self._keep = timedelta(hours=retention_hours)
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self, now: datetime | None = None) -> RetentionReport:
        """One pass with the cutoff ``now`` minus the retention time."""
        cutoff = (now or datetime.now(UTC)) - self._keep
        report = purge_expired(store=self._store, media=self._media, cutoff=cutoff)
        if report.events or report.audit or report.orphans:
            log.info(
                "retention: deleted %d events, %d snapshots, %d audit entries, %d stray files "
                "from before %s",
                report.events, report.snapshots, report.audit, report.orphans,
                cutoff.isoformat(timespec="seconds"),
            )  # fmt: skip
        return report

    def start(self) -> None:
        """Start the background thread (once)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="citybrain-retention", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to stop and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while True:
            try:
                self.run_once()
            except SQLAlchemyError as exc:  # a database outage: try again next time
                log.warning("retention pass failed: %s", describe_error(exc))
            except (CitybrainError, OSError) as exc:
                log.warning("retention pass failed: %s", exc)
            if self._stop.wait(self._interval_s):
                return
