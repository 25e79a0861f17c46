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

from citybrain.core.detections import Detections, IntArray

__all__ = ["Tracker", "TrackerSettings"]

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
        max_step_seconds: the longest gap between updates the Kalman filter extrapolates over;
            a longer one counts as this long. The detector runs sparsely where little moves
            (the motion gate), and a walking person's velocity carried over a 2 s gap in which
            they stopped puts the prediction past their box, splitting the track.
    """

    fps: float = 5.0
    lost_seconds: float = 3.0
    activation: float = 0.45
    high_confidence: float = 0.5
    min_iou: float = 0.1
    confirm_frames: int = 2
    max_step_seconds: float = 0.4


class Tracker:
    """Assigns track ids to detections, one frame at a time (verb: :meth:`update`).

    One ByteTrack per class: ByteTrack itself ignores classes, and a class-blind tracker lets a
    person's track continue on an overlapping "sports ball" (the hard hat) or a car's on a truck
    box. Ids are unique across classes within the camera.
    """

    def __init__(self, settings: TrackerSettings | None = None) -> None:
        self._settings = settings or TrackerSettings()
        self._trackers: dict[int, ByteTrackTracker] = {}
        self._ids: dict[tuple[int, int], int] = {}
        self._next_id = 1
        self._last_time: float | None = None
        self._clock = 0.0
        # Per class: stream time each live track was last matched to a detection.
        self._matched: dict[int, dict[ByteTrackTracklet, float]] = {}

    def update(self, detections: Detections, timestamp: float) -> Detections:
        """Match ``detections`` to tracks at ``timestamp`` (seconds).

        Returns:
            The same detections, in their original order, with ``tracker_id`` set (``-1`` for
            detections not yet confirmed as a track).
        """
        clock = self._step(timestamp)
        tracker_id = np.full(len(detections), -1, dtype=np.int64)
        classes = set(detections.class_id.tolist()) | set(self._trackers)
        for class_id in sorted(classes):
            rows = np.flatnonzero(detections.class_id == class_id)
            local = self._update_class(class_id, detections[rows], clock, timestamp)
            for row, track in zip(rows.tolist(), local.tolist(), strict=True):
                if track >= 0:
                    tracker_id[row] = self._global_id(class_id, track)
        self._forget_dead()
        return detections.with_tracker_id(tracker_id)

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
            self._ids[key] = self._next_id
            self._next_id += 1
        return self._ids[key]

    def _forget_dead(self) -> None:
        """Drop id mappings of tracks the per-class trackers no longer hold (bounded memory)."""
        if len(self._ids) < 256:
            return
        alive = {
            (class_id, int(track.tracker_id))
            for class_id, tracker in self._trackers.items()
            for track in tracker.tracks
        }
        self._ids = {key: value for key, value in self._ids.items() if key in alive}
