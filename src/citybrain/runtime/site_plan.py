"""Rules from data for the running cameras, and the site context of their events.

The supervisor asks a :class:`SitePlanner` which rules the city's sites give each camera now
(:func:`citybrain.citydata.rules_for_camera` over the sites its footprint touches), adds them to
the camera's own config (:func:`merge_site_rules`: the camera's own rules and zones always stay)
and tells the worker when they change. The planner re-reads cameras and sites from the store
every ``interval`` seconds (a minute at most), and wakes at the next moment a site starts or
expires, so that a permit's rule starts and stops within a minute without a restart.

:class:`SiteContexts` keeps, per camera, the sites its footprint touches with their validity;
the server's router reads it to give each event ``context.sites``: the sites valid when the
event started.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy.exc import SQLAlchemyError

from citybrain.citydata import (
    Calibration,
    CameraView,
    GeometryError,
    RuleTemplate,
    Site,
    SiteRules,
    camera_footprint,
    next_change,
    parse_site_rules,
    rules_for_camera,
)
from citybrain.config.model import CameraConfig
from citybrain.errors import StoreError
from citybrain.records import CameraRecord
from citybrain.store import CameraRepo, SiteRepo, Store

__all__ = [
    "SiteContexts",
    "SitePlanner",
    "SiteWindow",
    "calibration_of",
    "footprint_of",
    "merge_site_rules",
]

log = logging.getLogger(__name__)

#: Longest time between two re-reads of the store (issue 12: rules follow sites within a minute).
MAX_INTERVAL_S = 60.0


def footprint_of(camera: CameraRecord) -> BaseGeometry | None:
    """The ground the camera sees: the polygon an admin drew, else the sector from its position,
    heading, field of view and range; ``None`` without enough of them (or when unusable)."""
    drawn = camera.drawn_footprint.coordinates[0] if camera.drawn_footprint else None
    try:
        return camera_footprint(
            lon=camera.lon, lat=camera.lat, heading_deg=camera.heading_deg,
            fov_deg=camera.fov_deg, range_m=camera.range_m,
            drawn=[list(point) for point in drawn] if drawn else None,
        )  # fmt: skip
    except GeometryError as exc:
        log.warning("camera %d has no usable footprint: %s", camera.id, exc)
        return None


def calibration_of(camera: CameraRecord) -> Calibration | None:
    """The camera's image-to-ground homography, if it is calibrated (and the pairs fix one)."""
    if not camera.calibration:
        return None
    try:
        return Calibration.from_pairs(
            [list(pair.image) for pair in camera.calibration],
            [list(pair.ground) for pair in camera.calibration],
        )
    except GeometryError as exc:
        log.warning("camera %d: calibration unusable: %s", camera.id, exc)
        return None


def merge_site_rules(config: CameraConfig, rules: SiteRules) -> CameraConfig:
    """``config`` with the rules and zones sites add (validated by the one config model).

    Site rules have names of their own (``site.<id>.<kind>``), chosen never to replace a rule or
    zone the camera's config defines.
    """
    if not rules.rules:
        return config
    data = config.model_dump()
    data["zones"] = {**data["zones"], **rules.zones}
    data["rules"] = {**data["rules"], **rules.config_rules()}
    return CameraConfig.model_validate(data)


@dataclass(frozen=True, slots=True)
class SiteWindow:
    """A site a camera sees: its ``context.sites`` entry and when it is valid."""

    context: Mapping[str, Any]
    valid_from: datetime | None
    valid_to: datetime | None

    def covers(self, at: datetime) -> bool:
        if self.valid_from is not None and at < self.valid_from:
            return False
        return self.valid_to is None or at < self.valid_to


class SiteContexts:
    """Per camera, the sites it sees (thread-safe: the supervisor writes, the router reads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[int, tuple[SiteWindow, ...]] = {}

    def set(self, camera_id: int, sites: Iterable[Site]) -> None:
        windows = tuple(SiteWindow(s.context(), s.valid_from, s.valid_to) for s in sites)
        with self._lock:
            if windows:
                self._windows[camera_id] = windows
            else:
                self._windows.pop(camera_id, None)

    def forget(self, camera_id: int) -> None:
        with self._lock:
            self._windows.pop(camera_id, None)

    def context(self, camera_id: int, at: datetime) -> dict[str, Any]:
        """An event's context: ``{"sites": [...]}`` for the sites valid at ``at``, else ``{}``."""
        with self._lock:
            windows = self._windows.get(camera_id, ())
        entries = [dict(w.context) for w in windows if w.covers(at)]
        return {"sites": entries} if entries else {}


@dataclass(slots=True)
class _Camera:
    view: CameraView
    sites: list[Site]
    placement: tuple[Any, ...]


def _placement(camera: CameraRecord) -> tuple[Any, ...]:
    """What decides where a camera looks (a change means reading its sites again)."""
    return (
        camera.lat, camera.lon, camera.heading_deg, camera.fov_deg, camera.range_m,
        camera.drawn_footprint, camera.calibration,
    )  # fmt: skip


class SitePlanner:
    """Which rules sites give each camera (verb: :meth:`rules`), kept current from the store.

    Args:
        store: where cameras and sites are read.
        site_rules: the ``site_rules`` setting (site kind -> rule templates).
        contexts: where the sites each camera sees are published for the router.
        interval: seconds between re-reads of the store (at most a minute).
        clock: the wall clock (POSIX seconds), for tests.
    """

    def __init__(
        self,
        store: Store,
        site_rules: Mapping[str, Sequence[Mapping[str, Any]]],
        contexts: SiteContexts | None = None,
        *,
        interval: float = MAX_INTERVAL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.contexts = contexts or SiteContexts()
        self._store = store
        self._templates: dict[str, tuple[RuleTemplate, ...]] = parse_site_rules(
            {kind: list(templates) for kind, templates in site_rules.items()}
        )
        self._interval = min(interval, MAX_INTERVAL_S)
        self._clock = clock
        self._cameras: dict[int, _Camera] = {}
        self._due = 0.0  # POSIX time of the next refresh

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def wake(self) -> None:
        """Re-read the store at the next chance (sites were imported or deleted); any thread."""
        self._due = 0.0

    def due(self) -> bool:
        """Whether the store should be read again (the interval passed, or a site starts or
        expires)."""
        return self._clock() >= self._due

    def refresh(self) -> bool:
        """Re-read every enabled camera and the sites it sees; ``False`` if the store failed
        (the previous picture stays, and the next try is soon)."""
        try:
            with self._store.session() as session:
                cameras = CameraRepo(session).list(enabled=True)
                footprints = {c.id: fp for c in cameras if (fp := footprint_of(c)) is not None}
                found = SiteRepo(session).candidates(footprints)
        except (SQLAlchemyError, StoreError) as exc:
            log.warning("cannot read sites (%s); rules from data unchanged, retrying", exc)
            self._due = self._clock() + min(5.0, self._interval)
            return False
        before, self._cameras = set(self._cameras), {}
        for camera in cameras:
            self._keep(camera, footprints.get(camera.id), found.get(camera.id, []))
        for camera_id in before - set(self._cameras):
            self.contexts.forget(camera_id)
        self._schedule()
        return True

    def update(self, camera: CameraRecord) -> None:
        """Re-read one camera's sites if where it looks changed (or it is new here)."""
        known = self._cameras.get(camera.id)
        if known is not None and known.placement == _placement(camera):
            return
        footprint = footprint_of(camera)
        sites: list[Site] = []
        if footprint is not None:
            with self._store.session() as session:
                sites = SiteRepo(session).candidates({camera.id: footprint}).get(camera.id, [])
        self._keep(camera, footprint, sites)
        self._schedule()

    def forget(self, camera_id: int) -> None:
        self._cameras.pop(camera_id, None)
        self.contexts.forget(camera_id)

    def rules(self, camera_id: int, config: CameraConfig, at: datetime | None = None) -> SiteRules:
        """The rules and zones the sites valid at ``at`` (default now) give the camera."""
        known = self._cameras.get(camera_id)
        if known is None or not self._templates:
            return SiteRules()
        view = CameraView(
            footprint=known.view.footprint, calibration=known.view.calibration,
            zones=tuple(config.zones), rules=tuple(config.rules),
        )  # fmt: skip
        return rules_for_camera(view, known.sites, self._templates, at or self.now())

    def _keep(
        self, camera: CameraRecord, footprint: BaseGeometry | None, sites: list[Site]
    ) -> None:
        if footprint is None:
            self.forget(camera.id)
            return
        view = CameraView(footprint=footprint, calibration=calibration_of(camera))
        self._cameras[camera.id] = _Camera(view, sites, _placement(camera))
        self.contexts.set(camera.id, sites)

    def _schedule(self) -> None:
        now = self._clock()
        due = now + self._interval
        every = [site for camera in self._cameras.values() for site in camera.sites]
        change = next_change(every, datetime.fromtimestamp(now, UTC))
        if change is not None:
            due = min(due, change.timestamp() + 0.05)  # just after the moment, not before
        self._due = due
