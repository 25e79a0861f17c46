"""Demo cameras: the development clips played in a loop, with example zones and rules.

``citybrain serve`` adds them when ``CITYBRAIN_SAMPLES`` names a folder of clips and the store
has no cameras yet, so that a first start shows events within a minute. Only the development
clips are ever used (never the evaluation clips).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from citybrain.records import CameraFields
from citybrain.store import CameraRepo, Store

__all__ = ["DEMO_CAMERAS", "DemoCamera", "add_demo_cameras"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DemoCamera:
    """One demo camera: its name, the clip it plays, and its config (zones and rules)."""

    name: str
    clip: str
    config: dict[str, Any]
    #: Where the console's map shows it: lat, lon, heading_deg, fov_deg, range_m (made up).
    place: dict[str, float] = field(default_factory=dict)


def _box(x1: float, y1: float, x2: float, y2: float) -> list[list[float]]:
    return [[x1, y1], [x2, y1], [x2, y2], [x1, y2]]


DEMO_CAMERAS: tuple[DemoCamera, ...] = (
    DemoCamera(
        "demo-warehouse",
        "worker-zone-detection.mp4",
        {
            "zones": {"aisle": {"polygon": _box(0.0, 0.45, 1.0, 1.0)}},
            "rules": {"no-walking-in-aisle": {"kind": "restricted_zone", "zone": "aisle"}},
        },
        {"lat": 52.52, "lon": 13.404, "heading_deg": 120, "fov_deg": 70, "range_m": 45},
    ),
    DemoCamera(
        "demo-parking-lot",
        "person-bicycle-car-detection.mp4",
        {
            "zones": {"bays": {"polygon": _box(0.0, 0.0, 1.0, 0.45), "anchor": "center"}},
            "lines": {"lane": {"points": [[0.0, 0.55], [1.0, 0.55]], "anchor": "center"}},
            "rules": {
                "vehicle-in-bays": {
                    "kind": "restricted_zone",
                    "zone": "bays",
                    "labels": ["vehicle"],
                },
                "lane-traffic": {
                    "kind": "line_crossing",
                    "line": "lane",
                    "labels": ["vehicle"],
                    "events": True,
                },
            },
        },
        {"lat": 52.5212, "lon": 13.4062, "heading_deg": 200, "fov_deg": 80, "range_m": 60},
    ),
    DemoCamera(
        "demo-car-park",
        "car-detection.mp4",
        {
            # Seen from above: a car's centre crosses the line (its "feet" are its rear or front).
            "lines": {"entry": {"points": [[0.0, 0.5], [1.0, 0.5]], "anchor": "center"}},
            "rules": {
                "entries": {
                    "kind": "line_crossing",
                    "line": "entry",
                    "labels": ["vehicle"],
                    "events": True,
                },
            },
        },
        {"lat": 52.519, "lon": 13.4075, "heading_deg": 300, "fov_deg": 60, "range_m": 50},
    ),
    DemoCamera(
        "demo-lobby",
        "one-by-one-person-detection.mp4",
        {
            "zones": {"floor": {"polygon": _box(0.0, 0.55, 1.0, 1.0)}},
            "rules": {
                "crowding": {"kind": "occupancy", "zone": "floor", "max": 1, "seconds": 2},
                "loitering": {
                    "kind": "dwell",
                    "zone": "floor",
                    "labels": ["person"],
                    "seconds": 10,
                },
            },
        },
        {"lat": 52.5207, "lon": 13.4015, "heading_deg": 90, "fov_deg": 90, "range_m": 25},
    ),
    DemoCamera(
        "demo-entrance",
        "face-demographics-walking-and-pause.mp4",
        {
            "zones": {"doorway": {"polygon": _box(0.0, 0.0, 1.0, 1.0), "anchor": "center"}},
            "rules": {"crowding": {"kind": "occupancy", "zone": "doorway", "max": 2}},
        },
        {"lat": 52.5185, "lon": 13.403, "heading_deg": 20, "fov_deg": 65, "range_m": 30},
    ),
)


def add_demo_cameras(store: Store, samples: Path) -> list[int]:
    """Add the demo cameras whose clips are in ``samples`` (skipping names already taken).

    Returns:
        The ids of the cameras added.
    """
    added: list[int] = []
    with store.session() as session:
        repo = CameraRepo(session)
        for demo in DEMO_CAMERAS:
            clip = samples / demo.clip
            if not clip.is_file():
                log.warning("demo camera %s skipped: %s not found", demo.name, clip)
                continue
            if repo.by_name(name=demo.name) is not None:
                continue
            camera = repo.create(
                CameraFields(
                    name=demo.name, source=str(clip.resolve()), config=demo.config, **demo.place
                )
            )
            added.append(camera.id)
            log.info("added demo camera %s (%s, looping)", demo.name, demo.clip)
    return added
