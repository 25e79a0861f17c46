"""The composition root for one camera: frames in; tracked objects, events and safe frames out.

:class:`CameraPipeline` is a plain object built from a validated :class:`CameraConfig` and fed
frames, with no global state and no I/O of its own, so the command line (``analyze``), the
server's camera workers and, later, a Ray actor all run exactly the same code.

Per analysed frame: motion gate → detector (only when something moves that tracked boxes do
not explain, at most every ``min_interval_seconds``, or at the refresh interval while objects
are tracked; where the detector takes free input sizes, only in the crop around that motion,
at the whole frame's scale, see :mod:`citybrain.core.regions`) → tracker → hard-hat attribute
→ rules. Frames only leave through :meth:`CameraPipeline.render`, which anonymises them.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from citybrain.config.model import (
    AnonymiseSection,
    CameraConfig,
    DetectorSection,
    HardhatRuleConfig,
    MotionSection,
)
from citybrain.core.detections import BoolArray, Detections, FloatArray, group_ids
from citybrain.core.events import EventUpdate, LineCount
from citybrain.core.frame import Frame, Image
from citybrain.core.regions import Crop, RegionPlanner, explained, mostly_inside
from citybrain.core.tracking import Tracker, TrackerSettings
from citybrain.rules import HARDHAT_KEY, HEAD_SIDE_KEY, Observation, Rule, build_rules
from citybrain.rules.hardhat import HardhatRule
from citybrain.vision.anonymise import Anonymiser, AnonymiserConfig
from citybrain.vision.detector import Detector, DetectorSpec, RegionDetector, build_detector
from citybrain.vision.hardhat import HardhatClassifier, head_region
from citybrain.vision.models import locate
from citybrain.vision.motion import MotionConfig, MotionGate

__all__ = [
    "CameraPipeline",
    "DetectorBusyError",
    "FreshModels",
    "ModelSource",
    "PipelineResult",
    "PipelineStats",
    "Vision",
    "anonymiser_settings",
    "detector_spec",
    "motion_settings",
    "tracked_groups",
]

log = logging.getLogger(__name__)

#: Width of the grey thumbnails the motion gate works on (made by the reader's scaler).
MOTION_WIDTH = 200
#: Head regions smaller than this (pixels) are too coarse to judge a hard hat on.
MIN_HEAD_PIXELS = 8.0
#: Frame timestamps are sums of float steps: intervals this close count as equal.
_TIME_EPSILON = 1e-3


class DetectorBusyError(Exception):
    """A shared detector's queue is full: the frame is dropped (counted), never queued."""


@dataclass(frozen=True, slots=True)
class PipelineResult:
    """What one analysed frame produced."""

    frame: Frame
    detections: Detections
    updates: list[EventUpdate]
    counts: list[LineCount]
    detected: bool


@dataclass(slots=True)
class PipelineStats:
    """Counters of one camera pipeline.

    Attributes:
        frames_analysed: frames :meth:`CameraPipeline.process` was given.
        detector_frames: frames the detector looked at (whole or in a crop).
        detector_regions: of those, frames it looked at in a crop only.
        region_retries: crops that cut something new, looked at again whole.
        detector_dropped: frames a busy shared detector refused.
        events_started: events begun.
        events_ended: events ended.
    """

    frames_analysed: int = 0
    detector_frames: int = 0
    detector_regions: int = 0
    region_retries: int = 0
    detector_dropped: int = 0
    events_started: int = 0
    events_ended: int = 0


class ModelSource(Protocol):
    """Where a camera's models come from: loaded for it alone (:class:`FreshModels`, for
    ``analyze``) or shared between a worker's cameras (the runtime's ``VisionPool``)."""

    def detector(self, spec: DetectorSpec) -> Detector: ...

    def hardhat(self) -> HardhatClassifier: ...

    def anonymiser(self, settings: AnonymiserConfig) -> Anonymiser: ...


class FreshModels:
    """Loads every model it is asked for (a :class:`ModelSource`)."""

    def detector(self, spec: DetectorSpec) -> Detector:
        return build_detector(spec)

    def hardhat(self) -> HardhatClassifier:
        return HardhatClassifier()

    def anonymiser(self, settings: AnonymiserConfig) -> Anonymiser:
        return Anonymiser(settings)


@dataclass(slots=True)
class Vision:
    """The models a pipeline uses; shared between cameras where they are thread-safe.

    Attributes:
        detector: the object detector (or a batching front of a shared one).
        hardhat: the hard-hat classifier, needed only when a ``hardhat_required`` rule exists.
        anonymiser: the privacy filter every outgoing frame goes through.
    """

    detector: Detector
    hardhat: HardhatClassifier | None = None
    anonymiser: Anonymiser | None = None

    @classmethod
    def load(
        cls, config: CameraConfig, *, threads: int | None = None, models: ModelSource | None = None
    ) -> Vision:
        """The models ``config`` asks for, from ``models`` (default: loaded afresh).

        This is the one place that decides which models a camera needs and with what settings.
        Weights come from the set-up (``citybrain models fetch``): they are looked up here, never
        downloaded.

        Raises:
            ModelError: a model file is missing or fails its checksum.
        """
        models = models or FreshModels()
        needs_hardhat = any(isinstance(r, HardhatRuleConfig) for r in config.rules.values())
        anonymiser = None
        if config.anonymise.enabled:
            anonymiser = models.anonymiser(anonymiser_settings(config.anonymise))
        return cls(
            detector=models.detector(detector_spec(config.detector, threads)),
            hardhat=models.hardhat() if needs_hardhat else None,
            anonymiser=anonymiser,
        )


def detector_spec(section: DetectorSection, threads: int | None = None) -> DetectorSpec:
    """The detector a validated config section asks for (its model file looked up locally).

    Raises:
        ModelError: the model file is missing or fails its checksum.
    """
    return DetectorSpec(
        family=section.family,
        path=locate(section.model, allow_download=False),
        input_size=section.input_size,
        confidence=section.confidence,
        nms_iou=section.nms_iou,
        threads=threads,
    )


def tracked_groups(config: CameraConfig) -> tuple[tuple[int, ...], ...]:
    """The label groups a camera's rules watch (``vehicle``), as class ids tracked as one class."""
    groups: list[tuple[int, ...]] = []
    for rule in config.rules.values():
        for group in group_ids(getattr(rule, "labels", [])):
            if group not in groups:
                groups.append(group)
    return tuple(groups)


def anonymiser_settings(section: AnonymiseSection) -> AnonymiserConfig:
    """The anonymiser's settings from a validated config section."""
    return AnonymiserConfig(face_threshold=section.face_threshold, face_search=section.face_search)


def motion_settings(section: MotionSection) -> MotionConfig:
    """The motion gate's settings from a validated config section."""
    return MotionConfig(
        frame_width=MOTION_WIDTH, threshold=section.threshold, min_area=section.min_area
    )


class CameraPipeline:
    """Analyses one camera's frames (verb: :meth:`process`).

    Args:
        config: the camera's validated config.
        vision: the models to use.
        wall_origin: POSIX time of stream time 0, for weekly rule schedules; ``None`` = always on.
    """

    def __init__(
        self, config: CameraConfig, vision: Vision, *, wall_origin: float | None = None
    ) -> None:
        self.config = config
        self.name = config.camera.name
        self.stats = PipelineStats()
        self._vision = vision
        self._wall_origin = wall_origin
        self._gate = MotionGate(motion_settings(config.motion)) if config.motion.enabled else None
        # A standing person missed at one refresh keeps their track until the next.
        lost = max(TrackerSettings().lost_seconds, 2 * config.motion.refresh_seconds)
        self._tracker = Tracker(
            TrackerSettings(fps=config.camera.fps, lost_seconds=lost, groups=tracked_groups(config))
        )
        self.rules: list[Rule] = build_rules(config)
        hardhat_rules = [r for r in self.rules if isinstance(r, HardhatRule)]
        self._needs_hardhat = bool(hardhat_rules)
        if hardhat_rules and vision.hardhat is None:
            raise ValueError(f"camera {self.name!r} has a hardhat_required rule but no classifier")
        for rule in hardhat_rules:
            if vision.hardhat is not None:
                rule.use_band(vision.hardhat.band)
        if vision.anonymiser is None:
            log.warning(
                "anonymisation is OFF for camera %r: its snapshots and live frames show faces "
                "and licence plates; turn it back on unless a legal basis requires raw video",
                self.name,
            )
        self._refresh = config.motion.refresh_seconds
        self._min_interval = config.motion.min_interval_seconds
        detector = vision.detector
        #: The detector, where it may look at crops (``motion.regions`` and free input sizes).
        self._cropper: RegionDetector | None = None
        if config.motion.regions and isinstance(detector, RegionDetector):
            self._cropper = detector
        self._planner = RegionPlanner()
        self._tracked = Detections.empty()
        self._last_detect: float | None = None
        self._last_time = 0.0
        # Rules from data replace the rules while frames flow (see replace_rules).
        self._rules_lock = threading.Lock()
        self._pending_rules: tuple[CameraConfig, Vision] | None = None
        #: Detections confident enough to start a track but not yet one: look again soon.
        self._confirm_due = False
        settings = TrackerSettings()
        self._confident = max(settings.activation, settings.high_confidence)

    def process(self, frame: Frame) -> PipelineResult:
        """Analyse one sampled frame."""
        ended, closed = self._take_new_rules()
        self.stats.frames_analysed += 1
        self._last_time = frame.timestamp
        detected = False
        look = self._plan(frame)
        if look is not None:
            try:
                raw = self._detect(frame, look)
            except DetectorBusyError:
                self.stats.detector_dropped += 1
            else:
                detected = True
                self.stats.detector_frames += 1
                self._last_detect = frame.timestamp
                tracked = self._tracker.update(raw, frame.timestamp)
                self._tracked = self._attributes(frame.image, tracked)
                # One look starts a track; the look that confirms it need not wait for the
                # refresh. A confirming look never asks for another (bounded cost).
                self._confirm_due = not self._confirm_due and self._unconfirmed()
        observation = Observation(
            camera=self.name,
            timestamp=frame.timestamp,
            width=frame.width,
            height=frame.height,
            detections=self._tracked,
            wall_time=None if self._wall_origin is None else self._wall_origin + frame.timestamp,
        )
        updates: list[EventUpdate] = ended
        counts: list[LineCount] = closed
        for rule in self.rules:
            result = rule.evaluate(observation)
            updates += result.updates
            counts += result.counts
        self._count(updates)
        return PipelineResult(frame, self._tracked, updates, counts, detected)

    def close(self) -> tuple[list[EventUpdate], list[LineCount]]:
        """End open events and flush counts at the last frame's time (the stream ended)."""
        updates: list[EventUpdate] = []
        counts: list[LineCount] = []
        for rule in self.rules:
            result = rule.close(self._last_time)
            updates += result.updates
            counts += result.counts
        self._count(updates)
        return updates, counts

    def render(
        self, image: Image, detections: Detections | None = None, *, whole_frame: bool = False
    ) -> Image:
        """The frame as it may leave the engine: anonymised (unless switched off for the camera).

        With ``whole_frame``, faces are looked for over the whole frame (``detections`` come
        from another stream's frame of the same view)."""
        dets = self._tracked if detections is None else detections
        if self._vision.anonymiser is None:
            return image.copy()
        return self._vision.anonymiser.apply(image, dets, whole_frame=whole_frame)

    def _plan(self, frame: Frame) -> Crop | _Whole | None:
        """Where the detector looks at ``frame``: the whole frame, a crop, or nowhere."""
        if self._gate is None:
            return _WHOLE
        # The gate sees every frame, detected or not, so that its background stays current.
        motion = self._gate.detect(frame)
        if self._last_detect is None:
            return _WHOLE
        since = frame.timestamp - self._last_detect
        if len(self._tracked) and since >= self._refresh:
            return self._refresh_look(frame, motion.regions)
        if self._confirm_due and since >= self._min_interval - _TIME_EPSILON:
            # A still newcomer (a parked car, a seated person) makes no more motion: without
            # this look it would wait for the refresh before it is a track and has its events.
            return self._refresh_look(frame, motion.regions)
        # Someone fidgeting inside their own box has not gone anywhere: only motion that the
        # tracked boxes do not explain (a newcomer, a leading edge) needs the detector, and
        # following it a few times a second is enough for the tracker (its Kalman filter
        # bridges the frames between).
        unexplained = ~explained(motion.regions, self._tracked.xyxy)
        if not unexplained.any() or since < self._min_interval - _TIME_EPSILON:
            return None
        return self._crop(frame, motion.regions, unexplained)

    def _unconfirmed(self) -> bool:
        """Whether a detection is confident enough to have started a track, but has no id yet."""
        tracked = self._tracked
        return bool(((tracked.tracker_id < 0) & (tracked.confidence >= self._confident)).any())

    def _refresh_look(self, frame: Frame, motion: FloatArray) -> Crop | _Whole:
        """The area of the tracked objects (and of any motion): a refresh is for them."""
        areas = np.concatenate([self._tracked.xyxy, motion])
        return self._crop(frame, areas, np.ones(len(areas), dtype=bool))

    def _crop(self, frame: Frame, areas: FloatArray, unexplained: BoolArray) -> Crop | _Whole:
        """The crop around ``areas[unexplained]``, or the whole frame where no crop will do."""
        cropper = self._cropper
        scale = None if cropper is None else cropper.frame_scale(frame.height, frame.width)
        if scale is None:
            return _WHOLE
        size = (frame.width, frame.height)
        crop = self._planner.plan(areas, unexplained, self._tracked.xyxy, size, scale)
        return _WHOLE if crop is None else crop

    def _detect(self, frame: Frame, look: Crop | _Whole) -> Detections:
        """Raw detections in ``frame``; for a crop, with the tracked objects outside it kept.

        Raises:
            DetectorBusyError: a shared detector's queue is full.
        """
        cropper = self._cropper
        if isinstance(look, _Whole) or cropper is None:
            (raw,) = self._vision.detector.detect([frame.image])
            return raw
        image = frame.image[look.y1 : look.y2, look.x1 : look.x2]
        (found,) = cropper.detect([image], [look.scale])
        found = look.to_frame(found)
        # Whatever is tracked outside the crop did not move (or moved within its box): it
        # stays where it was, as if the detector had found it there again. What the crop shows
        # of such an object (a piece at the crop's edge) is that object, not another one.
        kept = self._tracked[~look.contains(self._tracked.xyxy)]
        kept = Detections(xyxy=kept.xyxy, confidence=kept.confidence, class_id=kept.class_id)
        known = mostly_inside(found, kept)
        if (look.cut(found.xyxy, frame.width, frame.height) & ~known).any():
            # Something new reaches beyond the crop: only the whole frame shows it entire.
            self.stats.region_retries += 1
            (raw,) = cropper.detect([frame.image])
            return raw
        self.stats.detector_regions += 1
        return Detections.merge([found[~known], kept])

    def _attributes(self, image: Image, detections: Detections) -> Detections:
        """One look at each person's head: P(hard hat) and the side of the head the classifier
        located (NaN and 0 where the region is too small to look at); the hard-hat rules decide
        the looks and vote over tracks."""
        if not self._needs_hardhat or self._vision.hardhat is None:
            return detections
        probability = np.full(len(detections), np.nan, dtype=np.float32)
        side = np.zeros(len(detections), dtype=np.float32)
        people = np.flatnonzero(detections.class_id == 0)
        if len(people):
            heads = head_region(detections.xyxy[people])
            big_enough = (heads[:, 3] - heads[:, 1]) >= MIN_HEAD_PIXELS
            if big_enough.any():
                looks = self._vision.hardhat.assess(image, heads[big_enough])
                probability[people[big_enough]] = looks.probability
                side[people[big_enough]] = (looks.head[:, 2:] - looks.head[:, :2]).mean(axis=1)
        return detections.with_data(HARDHAT_KEY, probability).with_data(HEAD_SIDE_KEY, side)

    # --- rules replaced while running (rules from data, issue 12) ----------------------------

    def replace_rules(self, config: CameraConfig, vision: Vision) -> None:
        """Run ``config``'s rules and zones from the next frame on (thread-safe).

        ``config`` differs from the current one in its rules and zones only. Rules whose config
        (and zone or line) is unchanged carry on with their state; the others end their open
        events at the last frame's time (those updates come with the next frame's result) and
        new ones start. Tracks, the motion gate and the detector are untouched: the stream goes
        on. ``vision`` supplies the hard-hat classifier when a new rule needs it.
        """
        with self._rules_lock:
            self._pending_rules = (config, vision)

    def _take_new_rules(self) -> tuple[list[EventUpdate], list[LineCount]]:
        with self._rules_lock:
            pending, self._pending_rules = self._pending_rules, None
        if pending is None:
            return [], []
        config, vision = pending
        old = dict(zip(self.config.rules, self.rules, strict=True))
        built = dict(zip(config.rules, build_rules(config), strict=True))
        kept = {name for name in built if name in old and self._same_rule(name, config)}
        rules = [old[name] if name in kept else rule for name, rule in built.items()]
        hardhat = self._vision.hardhat or vision.hardhat
        needs_hardhat = any(isinstance(r, HardhatRule) for r in rules)
        if needs_hardhat and hardhat is None:
            log.error("camera %r: a hardhat_required rule but no classifier; rules kept", self.name)
            return [], []
        ended: list[EventUpdate] = []
        closed: list[LineCount] = []
        for name, rule in old.items():
            if name not in kept:
                result = rule.close(self._last_time)
                ended += result.updates
                closed += result.counts
        for rule in rules:
            if isinstance(rule, HardhatRule) and hardhat is not None:
                rule.use_band(hardhat.band)
        self._needs_hardhat = needs_hardhat
        self._vision = Vision(self._vision.detector, hardhat, self._vision.anonymiser)
        self.config, self.rules = config, rules
        self._count(ended)
        return ended, closed

    def _same_rule(self, name: str, config: CameraConfig) -> bool:
        """Whether rule ``name`` watches the same thing the same way in ``config`` as now."""
        before, after = self.config.rules[name], config.rules[name]
        if before != after:
            return False
        zone, line = getattr(before, "zone", None), getattr(before, "line", None)
        return (zone is None or self.config.zones.get(zone) == config.zones.get(zone)) and (
            line is None or self.config.lines.get(line) == config.lines.get(line)
        )

    def _count(self, updates: list[EventUpdate]) -> None:
        for update in updates:
            if update.phase == "start":
                self.stats.events_started += 1
            elif update.phase == "end":
                self.stats.events_ended += 1


@dataclass(frozen=True, slots=True)
class _Whole:
    """The detector looks at the whole frame."""


_WHOLE = _Whole()
