"""The scheduled refresh of site sources: read each on its schedule, import it, log what changed.

Each source (``site_sources`` in the server settings) is read from a folder (its newest file)
or an http(s) URL, bounded in size and time, checked against the network policy, imported
through its preset or mapping and made the source's sites in one transaction. The change log
(added, changed, expired, removed) goes to the log and to the store's ``site_changes``; every
attempt is a row of ``site_imports`` (by ``refresh:<name>``), which is how
``GET /api/sites/sources`` tells how each source is doing. A failure (unreachable, refused file)
keeps the previous sites and is retried at the next interval. Sources run one after another on
one thread, so one source is never refreshed twice at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from citybrain.citydata import Mapping as SiteMapping
from citybrain.citydata import SiteImportError, load_mapping, read_location
from citybrain.citydata.fetch import redact_url
from citybrain.config.sites import SiteSourceSettings
from citybrain.errors import CitybrainError, ConfigError
from citybrain.netpolicy import NetworkPolicy
from citybrain.services.sites import ImportSummary, import_sites, mapping_for
from citybrain.store import SiteRepo, Store

__all__ = ["SiteRefresh", "refresh_by"]

log = logging.getLogger(__name__)

#: Longest a download may take.
DOWNLOAD_TIMEOUT_S = 60.0


def refresh_by(name: str) -> str:
    """Who a refresh's imports are recorded as."""
    return f"refresh:{name}"


@dataclass(slots=True)
class _Source:
    settings: SiteSourceSettings
    mapping: SiteMapping
    due: float = 0.0  # monotonic time of the next read


class SiteRefresh:
    """Refreshes the configured sources on their schedules (verbs: :meth:`start`, :meth:`stop`,
    or :meth:`refresh` one now).

    Args:
        store: where the sites go.
        sources: the ``site_sources`` setting.
        max_bytes: the largest file read.
        policy: which hosts a download may contact.
        on_import: told of each successful import (e.g. to wake the runtime's planner).

    Raises:
        ConfigError: a source's preset is unknown or its mapping file is invalid (naming
            ``site_sources[i]`` and the file's line and field).
    """

    def __init__(
        self,
        store: Store,
        sources: Sequence[SiteSourceSettings],
        *,
        max_bytes: int,
        policy: NetworkPolicy | None = None,
        on_import: Callable[[ImportSummary], None] | None = None,
    ) -> None:
        self._store = store
        self._max_bytes = max_bytes
        self._policy = policy or NetworkPolicy()
        self._on_import = on_import
        self._sources = [_Source(s, _mapping(i, s)) for i, s in enumerate(sources)]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="site-refresh", daemon=True)

    def start(self) -> None:
        """Read every source now, then each on its schedule (on a thread of its own)."""
        if self._sources:
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def refresh(self, name: str) -> ImportSummary | None:
        """Read and import source ``name`` now; ``None`` when it failed (the reason is logged
        and recorded; its previous sites stay).

        Raises:
            KeyError: no source of that name.
        """
        for source in self._sources:
            if source.settings.name == name:
                return self._refresh(source)
        raise KeyError(name)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for source in self._sources:
                if self._stop.is_set():
                    return
                if source.due <= now:
                    source.due = now + source.settings.every_minutes * 60.0
                    try:
                        self._refresh(source)
                    except Exception:  # the schedule must outlive any one failure
                        log.exception("site source %s: refresh failed", source.settings.name)
            wait = min(s.due for s in self._sources) - time.monotonic()
            self._stop.wait(min(max(wait, 0.1), 30.0))

    def _refresh(self, source: _Source) -> ImportSummary | None:
        settings = source.settings
        by = refresh_by(settings.name)
        label = redact_url(settings.location)
        try:
            self._check(settings.location)
            download = read_location(
                settings.location, pattern=settings.pattern, max_bytes=self._max_bytes,
                timeout_s=DOWNLOAD_TIMEOUT_S,
            )  # fmt: skip
        except CitybrainError as exc:  # unreadable, too large, or refused by the policy
            problems = list(exc.problems) if isinstance(exc, SiteImportError) else [str(exc)]
            self._note(source, label, by, problems)
            log.error("site source %s: nothing changed: %s", settings.name, exc)
            return None
        try:
            summary = import_sites(
                self._store, download.data, source.mapping, label=download.label, by=by,
                kind=settings.kind, max_bytes=self._max_bytes,
            )  # fmt: skip
        except SiteImportError as exc:  # import_sites noted the refusal
            log.error("site source %s: file refused, nothing changed:\n%s", settings.name, exc)
            return None
        log.info(
            "site source %s (%s): %d added, %d changed, %d expired, %d removed, %d unchanged",
            settings.name, download.label, len(summary.added), len(summary.changed),
            len(summary.expired), len(summary.removed), summary.unchanged,
        )  # fmt: skip
        if self._on_import is not None:
            self._on_import(summary)
        return summary

    def _check(self, location: str) -> None:
        if urlsplit(location).scheme in ("http", "https"):
            self._policy.check_url(location)

    def _note(self, source: _Source, label: str, by: str, problems: list[str]) -> None:
        with self._store.session() as session:
            SiteRepo(session).record_refused(
                source=source.mapping.source, now=datetime.now(UTC), by=by, label=label,
                problems=problems,
            )  # fmt: skip


def _mapping(index: int, settings: SiteSourceSettings) -> SiteMapping:
    where = f"site_sources[{index}] ({settings.name})"
    try:
        if settings.mapping is not None:
            return load_mapping(settings.mapping)
        return mapping_for(preset_name=settings.preset, mapping_text=None)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
