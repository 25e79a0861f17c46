"""Multi-frame scenarios: synthetic tracked detections at 5 fps; events as a person expects."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pytest

from citybrain.config import parse_config
from citybrain.config.model import RULE_KINDS
from citybrain.core.detections import Detections
from citybrain.core.events import EventPhase, EventUpdate, LineCount
from citybrain.rules import HARDHAT_KEY, HEAD_SIDE_KEY, Observation, Rule, build_rules
from citybrain.rules.factory import buildable_kinds

W, H = 200, 100
CONFIG = """
camera: {name: yard-1, fps: 5}
zones:
  left: {polygon: [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}
lines:
  gate: {points: [[0.5, 0], [0.5, 1]]}
rules:
  intruders: {kind: restricted_zone, zone: left, labels: [person]}
  hardhats:  {kind: hardhat_required, zone: left, seconds: 1}
  parked:    {kind: dwell, zone: left, labels: [car], seconds: 3}
  crowd:     {kind: occupancy, zone: left, labels: [person], max: 2, seconds: 1}
  counts:    {kind: line_crossing, line: gate, labels: [person, car], interval: 10, events: true}
"""


def rule(name: str) -> Rule:
    rules = {r.name: r for r in build_rules(parse_config(CONFIG))}
    return rules[name]


def dets(
    objects: Iterable[tuple[int, int, float, float]], hardhat: list[float] | None = None
) -> Detections:
    """objects: (track id, class id, x centre, feet y) in pixels; boxes 10 px wide, 30 px tall."""
    rows = list(objects)
    xyxy = np.array([[x - 5, y - 30, x + 5, y] for _, _, x, y in rows], dtype=np.float32)
    d = Detections(
        xyxy=xyxy.reshape(-1, 4),
        confidence=np.full(len(rows), 0.8),
        class_id=np.array([c for _, c, _, _ in rows]),
        tracker_id=np.array([t for t, _, _, _ in rows], dtype=np.int64),
    )
    return d.with_data(HARDHAT_KEY, np.array(hardhat if hardhat else [np.nan] * len(rows)))


def run(
    r: Rule, frames: list[Detections], fps: float = 5.0
) -> tuple[list[EventUpdate], list[LineCount]]:
    updates: list[EventUpdate] = []
    counts: list[LineCount] = []
    for i, d in enumerate(frames):
        result = r.evaluate(Observation("yard-1", i / fps, W, H, d))
        updates += result.updates
        counts += result.counts
    closing = r.close(len(frames) / fps)
    return updates + closing.updates, counts + closing.counts


def phases(updates: list[EventUpdate]) -> list[tuple[str, int | None]]:
    return [(u.phase.value, u.event.track_id) for u in updates if u.phase != EventPhase.UPDATE]


def test_restricted_zone_one_event_per_visit() -> None:
    inside, outside = (7, 0, 50.0, 80.0), (7, 0, 150.0, 80.0)
    frames = [dets([inside])] * 10 + [dets([outside])] * 15 + [dets([inside])] * 5
    updates, _ = run(rule("intruders"), frames)
    assert phases(updates) == [("start", 7), ("end", 7), ("start", 7), ("end", 7)]
    first_end = updates[1].event
    assert first_end.start == 0.0 and first_end.end == pytest.approx(1.8)
    assert first_end.kind == "restricted_zone" and first_end.zone == "left"
    assert first_end.bbox == (0.225, 0.5, 0.275, 0.8)


def test_restricted_zone_survives_short_flicker_and_ignores_other_labels() -> None:
    person, car = (3, 0, 40.0, 90.0), (4, 2, 40.0, 90.0)
    frames = [dets([person, car])] * 5 + [dets([car])] * 3 + [dets([person, car])] * 5
    updates, _ = run(rule("intruders"), frames)
    assert phases(updates) == [("start", 3), ("end", 3)]


def test_untracked_detections_do_not_start_per_track_events() -> None:
    updates, _ = run(rule("intruders"), [dets([(-1, 0, 40.0, 90.0)])] * 10)
    assert updates == []


def test_dwell_needs_the_full_time() -> None:
    car = (1, 2, 40.0, 90.0)
    short, _ = run(rule("parked"), [dets([car])] * 14)  # 2.6 s < 3 s
    assert short == []
    long, _ = run(rule("parked"), [dets([car])] * 25)
    assert phases(long) == [("start", 1), ("end", 1)]
    assert long[0].event.start == 0.0


@pytest.mark.parametrize(
    ("p_hardhat", "expected"),
    [(0.9, []), (0.1, [("start", 5), ("end", 5)]), (float("nan"), [])],
)
def test_hardhat_required(p_hardhat: float, expected: list[tuple[str, int]]) -> None:
    worker = (5, 0, 30.0, 70.0)
    updates, _ = run(rule("hardhats"), [dets([worker], hardhat=[p_hardhat])] * 12)
    assert phases(updates) == expected
    if expected:
        assert updates[0].event.score == pytest.approx(0.9, abs=0.01)


def test_hardhat_one_bad_frame_does_not_fire() -> None:
    worker = (5, 0, 30.0, 70.0)
    frames = [dets([worker], hardhat=[0.95])] * 5 + [dets([worker], hardhat=[0.05])]
    frames += [dets([worker], hardhat=[0.95])] * 10
    updates, _ = run(rule("hardhats"), frames)
    assert updates == []


def test_occupancy_counts_aggregate_without_identities() -> None:
    three = dets([(1, 0, 20.0, 90.0), (2, 0, 40.0, 90.0), (-1, 0, 60.0 - 30, 90.0)])
    two = dets([(1, 0, 20.0, 90.0), (2, 0, 40.0, 90.0)])
    updates, _ = run(rule("crowd"), [two] * 3 + [three] * 10 + [two] * 15)
    assert phases(updates) == [("start", None), ("end", None)]
    event = updates[-1].event
    assert event.details["count"] == 3 and event.details["max"] == 2
    assert event.start == pytest.approx(0.6) and event.end == pytest.approx(2.4)


def test_line_crossing_counts_and_events() -> None:
    frames = []
    for i in range(20):  # track 1 walks right across x = 100; track 2 walks left
        frames.append(dets([(1, 0, 60.0 + 4 * i, 90.0), (2, 2, 140.0 - 4 * i, 90.0)]))
    updates, counts = run(rule("counts"), frames)
    got = {(c.direction, c.label, c.count) for c in counts}
    # The gate runs top to bottom: its right-hand side (y down) is x < 100, so walking left is "in".
    assert got == {("out", "person", 1), ("in", "car", 1)}
    assert [u.phase for u in updates] == [EventPhase.START, EventPhase.END] * 2
    assert {u.event.details["direction"] for u in updates} == {"in", "out"}


def test_line_crossing_object_pausing_on_the_line_counts_once() -> None:
    xs = [80.0, 90.0, 100.0, 100.0, 100.0, 110.0, 120.0]
    _, counts = run(rule("counts"), [dets([(1, 0, x, 90.0)]) for x in xs])
    assert [(c.direction, c.count) for c in counts] == [("out", 1)]


def test_line_crossing_intervals() -> None:
    frames = [dets([(1, 0, 90.0 if (i // 10) % 2 == 0 else 110.0, 90.0)]) for i in range(120)]
    _, counts = run(rule("counts"), frames)  # 24 s at 5 fps, crossing every 2 s
    starts = sorted({c.interval_start for c in counts})
    assert starts == [0.0, 10.0, 20.0]
    assert sum(c.count for c in counts) == 11


@pytest.mark.parametrize("name", ["intruders", "parked", "crowd", "counts", "hardhats"])
def test_the_same_detections_object_gives_what_fresh_copies_give(name: str) -> None:
    # Between detector runs a camera passes one Detections object frame after frame; rules may
    # keep what they derived from it. The outcome must not differ from fresh, equal objects.
    held = [
        dets([(1, 0, 20, 50), (2, 0, 30, 60), (3, 0, 35, 70), (4, 2, 40, 80)], [0.1] * 4),
        dets([(1, 0, 160, 50), (2, 0, 30, 60), (3, 0, 35, 70), (4, 2, 40, 80)], [0.1] * 4),
        dets([], []),
        dets([(5, 0, 10, 50), (6, 2, 45, 90)], [0.2, np.nan]),
    ]
    shared: list[Detections] = []
    copies: list[Detections] = []
    for d in held:
        for _ in range(12):  # 2.4 s each at 5 fps: long enough for every rule to fire
            shared.append(d)
            copies.append(d[np.arange(len(d))])
    same, fresh = run(rule(name), shared), run(rule(name), copies)
    assert [(u.phase, u.event.track_id, u.event.start, u.event.end) for u in same[0]] == [
        (u.phase, u.event.track_id, u.event.start, u.event.end) for u in fresh[0]
    ]
    assert same[1] == fresh[1]
    assert same[0] or same[1], "the scenario makes the rule report something"


def test_every_rule_kind_the_config_accepts_has_a_builder_of_that_kind() -> None:
    config = parse_config(CONFIG)
    assert buildable_kinds() == set(RULE_KINDS) == {r.kind for r in config.rules.values()}
    for built in build_rules(config):
        assert built.kind == config.rules[built.name].kind


def looks(worker: tuple[int, int, float, float], p: float, side: float = 30.0) -> Detections:
    """A new look (a new Detections object) at one person: P(hard hat) and the head's side."""
    return dets([worker], hardhat=[p]).with_data(HEAD_SIDE_KEY, np.array([side]))


def test_hardhat_decides_over_the_looks_of_a_track_and_says_how() -> None:
    r = rule("hardhats")
    r.use_band((0.3, 0.7))
    worker = (5, 0, 30.0, 70.0)
    # Unknown looks (in the band, or a head too small) wait; the decided ones vote.
    frames = [looks(worker, 0.5) for _ in range(3)] + [looks(worker, 0.1, 8.0) for _ in range(2)]
    frames += [looks(worker, 0.9)] + [looks(worker, 0.2) for _ in range(2)]
    held = looks(worker, 0.15)
    frames += [held] * 10  # one look, held while the detector does not run
    updates, _ = run(r, frames)
    assert phases(updates) == [("start", 5), ("end", 5)]
    start, end = updates[0].event, updates[-1].event
    # At 1.2 s a bare look ties with the hard-hat one and is the later; then bare ones outvote
    # it. The rule's second runs from 1.2 s.
    assert start.start == pytest.approx(1.2) and start.snapshot_at == pytest.approx(2.2)
    assert end.details["looks"] == 9 and end.details["decided"] == 4
    assert end.details["agreeing"] == 3
    assert end.details["hardhat_probability"] == pytest.approx(0.2)  # the highest during it


def test_hardhat_unknown_looks_never_fire() -> None:
    r = rule("hardhats")
    r.use_band((0.3, 0.7))
    worker = (5, 0, 30.0, 70.0)
    updates, _ = run(r, [looks(worker, 0.4)] * 10 + [looks(worker, 0.05, side=6.0)] * 10)
    assert updates == []


def test_a_configured_threshold_replaces_the_band() -> None:
    config = parse_config(CONFIG.replace("seconds: 1}", "seconds: 1, threshold: 0.6}", 1))
    (r,) = [r for r in build_rules(config) if r.name == "hardhats"]
    r.use_band((0.3, 0.7))  # the classifier's band does not override the config
    updates, _ = run(r, [looks((5, 0, 30.0, 70.0), 0.5)] * 12)
    assert phases(updates) == [("start", 5), ("end", 5)]


def test_a_group_label_is_reported_by_its_name() -> None:
    config = parse_config(
        CONFIG.replace("labels: [car], seconds: 3", "labels: [vehicle], seconds: 3").replace(
            "labels: [person, car], interval", "labels: [person, vehicle, bus], interval"
        )
    )
    rules = {r.name: r for r in build_rules(config)}
    bus, phone = (1, 5, 30.0, 80.0), (2, 67, 30.0, 50.0)  # a car from above: "cell phone"
    updates, _ = run(rules["parked"], [dets([bus, phone])] * 20)
    assert {u.event.label for u in updates} == {"vehicle"}
    frames = [dets([(3, 5, 60.0 + 4 * i, 90.0)]) for i in range(20)]  # a bus crossing the gate
    _, counts = run(rules["counts"], frames)
    assert [(c.label, c.count) for c in counts] == [("vehicle", 1)]  # listed first as a vehicle
