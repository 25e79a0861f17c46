"""Per-camera multi-object tracking (ByteTrack from Roboflow's ``trackers``), driven by timestamps.

Track ids are stable within one camera and meaningless outside it: a tracker is never shared
between cameras and ids are never linked across cameras.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import supervision as sv
from trackers import ByteTrackTracker
from trackers.core.bytetrack.tracklet import ByteTrackTracklet

from citybrain.core.detections import BoolArray, Detections, FloatArray, IntArray

__all__ = ["Tracker", "TrackerSettings", "unique_within_groups"]

_ROW = "_citybrain_row"


@dataclass(frozen=True, slots=True)
class TrackerSettings:
    """ByteTrack knobs, in seconds rather than frames so they do not depend on the analysis rate.

    Attributes:
        fps: the nominal analysis rate (frames per second).
        lost_seconds: how long (stream time) a track survives without a matching detection.
        activation: score a detection needs to start a new track.
        high_confidence: score above which detections take part in the first association pass.
        min_iou: IoU below which a detection cannot match a track.
        confirm_frames: updates a new track needs before it gets an id.
        confident: a detection at least this confident gets its track's id at once, on its
            first look (a parked car or a seated person is seen again only at the motion
            gate's refresh; a car crossing a line may be past it by its second look); the id
            is kept when the track is confirmed, and dropped with the track if it is not.
        max_step_seconds: the longest gap between updates the Kalman filter extrapolates over;
            a longer one counts as this long. The detector runs sparsely where little moves
            (the motion gate), and a walking person's velocity carried over a 2 s gap in which
            they stopped puts the prediction past their box, splitting the track.
        groups: sets of class ids tracked as one class (a label group such as ``vehicle``
            that a rule watches: a car seen from above is a car in one frame and a bus or a
            cell phone in the next, and must keep one track).
        group_iou: within a group, a box overlapping a better one of another member class by
            at least this IoU is the same object under a second label, and is dropped (the
            detector suppresses overlaps per class only).
    """

    fps: float = 5.0
    lost_seconds: float = 3.0
    activation: float = 0.45
    high_confidence: float = 0.5
    min_iou: float = 0.1
    confirm_frames: int = 2
    confident: float = 0.8
    max_step_seconds: float = 0.4
    groups: tuple[tuple[int, ...], ...] = ()
    group_iou: float = 0.5


class Tracker:
    """Assigns track ids to detections, one frame at a time (verb: :meth:`update`).

    One ByteTrack per class: ByteTrack itself ignores classes, and a class-blind tracker lets a
    person's track continue on an overlapping "sports ball" (the hard hat). The classes of a
    group (:attr:`TrackerSettings.groups`) share one ByteTrack, so that a vehicle keeps its track
    when the detector changes its mind about its class. Ids are unique across classes within
    the camera.
    """

    def __init__(self, settings: TrackerSettings | None = None) -> None:
        self._settings = settings or TrackerSettings()
        #: The ByteTrack each class id is tracked in (its own id unless it is in a group).
        self._key = _group_keys(self._settings.groups)
        self._trackers: dict[int, ByteTrackTracker] = {}
        self._ids: dict[tuple[int, int], int] = {}
        self._next_id = 1
        self._last_time: float | None = None
        self._clock = 0.0
        # Per class: stream time each live track was last matched to a detection.
        self._matched: dict[int, dict[ByteTrackTracklet, float]] = {}
        # Ids given to tracks on one confident look, before ByteTrack confirms them.
        self._provisional: dict[ByteTrackTracklet, int] = {}

    def update(self, detections: Detections, timestamp: float) -> Detections:
        """Match ``detections`` to tracks at ``timestamp`` (seconds).

        Returns:
            The same detections, in their original order, with ``tracker_id`` set (``-1`` for
            detections not yet confirmed as a track), less the second labels of one object
            within a group (see :attr:`TrackerSettings.group_iou`).
        """
        clock = self._step(timestamp)
        if self._settings.groups:
            detections = detections[
                unique_within_groups(detections, self._key, self._settings.group_iou)
            ]
        keys = np.array([self._key.get(c, c) for c in detections.class_id.tolist()], np.int64)
        tracker_id = np.full(len(detections), -1, dtype=np.int64)
        for key in sorted(set(keys.tolist()) | set(self._trackers)):
            rows = np.flatnonzero(keys == key)
            found = detections[rows]
            local = self._update_class(key, found, clock, timestamp)
            for i, (row, track) in enumerate(zip(rows.tolist(), local.tolist(), strict=True)):
                if track >= 0:
                    tracker_id[row] = self._global_id(key, track)
                else:
                    confident = bool(found.confidence[i] >= self._settings.confident)
                    tracker_id[row] = self._provisional_id(key, found.xyxy[i], confident)
        self._forget_dead()
        return detections.with_tracker_id(tracker_id)

    def _provisional_id(self, key: int, box: FloatArray, confident: bool) -> int:
        """The id of the unconfirmed track that ``box`` started or continued: the one it was
        given on a confident look, a new one if this look is confident, else ``-1``."""
        candidates = [
            t for t in self._trackers[key].tracks if t.tracker_id == -1 and t.time_since_update == 0
        ]
        if not candidates:
            return -1
        overlap = _iou(box, np.array([t.get_state_bbox() for t in candidates], dtype=np.float32))
        best = int(np.argmax(overlap))
        if overlap[best] < 0.5:
            return -1
        track = candidates[best]
        if track not in self._provisional:
            if not confident:
                return -1
            self._provisional[track] = self._new_id()
        return self._provisional[track]

    def _new_id(self) -> int:
        ident = self._next_id
        self._next_id += 1
        return ident

    def _step(self, timestamp: float) -> float:
        """The Kalman filter's clock at ``timestamp``: stream time with long gaps shortened."""
        last = self._last_time
        if last is not None and timestamp > last:
            self._clock += min(timestamp - last, self._settings.max_step_seconds)
        self._last_time = timestamp
        return self._clock

    def _expire(self, class_id: int, timestamp: float) -> None:
        """Drop tracks unmatched for more than ``lost_seconds`` of stream time.

        ``trackers`` counts its lost budget on the shortened clock, where sparse updates would
        keep a departed object's track for many times ``lost_seconds`` and hand its id to the
        next object that shows up in its place.
        """
        tracker = self._trackers[class_id]
        matched = self._matched.get(class_id, {})
        lost = self._settings.lost_seconds
        tracker.tracks = [
            track for track in tracker.tracks if timestamp - matched.get(track, timestamp) <= lost
        ]

    def _note_matches(self, class_id: int, timestamp: float) -> None:
        before = self._matched.get(class_id, {})
        self._matched[class_id] = {
            track: timestamp if track.time_since_update == 0 else before.get(track, timestamp)
            for track in self._trackers[class_id].tracks
        }

    def _update_class(
        self, class_id: int, detections: Detections, clock: float, timestamp: float
    ) -> IntArray:
        tracker = self._trackers.get(class_id)
        if tracker is None:
            tracker = self._trackers[class_id] = self._new_tracker()
        self._expire(class_id, timestamp)
        rows = np.arange(len(detections))
        sv_dets = sv.Detections(
            xyxy=detections.xyxy.astype(np.float32),
            confidence=detections.confidence.astype(np.float32),
            class_id=detections.class_id.astype(int),
            data={_ROW: rows},
        )
        tracked = tracker.update(sv_dets, timestamp=clock)
        self._note_matches(class_id, timestamp)
        local = np.full(len(detections), -1, dtype=np.int64)
        if len(tracked) and tracked.tracker_id is not None:
            local[np.asarray(tracked.data[_ROW], dtype=np.int64)] = tracked.tracker_id
        return local

    def _new_tracker(self) -> ByteTrackTracker:
        s = self._settings
        return ByteTrackTracker(
            # ``trackers`` reads this buffer as frames at 30 fps, whatever ``frame_rate`` says
            # (its time budget is ``lost_track_buffer / 30``), so express the seconds that way.
            lost_track_buffer=max(1, round(s.lost_seconds * 30)),
            frame_rate=s.fps,
            track_activation_threshold=s.activation,
            minimum_consecutive_frames=s.confirm_frames,
            minimum_iou_threshold=s.min_iou,
            high_conf_det_threshold=s.high_confidence,
        )

    def _global_id(self, class_id: int, local: int) -> int:
        key = (class_id, local)
        if key not in self._ids:
            # A track confirmed now keeps the id its first confident look gave it.
            tracks = self._trackers[class_id].tracks
            track = next((t for t in tracks if t.tracker_id == local), None)
            provisional = None if track is None else self._provisional.pop(track, None)
            self._ids[key] = self._new_id() if provisional is None else provisional
        return self._ids[key]

    def _forget_dead(self) -> None:
        """Drop id mappings of tracks the per-class trackers no longer hold (bounded memory)."""
        if self._provisional:
            live = {t for tracker in self._trackers.values() for t in tracker.tracks}
            self._provisional = {t: i for t, i in self._provisional.items() if t in live}
        if len(self._ids) < 256:
            return
        alive = {
            (class_id, int(track.tracker_id))
            for class_id, tracker in self._trackers.items()
            for track in tracker.tracks
        }
        self._ids = {key: value for key, value in self._ids.items() if key in alive}


def _group_keys(groups: tuple[tuple[int, ...], ...]) -> dict[int, int]:
    """Each grouped class id's tracker key: the smallest id of its group (groups that share a
    class are one group)."""
    key: dict[int, int] = {}
    for group in groups:
        roots = {key[c] for c in group if c in key}
        linked = set(group) | {member for member, root in key.items() if root in roots}
        for member in linked:
            key[member] = min(linked)
    return key


def unique_within_groups(detections: Detections, key: dict[int, int], iou: float) -> BoolArray:
    """Which detections to keep: of boxes whose classes share a group key and that overlap by
    ``iou`` or more, only the most confident (greedy, best first)."""
    keep = np.ones(len(detections), dtype=bool)
    grouped = np.array([c in key for c in detections.class_id.tolist()], dtype=bool)
    if grouped.sum() < 2:
        return keep
    keys = np.array([key.get(c, -1) for c in detections.class_id.tolist()], np.int64)
    order = np.argsort(-detections.confidence, kind="stable")
    xyxy = detections.xyxy
    for n, i in enumerate(order):
        if not keep[i] or not grouped[i]:
            continue
        later = order[n + 1 :]
        later = later[keep[later] & (keys[later] == keys[i])]
        if len(later):
            keep[later[_iou(xyxy[i], xyxy[later]) >= iou]] = False
    return keep


def _iou(box: FloatArray, boxes: FloatArray) -> FloatArray:
    lo = np.maximum(box[:2], boxes[:, :2])
    hi = np.minimum(box[2:], boxes[:, 2:])
    inter = np.clip(hi - lo, 0, None).prod(axis=1)
    area = np.clip(box[2:] - box[:2], 0, None).prod()
    areas = np.clip(boxes[:, 2:] - boxes[:, :2], 0, None).prod(axis=1)
    result: FloatArray = (inter / np.maximum(area + areas - inter, 1e-6)).astype(np.float32)
    return result
