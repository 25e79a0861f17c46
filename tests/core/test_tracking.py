from __future__ import annotations

import numpy as np

from citybrain.core.detections import Detections
from citybrain.core.tracking import Tracker, TrackerSettings


def frame(*boxes: tuple[float, float, float, float], data: list[float] | None = None) -> Detections:
    n = len(boxes)
    d = Detections(
        xyxy=np.array(boxes, dtype=np.float32).reshape(-1, 4),
        confidence=np.full(n, 0.9),
        class_id=np.zeros(n),
    )
    return d.with_data("tag", np.array(data if data is not None else range(n), dtype=float))


def test_two_walkers_keep_their_ids_and_rows_stay_aligned() -> None:
    tracker = Tracker()
    ids = []
    for i in range(10):
        a = (10 + 3 * i, 10, 40 + 3 * i, 90)
        b = (200 - 3 * i, 10, 230 - 3 * i, 90)
        # Alternate the input order: output must stay in input order with data aligned.
        dets = frame(a, b, data=[1.0, 2.0]) if i % 2 else frame(b, a, data=[2.0, 1.0])
        out = tracker.update(dets, timestamp=i * 0.2)
        by_tag = dict(zip(out.data["tag"].tolist(), out.tracker_id.tolist(), strict=True))
        ids.append(by_tag)
    confirmed = ids[2:]
    assert all(d == confirmed[0] for d in confirmed)
    assert confirmed[0][1.0] != confirmed[0][2.0]
    assert -1 not in confirmed[0].values()


def test_short_gap_keeps_id_long_gap_does_not() -> None:
    tracker = Tracker()
    box = (10, 10, 40, 90)
    for i in range(4):
        first = tracker.update(frame(box), timestamp=i * 0.2)
    tracker.update(frame(), timestamp=1.0)  # missed for one frame
    again = tracker.update(frame(box), timestamp=1.4)
    assert again.tracker_id.tolist() == first.tracker_id.tolist()
    tracker.update(frame(), timestamp=2.0)
    for i in range(3):
        later = tracker.update(frame(box), timestamp=20.0 + i * 0.2)
    assert later.tracker_id[0] != first.tracker_id[0]


def test_empty_frames() -> None:
    out = Tracker().update(Detections.empty(), timestamp=0.0)
    assert len(out) == 0


def test_a_track_never_changes_class() -> None:
    tracker = Tracker()
    box = (10, 10, 40, 90)

    def one(class_id: int, t: float) -> int:
        d = Detections(xyxy=np.array([box]), confidence=np.array([0.9]), class_id=[class_id])
        return int(tracker.update(d, timestamp=t).tracker_id[0])

    hydrant = [one(10, i * 0.2) for i in range(4)]
    person = [one(0, 0.8 + i * 0.2) for i in range(4)]
    assert hydrant[-1] > 0 and person[-1] > 0
    assert hydrant[-1] != person[-1]


def test_ids_are_unique_across_classes() -> None:
    tracker = Tracker()
    for i in range(4):
        d = Detections(
            xyxy=np.array([[10, 10, 40, 90], [100, 10, 140, 90]]),
            confidence=np.array([0.9, 0.9]),
            class_id=[0, 2],
        )
        out = tracker.update(d, timestamp=i * 0.2)
    assert len(set(out.tracker_id.tolist())) == 2 and -1 not in out.tracker_id


def test_a_walker_who_stops_keeps_the_id_across_a_long_gap_between_updates() -> None:
    # The motion gate runs the detector sparsely once someone stands still: the filter must
    # not carry their walking speed across the gap (1 s at 60 px/s, then 2.8 s standing).
    tracker = Tracker()
    for i in range(6):
        x = 10 + 12 * i
        walking = tracker.update(frame((x, 10, x + 80, 210)), timestamp=i * 0.2)
    standing = tracker.update(frame((70, 10, 150, 210)), timestamp=3.8)
    assert walking.tracker_id[0] >= 0
    assert standing.tracker_id.tolist() == walking.tracker_id.tolist()


def test_without_the_step_cap_the_same_walker_would_split() -> None:
    tracker = Tracker(TrackerSettings(max_step_seconds=100.0))
    for i in range(6):
        x = 10 + 12 * i
        walking = tracker.update(frame((x, 10, x + 80, 210)), timestamp=i * 0.2)
    standing = tracker.update(frame((70, 10, 150, 210)), timestamp=3.8)
    assert standing.tracker_id.tolist() != walking.tracker_id.tolist()


def vehicles(*rows: tuple[int, float, tuple[float, float, float, float]]) -> Detections:
    """rows: (class id, confidence, box)."""
    return Detections(
        xyxy=np.array([box for _, _, box in rows], dtype=np.float32).reshape(-1, 4),
        confidence=np.array([c for _, c, _ in rows], dtype=np.float32),
        class_id=np.array([k for k, _, _ in rows]),
    )


CAR, BUS, PHONE = 2, 5, 67
VEHICLE = (CAR, 3, BUS, 7, PHONE, 28)


def test_a_group_keeps_one_track_when_the_detector_changes_its_mind() -> None:
    # Seen from above, one car is a cell phone, then a bus, then a car (measured on
    # car-detection.mp4): tracked as one class, it keeps one id.
    labels = [PHONE, PHONE, BUS, BUS, CAR, CAR]
    grouped = Tracker(TrackerSettings(groups=(VEHICLE,)))
    split = Tracker()
    ids, split_ids = [], []
    for i, label in enumerate(labels):
        box = (100, 300 - 20 * i, 180, 420 - 20 * i)
        ids.append(int(grouped.update(vehicles((label, 0.7, box)), i * 0.4).tracker_id[0]))
        split_ids.append(int(split.update(vehicles((label, 0.7, box)), i * 0.4).tracker_id[0]))
    assert ids[0] == -1 and len(set(ids[1:])) == 1 and ids[1] > 0
    assert len({i for i in split_ids if i > 0}) == 3  # one per label without the group


def test_one_object_under_two_labels_of_a_group_is_one_detection() -> None:
    tracker = Tracker(TrackerSettings(groups=(VEHICLE,)))
    car, bus = (CAR, 0.6, (100, 100, 200, 180)), (BUS, 0.7, (104, 98, 204, 182))
    person = (0, 0.9, (102, 100, 130, 180))  # not in the group: kept beside the car
    out = tracker.update(vehicles(car, bus, person), 0.0)
    assert sorted(out.class_id.tolist()) == [0, BUS]
    apart = tracker.update(vehicles(car, (BUS, 0.7, (300, 100, 400, 180))), 0.4)
    assert len(apart) == 2  # two vehicles side by side stay two


def test_one_confident_look_gives_an_id_that_the_track_keeps() -> None:
    tracker = Tracker()
    box, other = (10, 10, 40, 90), (300, 10, 330, 90)
    first = tracker.update(vehicles((0, 0.9, box), (0, 0.6, other)), 0.0)
    assert first.tracker_id[0] > 0 and first.tracker_id[1] == -1  # the hesitant one waits
    # The refresh, 3 s later, sees both again (less sure of the first): both are tracks now,
    # the first under the id its first look gave it.
    confirmed = tracker.update(vehicles((0, 0.6, box), (0, 0.6, other)), 3.0)
    assert confirmed.tracker_id[0] == first.tracker_id[0]
    assert confirmed.tracker_id[1] > first.tracker_id[0]


def test_a_provisional_id_that_is_never_confirmed_is_not_reused() -> None:
    tracker = Tracker()
    ghost = tracker.update(vehicles((0, 0.95, (10, 10, 40, 90))), 0.0)
    tracker.update(vehicles(), 0.4)  # not seen again: the track dies unconfirmed
    tracker.update(vehicles(), 5.0)
    other = tracker.update(vehicles((0, 0.95, (200, 10, 240, 90))), 5.4)
    assert ghost.tracker_id[0] > 0 and other.tracker_id[0] > ghost.tracker_id[0]
