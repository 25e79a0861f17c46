"""Rules from data in a running pipeline: rules replaced between frames keep the stream, the
tracks and the camera's own rules; removed rules end their events; the merged config never
replaces the camera's own rules or zones."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pytest
import shapely

from citybrain.citydata import (
    NYC_DOB_PERMITS,
    Site,
    SiteRules,
    import_text,
    parse_site_rules,
    rules_for_camera,
)
from citybrain.citydata.site_rules import CameraView
from citybrain.config import parse_config
from citybrain.core.detections import COCO_LABELS, Detections
from citybrain.core.events import EventPhase
from citybrain.core.frame import Frame, Image
from citybrain.pipeline import CameraPipeline, Vision
from citybrain.runtime.site_plan import SiteContexts, merge_site_rules
from support.citydata_samples import nyc_csv, nyc_row

OWN = parse_config("""
camera: {name: yard, fps: 5}
anonymise: {enabled: false}
motion: {enabled: false}
zones:
  gate: {polygon: [[0, 0], [1, 0], [1, 1], [0, 1]]}
rules:
  intruders: {kind: restricted_zone, zone: gate, labels: [person]}
""")
TEMPLATES = parse_site_rules({"construction_permit": [
    {"kind": "restricted_zone", "labels": ["person"], "seconds": 0},
    {"kind": "dwell", "zone": "gate", "labels": ["person"], "seconds": 60},
]})  # fmt: skip


class StandingPerson:
    """A detector that always sees one person standing in the middle of the frame."""

    labels = COCO_LABELS

    def detect(
        self, images: Sequence[Image], scales: Sequence[float | None] | None = None
    ) -> list[Detections]:
        box = np.array([[300, 100, 400, 400]], dtype=np.float32)
        one = Detections(xyxy=box, confidence=np.array([0.9], dtype=np.float32),
                         class_id=np.zeros(1, dtype=np.int64))  # fmt: skip
        return [one for _ in images]


def _frame(t: float) -> Frame:
    return Frame(np.zeros((432, 768, 3), dtype=np.uint8), timestamp=t, index=round(t * 5))


def _permit_rules(at: datetime) -> tuple[Site, SiteRules]:
    [permit] = import_text(nyc_csv(nyc_row()), NYC_DOB_PERMITS).sites
    footprint = shapely.buffer(permit.area.centroid, 0.001)
    view = CameraView(footprint=footprint, zones=tuple(OWN.zones), rules=tuple(OWN.rules))
    return permit, rules_for_camera(view, [permit], TEMPLATES, at)


def test_merged_config_adds_rules_and_never_replaces_the_cameras_own() -> None:
    _, rules = _permit_rules(datetime(2024, 6, 1, tzinfo=UTC))
    merged = merge_site_rules(OWN, rules)
    assert merged.rules["intruders"] == OWN.rules["intruders"]
    assert merged.zones["gate"] == OWN.zones["gate"]
    assert sorted(merged.rules) == [
        "intruders",
        "site.nyc-dob-permits.123456789.dwell",
        "site.nyc-dob-permits.123456789.restricted_zone",
    ]
    site_rule = merged.rules["site.nyc-dob-permits.123456789.restricted_zone"]
    assert site_rule.zone == "site-frame" and merged.zones["site-frame"].polygon[2] == (1.0, 1.0)
    assert merged.rules["site.nyc-dob-permits.123456789.dwell"].zone == "gate"  # the named zone
    _, expired = _permit_rules(datetime(2025, 6, 1, tzinfo=UTC))  # after 03/14/2025
    assert merge_site_rules(OWN, expired) is OWN


def test_rules_replaced_between_frames_keep_the_stream_and_the_cameras_rules() -> None:
    _, rules = _permit_rules(datetime(2024, 6, 1, tzinfo=UTC))
    with_site = merge_site_rules(OWN, rules)
    vision = Vision(detector=StandingPerson())
    pipeline = CameraPipeline(with_site, vision)
    site_rule = "site.nyc-dob-permits.123456789.restricted_zone"

    updates = [u for t in (0.0, 0.2, 0.4) for u in pipeline.process(_frame(t)).updates]
    started = {u.event.rule: u.event for u in updates if u.phase == EventPhase.START}
    assert set(started) == {"intruders", site_rule}
    own_event = started["intruders"]

    pipeline.replace_rules(OWN, vision)  # the permit expired
    after = pipeline.process(_frame(0.6)).updates
    ended = [u for u in after if u.phase == EventPhase.END]
    assert [u.event.rule for u in ended] == [site_rule]
    assert ended[0].event.end == pytest.approx(0.4)  # ends at the last frame it saw
    assert pipeline.config is OWN and [r.name for r in pipeline.rules] == ["intruders"]

    later = [u for t in (0.8, 1.0) for u in pipeline.process(_frame(t)).updates]
    assert all(u.event.rule == "intruders" for u in later)
    assert all(u.phase != EventPhase.START for u in later)  # the camera's own event goes on

    pipeline.replace_rules(with_site, vision)  # valid again: a new event, same track
    again = pipeline.process(_frame(1.2)).updates
    [restart] = [u.event for u in again if u.phase == EventPhase.START]
    assert restart.rule == site_rule and restart.track_id == own_event.track_id
    closing, _ = pipeline.close()
    assert {u.event.id for u in closing} == {own_event.id, restart.id}


def test_a_new_hardhat_rule_without_a_classifier_leaves_the_rules_as_they_were() -> None:
    hardhat = parse_site_rules({"construction_permit": [{"kind": "hardhat_required"}]})
    [permit] = import_text(nyc_csv(nyc_row()), NYC_DOB_PERMITS).sites
    view = CameraView(footprint=shapely.buffer(permit.area.centroid, 0.001))
    rules = rules_for_camera(view, [permit], hardhat, datetime(2024, 6, 1, tzinfo=UTC))
    vision = Vision(detector=StandingPerson())
    pipeline = CameraPipeline(OWN, vision)
    pipeline.replace_rules(merge_site_rules(OWN, rules), vision)
    pipeline.process(_frame(0.0))
    assert [r.name for r in pipeline.rules] == ["intruders"]


def test_site_contexts_give_events_the_sites_valid_when_they_started() -> None:
    [permit] = import_text(nyc_csv(nyc_row()), NYC_DOB_PERMITS).sites
    contexts = SiteContexts()
    contexts.set(3, [permit])
    inside = contexts.context(3, datetime(2024, 6, 1, tzinfo=UTC))
    assert inside == {"sites": [{
        "id": "nyc-dob-permits.123456789", "kind": "construction_permit",
        "name": "350 WEST 42 STREET, MANHATTAN",
        "attributes": {"permit_number": "123456789", "contractor": "ACME BUILDERS LLC",
                       "job_type": "A2", "permit_type": "EW", "permit_status": "ISSUED"},
    }]}  # fmt: skip
    assert contexts.context(3, datetime(2026, 1, 1, tzinfo=UTC)) == {}
    assert contexts.context(4, datetime(2024, 6, 1, tzinfo=UTC)) == {}
    contexts.forget(3)
    assert contexts.context(3, datetime(2024, 6, 1, tzinfo=UTC)) == {}
