"""Irreversible blurring of faces, heads and licence plates in every frame that leaves the engine.

Four sources of regions, so that one miss is covered by another:

- faces that CenterFace finds (low threshold, boxes enlarged): where people and vehicles were
  detected, in crops around them (at the whole frame's scale, so the same faces, for the
  pixels of the crops only), plus a coarse look at the whole frame for faces large in it; over
  the whole frame when nobody was detected (a person the detector missed) or when the crops
  would cover most of it;
- the head band (top of the box) of every ``person`` detection;
- licence plates that the plate detector (:class:`~citybrain.vision.plates.PlateDetector`)
  finds inside each vehicle box (the ``vehicle`` group, whatever the detector called it), at
  any position on the vehicle: only where vehicles are, so a camera without vehicles pays
  nothing;
- the plate band (bottom of the box) of every vehicle detection, as a backstop.

Each region is a rectangle, pixelated to a few coarse blocks (block averages: the detail is gone
for good; a plain Gaussian alone could be partly inverted), then blurred across blocks and
upsampled smoothly (no block edges left to read). Rectangles rather than ellipses: measured on the
development face clip, a blurred ellipse keeps the head's silhouette, in which CenterFace still
finds a "face" with score 0.3-0.6. With 4 blocks over a 1.8x face box the best such score is
0.05 (3-4 blocks, 1.8-2x: at most 0.07; 5-6 blocks or 1.6x: up to 0.2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from citybrain.core.detections import Detections, FloatArray, label_ids
from citybrain.core.frame import Image
from citybrain.vision.centerface import CenterFace
from citybrain.vision.plates import PlateDetector, plate_regions

__all__ = ["Anonymiser", "AnonymiserConfig"]

IntBoxes = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class AnonymiserConfig:
    """What the anonymiser blurs, and how hard.

    Attributes:
        faces: blur the faces the face detector finds.
        heads: blur the head band of every person detection.
        plates: blur licence plates (detected plates and the band backstop).
        plate_detection: look for plates inside vehicle boxes with the plate detector; off,
            only the band is blurred.
        plate_band: ``"always"``: the band on every vehicle, as well as the plates found;
            ``"missing"``: only on vehicles on which no plate was found.
        plate_margin: detected plate boxes grow by this share of their longer side on every
            side before blurring.
        plate_crop_side: each vehicle box (grown by ``vehicle_context``) is scaled so that its
            longer side is this many pixels before the plate detector looks at it.
        plate_frame_side: the plate detector also looks at the whole frame scaled down to
            this longer side (a coarse look, for plates large in the frame: close-ups of
            vehicles the object detector misses); 0: only in vehicle boxes.
        vehicle_context: vehicle boxes grow by this share of their width and height on every
            side before the plate detector looks in them (a plate at the box's edge, a box a
            little behind a moving car).
        face_threshold: minimum face score; low, because a missed face is worse than a blurred
            patch of wall.
        face_input_size: long side, in pixels, the face detector sees.
        face_scale: face boxes are enlarged by this factor about their centre (hair, ears,
            chin: the silhouette a detector or a person recognises a head by).
        face_threads: ONNX Runtime threads of the face detector.
        face_search: ``"crops"``: look for faces around detected people and vehicles (and in
            a coarse look at the whole frame), the whole frame only when nothing was detected
            or the crops would cover most of it; ``"frame"``: always the whole frame.
        face_context: person and vehicle boxes grow by this share of their width and height on
            every side before faces are looked for in them (a box a little behind a walker).
        face_crop_share: crops covering more than this share of the frame: the whole frame is
            looked at instead (as cheap, and nothing at a crop's edge).
        face_frame_side: the long side of the coarse whole-frame look of ``"crops"`` (faces
            large in the frame, of people the detector missed); 0: none.
        face_crop_factor: in crops, faces are taken from this share of ``face_threshold``: a
            crop's edges take context the network sees in the whole frame (measured on the
            development clips: borderline faces at 0.26 there scored 0.20-0.25 in crops).
        head_fraction: the top fraction of a person box that is blurred.
        plate_fraction: the bottom fraction of a vehicle box that is blurred.
        blocks: a region is pixelated to this many blocks along its longer side.
        min_block: the smallest block, in pixels.
        person_labels: class names treated as people (COCO names).
        vehicle_labels: class names treated as vehicles with plates (COCO names).
    """

    faces: bool = True
    heads: bool = True
    plates: bool = True
    face_threshold: float = 0.25
    face_input_size: int = 640
    face_scale: float = 1.8
    face_threads: int = 1
    face_search: str = "crops"
    face_context: float = 0.3
    face_crop_share: float = 0.5
    face_frame_side: int = 320
    face_crop_factor: float = 0.75
    head_fraction: float = 0.22
    plate_fraction: float = 0.4
    plate_detection: bool = True
    plate_band: str = "always"
    plate_margin: float = 0.35
    plate_crop_side: int = 256
    plate_frame_side: int = 320
    vehicle_context: float = 0.1
    blocks: int = 4
    min_block: int = 4
    person_labels: tuple[str, ...] = ("person",)
    vehicle_labels: tuple[str, ...] = ("vehicle",)

    def __post_init__(self) -> None:
        # face_threshold comes from a camera's config, whose AnonymiseSection holds its range.
        for name in ("head_fraction", "plate_fraction"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"AnonymiserConfig.{name} must be in (0, 1], got {value}")
        if self.face_scale < 1:
            raise ValueError(f"AnonymiserConfig.face_scale must be >= 1, got {self.face_scale}")
        if self.blocks < 1 or self.min_block < 1:
            raise ValueError("AnonymiserConfig.blocks and min_block must be at least 1")
        if self.face_search not in ("crops", "frame"):
            raise ValueError(f"AnonymiserConfig.face_search must be 'crops' or 'frame', "
                             f"got {self.face_search!r}")  # fmt: skip
        if self.plate_band not in ("always", "missing"):
            raise ValueError(f"AnonymiserConfig.plate_band must be 'always' or 'missing', "
                             f"got {self.plate_band!r}")  # fmt: skip


class Anonymiser:
    """Blurs faces, heads and plates; the only way a frame leaves the engine.

    Args:
        config: what to blur.
        face_detector: a ready detector; built from ``config`` (and the model found by
            :func:`citybrain.vision.centerface.find_model`) when omitted and faces are on.
        plate_detector: a ready plate detector; the packaged one is loaded when omitted and
            plate detection is on.

    Raises:
        ModelError: faces are on and the face model cannot be found or loaded.

    Example:
        >>> safe = Anonymiser().apply(frame.image, detections)  # doctest: +SKIP
    """

    def __init__(
        self,
        config: AnonymiserConfig | None = None,
        face_detector: CenterFace | None = None,
        plate_detector: PlateDetector | None = None,
    ) -> None:
        self.config = config or AnonymiserConfig()
        cfg = self.config
        if cfg.faces and face_detector is None:
            face_detector = CenterFace(
                input_size=cfg.face_input_size,
                threshold=cfg.face_threshold,
                threads=cfg.face_threads,
            )
        self._faces = face_detector if cfg.faces else None
        if cfg.plates and cfg.plate_detection and plate_detector is None:
            plate_detector = PlateDetector(threads=cfg.face_threads)
        self._plates = plate_detector if cfg.plates and cfg.plate_detection else None
        self._person_ids = label_ids(cfg.person_labels)
        self._vehicle_ids = label_ids(cfg.vehicle_labels)
        self._carrier_ids = np.concatenate([self._person_ids, self._vehicle_ids])
        #: How often faces were looked for in the whole frame and in crops (for measurements).
        self.face_looks = {"frame": 0, "crops": 0}

    def apply(self, image: Image, detections: Detections, *, whole_frame: bool = False) -> Image:
        """A new image with every face, head and plate region irreversibly blurred.

        Args:
            image: ``(H, W, 3)`` uint8 BGR pixels; left unchanged.
            detections: the objects found in ``image`` (COCO class ids).
            whole_frame: look for faces over the whole image whatever ``face_search`` says
                (the objects were found on another stream's frame of the same view: a face
                may have moved out of their boxes).

        Returns:
            A copy of ``image`` in which the regions are pixelated and blurred.
        """
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
        height, width = image.shape[:2]
        out = image.copy()
        for box in _clip(self.regions(image, detections, whole_frame=whole_frame), width, height):
            _obscure(out, box, self.config)
        return out

    def regions(
        self, image: Image, detections: Detections, *, whole_frame: bool = False
    ) -> FloatArray:
        """The ``(K, 4)`` boxes :meth:`apply` blurs, in pixels, not yet clipped to the image.

        Faces come last, so that each is pixelated on its own grid after the head bands: a
        band's lower edge across a pixelated face leaves a face-like blob (measured on the
        first frame of face-demographics-walking-and-pause: CenterFace 0.32 on the anonymised
        frame with the bands after the faces, at most 0.05 with the faces last).
        """
        cfg = self.config
        parts = [np.zeros((0, 4), dtype=np.float32)]
        if cfg.heads:
            people = detections.xyxy[np.isin(detections.class_id, self._person_ids)]
            parts.append(_band(people, cfg.head_fraction, top=True))
        if cfg.plates:
            vehicles = detections.xyxy[np.isin(detections.class_id, self._vehicle_ids)]
            parts.append(self._plate_regions(image, vehicles))
        if self._faces is not None:
            boxes = self.faces(image, detections, whole_frame=whole_frame)
            parts.append(_scale_about_centre(boxes, cfg.face_scale))
        return np.concatenate(parts).astype(np.float32)

    def faces(
        self, image: Image, detections: Detections, *, whole_frame: bool = False
    ) -> FloatArray:
        """The face boxes found (not enlarged), as ``face_search`` says to look for them (over
        the whole frame with ``whole_frame``)."""
        cfg, finder = self.config, self._faces
        if finder is None:
            return np.zeros((0, 4), np.float32)
        carriers = np.isin(detections.class_id, self._carrier_ids)
        height, width = image.shape[:2]
        crops = _clip(_grow(detections.xyxy[carriers], cfg.face_context), width, height)
        area = float(np.prod(crops[:, 2:] - crops[:, :2], axis=1).sum())
        whole = not len(crops) or area > cfg.face_crop_share * width * height
        if cfg.face_search == "frame" or whole or whole_frame:
            self.face_looks["frame"] += 1
            return finder.detect(image, cfg.face_threshold)[0]
        self.face_looks["crops"] += 1
        threshold = cfg.face_threshold * cfg.face_crop_factor
        found = [finder.detect_in(image, crops.astype(np.float32), threshold)[0]]
        if cfg.face_frame_side:  # a coarse look: faces large in the frame, people missed
            coarse = finder.detect(image, cfg.face_threshold, input_size=cfg.face_frame_side)
            found.append(coarse[0])
        return np.concatenate(found).astype(np.float32)

    def _plate_regions(self, image: Image, vehicles: FloatArray) -> FloatArray:
        """The plates found inside ``vehicles`` (with their margin) and the band backstop."""
        cfg = self.config
        if self._plates is None:
            return _band(vehicles, cfg.plate_fraction, top=False)
        found = [np.zeros((0, 4), np.float32)]
        if cfg.plate_frame_side:
            found.append(self._plates.detect(image, max_side=cfg.plate_frame_side)[0])
        if len(vehicles):
            looked = _grow(vehicles, cfg.vehicle_context)
            found.append(self._plates.detect_in(image, looked, side=cfg.plate_crop_side)[0])
        return plate_regions(
            np.concatenate(found), vehicles, cfg.plate_fraction, band=cfg.plate_band,
            margin=cfg.plate_margin,
        )  # fmt: skip


def _scale_about_centre(boxes: FloatArray, factor: float) -> FloatArray:
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) * (factor / 2)
    return np.concatenate([centre - half, centre + half], axis=1).astype(np.float32)


def _grow(boxes: FloatArray, share: float) -> FloatArray:
    """Boxes grown on every side by ``share`` of their width and height."""
    pad = (boxes[:, 2:] - boxes[:, :2]) * share
    return np.concatenate([boxes[:, :2] - pad, boxes[:, 2:] + pad], axis=1).astype(np.float32)


def _band(boxes: FloatArray, fraction: float, *, top: bool) -> FloatArray:
    """The top (or bottom) ``fraction`` of each box's height, full width."""
    band = boxes.copy()
    height = boxes[:, 3] - boxes[:, 1]
    if top:
        band[:, 3] = boxes[:, 1] + height * fraction
    else:
        band[:, 1] = boxes[:, 3] - height * fraction
    return band


def _clip(boxes: FloatArray, width: int, height: int) -> IntBoxes:
    """Integer pixel boxes that cover ``boxes`` (rounded outwards), inside the image, non-empty."""
    lo = np.floor(boxes[:, :2])
    hi = np.ceil(boxes[:, 2:])
    limits = np.array([width, height], dtype=np.float32)
    lo = np.clip(lo, 0, limits)
    hi = np.clip(hi, 0, limits)
    keep = np.all(hi - lo >= 1, axis=1)
    return np.concatenate([lo, hi], axis=1)[keep].astype(np.int32)


def _obscure(out: Image, box: IntBoxes, cfg: AnonymiserConfig) -> None:
    """Pixelates, then blurs, ``out`` inside ``box`` in place."""
    x1, y1, x2, y2 = (int(v) for v in box)
    roi = out[y1:y2, x1:x2]
    h, w = roi.shape[:2]
    block = max(cfg.min_block, math.ceil(max(h, w) / cfg.blocks))
    blocks = cv2.resize(
        roi, (max(1, round(w / block)), max(1, round(h / block))), interpolation=cv2.INTER_AREA
    )
    # Blurring at block scale, then upsampling smoothly, approximates a Gaussian a block wide on
    # the pixelated region, at a cost that does not grow with the kernel.
    blocks = cv2.GaussianBlur(blocks, (3, 3), 0, borderType=cv2.BORDER_REPLICATE)
    roi[...] = cv2.resize(blocks, (w, h), interpolation=cv2.INTER_LINEAR)
