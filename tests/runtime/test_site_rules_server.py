"""Rules from data in the real server (``build_server``: store, supervisor, a spawned worker, the
router, the writers), on a development clip, on SQLite and on PostgreSQL with PostGIS.

A camera sees an active NYC construction permit, and the server settings map permits to
``hardhat_required``. On ``one-by-one-person-detection.mp4`` (people without hard hats walk in
one after another) the permit's rule raises an event carrying the permit's context. Then the
permit's record is changed to end a few seconds later; when it expires the rule stops (its open
event ends), no ``hardhat_required`` event starts afterwards, and the stream, its tracks and the
camera's own rule go on. About 45 s of wall time per backend: the clip plays in real time.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from citybrain.citydata import NYC_DOB_PERMITS, Site, import_text
from citybrain.config.server import ServerSettings
from citybrain.records import CameraFields, EventRecord
from citybrain.runtime.supervisor import SupervisorOptions
from citybrain.server.app import Server, build_server
from citybrain.store import CameraRepo, EventQuery, EventRepo, SiteRepo, Store
from support.citydata_samples import nyc_csv, nyc_row
from support.postgres import postgres_server, postgres_url
from support.stores import store

__all__ = ["postgres_server", "postgres_url", "store"]

pytestmark = pytest.mark.slow

CLIP = "one-by-one-person-detection.mp4"
PERMIT_RULE = "site.nyc-dob-permits.123456789.hardhat_required"
OWN_CONFIG = {
    "camera": {"fps": 5},
    "zones": {"room": {"polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}},
    "rules": {"intruders": {"kind": "restricted_zone", "zone": "room", "labels": ["person"]}},
}


def _permit() -> Site:
    """The sample permit at 350 West 42nd Street, valid from yesterday with no end yet."""
    [site] = import_text(nyc_csv(nyc_row()), NYC_DOB_PERMITS).sites
    return dataclasses.replace(site, valid_from=datetime.now(UTC) - timedelta(days=1),
                               valid_to=None)  # fmt: skip


def _save(store: Store, site: Site) -> None:
    with store.session() as session:
        SiteRepo(session).replace_source(
            source=site.source, sites=[site], now=datetime.now(UTC), by="test", label="test"
        )


@pytest.fixture
def server(models: Path, store: Store, samples_dir: Path, tmp_path: Path) -> Iterator[Server]:
    _save(store, _permit())
    with store.session() as session:
        CameraRepo(session).create(CameraFields(
            name="w42", source=str(samples_dir / CLIP), config=OWN_CONFIG,
            lat=40.75748, lon=-73.991898, heading_deg=0.0, fov_deg=60.0, range_m=80.0,
        ))  # fmt: skip
    settings = ServerSettings(
        data_dir=tmp_path / "data", database_url=store.engine.url.render_as_string(False),
        site_rules={"construction_permit": [{"kind": "hardhat_required", "seconds": 2}]},
        sources={"file_roots": [samples_dir]},
    )  # fmt: skip
    # The default re-read interval (a minute): expiry must come from the planner's wake-up at
    # the site's next change, not from a frequent poll.
    built = build_server(settings, SupervisorOptions(workers=1))
    built.supervisor.start()
    try:
        yield built
    finally:
        built.close()


def _events(store: Store) -> list[EventRecord]:
    with store.session() as session:
        page = EventRepo(session).search(query=EventQuery(), limit=500, count_limit=0)
    return sorted(page.items, key=lambda e: e.started_at)


def _wait(store: Store, found: Callable[[list[EventRecord]], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found(_events(store)):
            return
        time.sleep(0.25)
    summary = [(e.rule, e.started_at.time(), e.ended_at) for e in _events(store)]
    raise AssertionError(f"not found in {timeout} s; events: {summary}")


def test_a_permit_switches_its_rule_on_gives_context_and_switches_it_off_when_it_expires(
    server: Server, store: Store
) -> None:
    _wait(store, lambda events: any(e.rule == PERMIT_RULE for e in events), timeout=120)
    [first] = [e for e in _events(store) if e.rule == PERMIT_RULE]
    assert first.kind == "hardhat_required" and first.label == "person"
    [site] = first.context["sites"]
    assert site["id"] == "nyc-dob-permits.123456789"
    assert site["attributes"]["permit_number"] == "123456789"
    assert site["attributes"]["contractor"] == "ACME BUILDERS LLC"
    own = [e for e in _events(store) if e.rule == "intruders"]
    assert own and own[0].context == first.context  # the camera's own rule: the same context

    # The permit's record now says it ends in three seconds (as a re-import would).
    expiry = datetime.now(UTC) + timedelta(seconds=3)
    _save(store, dataclasses.replace(_permit(), valid_to=expiry))
    server.services.sites_changed()  # what the API does after an import

    # The next person walks in (the camera's own rule sees them) and stays long enough for a
    # hard-hat event, had the rule still run.
    def next_person(events: list[EventRecord]) -> bool:
        return any(e.rule == "intruders" and e.started_at > expiry + timedelta(seconds=2)
                   for e in events)  # fmt: skip

    _wait(store, next_person, timeout=60)
    time.sleep(8.0)
    events = _events(store)
    stopped = next(e for e in events if e.id == first.id)
    assert stopped.ended_at is not None
    assert stopped.ended_at < expiry + timedelta(seconds=2)  # ended by the expiry, mid-event
    late = [e for e in events if e.kind == "hardhat_required" and e.started_at > expiry]
    assert late == []
    after = [e for e in events if e.rule == "intruders" and e.started_at > expiry]
    assert after and all(e.context == {} for e in after)  # no valid site: no context
    assert max(e.track_id or 0 for e in after) > min(e.track_id or 0 for e in own)  # same stream
    health = server.supervisor.health()
    assert health and all(h.reconnects == 0 for h in health.values())
