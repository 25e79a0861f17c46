"""Licence plates: where they are in a frame, so that they can be blurred; never what they say.

The packaged model (``weights/plates.onnx``, see ``weights/PLATES.md``) is a small centre-point
detector (CenterNet style: a heat map of plate centres at a quarter of the input's resolution,
with each centre's box size and sub-cell offset) trained by this project
(``training/train_plates.py``) from scratch. It is fully convolutional: a frame goes in at its own
size and aspect ratio (plates in CCTV frames are small: scaling a frame down loses them), only
frames larger than :attr:`PlateDetector.max_side` are scaled down.

This module also holds the measure the anonymiser is held to: the *sharpness* of a plate, the
variance of the Laplacian of its grey pixels (:func:`sharpness`); a plate is unreadable enough
when what leaves the engine keeps at most a third of its raw sharpness.

The preprocessing (:func:`normalise`) and the decoding (:func:`decode`) are the only ones: the
training script imports them.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from citybrain.core.detections import FloatArray
from citybrain.core.frame import Image
from citybrain.vision.onnx_runtime import SessionConfig, load_session

__all__ = [
    "STRIDE",
    "PlateDetector",
    "decode",
    "inside_any",
    "normalise",
    "plate_margin",
    "plate_regions",
    "sharpness",
]

#: Output cells per input pixel: the heat map is a quarter of the input's size.
STRIDE = 4
#: Inputs are padded to a multiple of this (the network's deepest stride).
_MULTIPLE = 32
_DEFAULT_THRESHOLD = 0.3


def normalise(image: Image) -> FloatArray:
    """``(H, W, 3)`` uint8 BGR as the network's ``(1, 3, H, W)`` float32 input in ``[-1, 1]``."""
    x = image.astype(np.float32) / 127.5 - 1.0
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def decode(
    heat: FloatArray, size: FloatArray, offset: FloatArray, threshold: float, top_k: int = 50
) -> tuple[FloatArray, FloatArray]:
    """Boxes from one image's network outputs, in input pixels.

    Args:
        heat: ``(h, w)`` plate-centre probabilities.
        size: ``(2, h, w)`` log of box width and height, in cells.
        offset: ``(2, h, w)`` where the centre lies within its cell, x and y in ``[0, 1]``.
        threshold: the lowest centre probability kept.
        top_k: at most this many boxes.

    Returns:
        ``(N, 4)`` float32 boxes ``x1, y1, x2, y2`` and ``(N,)`` float32 scores, best first.
    """
    # A centre is a local maximum of the heat map (3x3), as CenterNet does instead of NMS.
    peaks = heat >= cv2.dilate(heat, np.ones((3, 3), np.uint8))
    ys, xs = np.nonzero(peaks & (heat >= threshold))
    scores = heat[ys, xs]
    order = np.argsort(-scores)[:top_k]
    ys, xs, scores = ys[order], xs[order], scores[order]
    cx = (xs + offset[0, ys, xs]) * STRIDE
    cy = (ys + offset[1, ys, xs]) * STRIDE
    w = np.exp(np.clip(size[0, ys, xs], -3, 6)) * STRIDE
    h = np.exp(np.clip(size[1, ys, xs], -3, 6)) * STRIDE
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return boxes.astype(np.float32).reshape(-1, 4), scores.astype(np.float32)


def plate_margin(boxes: FloatArray, grow: float = 0.25, minimum: float = 2.0) -> FloatArray:
    """Plate boxes grown on every side by ``grow`` of their longer side (at least ``minimum``
    px): a detected box that is short, off, or only the middle of a tilted plate must still
    take the whole plate (measured on the selection split: 0.25 of the longer side left 3 of
    40 plates readable with the band backstop, 0.25 of the height 4)."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    side = (boxes[:, 2:] - boxes[:, :2]).max(axis=1) if len(boxes) else np.zeros(0, np.float32)
    pad = np.maximum(side * grow, minimum)[:, None]
    return np.concatenate([boxes[:, :2] - pad, boxes[:, 2:] + pad], axis=1).astype(np.float32)


def inside_any(
    plates: FloatArray, vehicles: FloatArray, share: float = 0.5
) -> npt.NDArray[np.bool_]:
    """For each vehicle box, whether at least ``share`` of some plate box lies inside it.

    Returns:
        ``(V,)`` bool: the vehicles a plate was found on (the others keep the band backstop).
    """
    plates = np.asarray(plates, dtype=np.float32).reshape(-1, 4)
    vehicles = np.asarray(vehicles, dtype=np.float32).reshape(-1, 4)
    if not len(plates) or not len(vehicles):
        return np.zeros(len(vehicles), dtype=bool)
    lo = np.maximum(vehicles[:, None, :2], plates[None, :, :2])
    hi = np.minimum(vehicles[:, None, 2:], plates[None, :, 2:])
    overlap = np.clip(hi - lo, 0, None).prod(axis=2)
    area = np.clip(plates[:, 2:] - plates[:, :2], 1e-6, None).prod(axis=1)
    found: npt.NDArray[np.bool_] = ((overlap / area[None]) >= share).any(axis=1)
    return found


def plate_regions(
    plates: FloatArray,
    vehicles: FloatArray,
    band_fraction: float = 0.4,
    *,
    band: str = "missing",
    margin: float = 0.25,
) -> FloatArray:
    """The regions to blur for licence plates: every detected plate (with a margin), and the
    bottom ``band_fraction`` of vehicle boxes.

    Args:
        plates: ``(P, 4)`` plate boxes from :meth:`PlateDetector.detect`.
        vehicles: ``(V, 4)`` vehicle boxes from the object detector.
        band_fraction: the share of a vehicle box's height, from its bottom, blurred as a
            backstop (the anonymiser's ``plate_fraction``).
        band: ``"missing"``: the band only on vehicles on which no plate was found (the
            backstop); ``"always"``: on every vehicle (measured safer: a wrong plate box on a
            vehicle no longer lifts the band from its real plate; see ``weights/PLATES.md``).
        margin: plate boxes grow by this share of their longer side (:func:`plate_margin`).

    Returns:
        ``(K, 4)`` float32 boxes, not clipped to the frame.
    """
    if band not in ("missing", "always"):
        raise ValueError(f"band must be 'missing' or 'always', got {band!r}")
    plates = np.asarray(plates, dtype=np.float32).reshape(-1, 4)
    vehicles = np.asarray(vehicles, dtype=np.float32).reshape(-1, 4)
    bare = vehicles if band == "always" else vehicles[~inside_any(plates, vehicles)]
    bands = bare.copy()
    bands[:, 1] = bare[:, 3] - (bare[:, 3] - bare[:, 1]) * band_fraction
    return np.concatenate([plate_margin(plates, margin), bands]).astype(np.float32)


def sharpness(image: Image, box: FloatArray) -> float:
    """Variance of the Laplacian of the grey pixels inside ``box`` (0 for an empty box).

    The Laplacian responds to the edges of characters; a blurred plate has few edges left.
    """
    height, width = image.shape[:2]
    x1, y1 = max(int(np.floor(box[0])), 0), max(int(np.floor(box[1])), 0)
    x2, y2 = min(int(np.ceil(box[2])), width), min(int(np.ceil(box[3])), height)
    if x2 - x1 < 3 or y2 - y1 < 3:
        return 0.0
    grey = cv2.cvtColor(np.ascontiguousarray(image[y1:y2, x1:x2]), cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


class PlateDetector:
    """Finds licence plates in frames, for blurring.

    Example:
        >>> plates = PlateDetector()
        >>> boxes, scores = plates.detect(frame.image)

    Args:
        model_path: an ONNX model with the packaged model's input and outputs; ``None`` loads
            the packaged weights.
        threads: ONNX Runtime intra-op threads.
        threshold: lowest centre score kept; ``None`` uses the model's own (chosen on valid).
        max_side: frames whose longer side exceeds this many pixels are scaled down to it;
            ``None`` uses the model's own.
    """

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        threads: int = 1,
        threshold: float | None = None,
        max_side: int | None = None,
    ) -> None:
        config = SessionConfig(threads=threads)
        if model_path is None:
            packaged = resources.files("citybrain.vision") / "weights" / "plates.onnx"
            with resources.as_file(packaged) as path:
                self._session, _ = load_session(path, config)
        else:
            self._session, _ = load_session(model_path, config)
        self._input = self._session.get_inputs()[0].name
        meta = self._session.get_modelmeta().custom_metadata_map
        #: The lowest centre score kept.
        self.threshold = (
            float(meta.get("threshold", _DEFAULT_THRESHOLD)) if threshold is None else threshold
        )
        #: The longest side of the network's input, in pixels.
        self.max_side = int(meta.get("max_side", 960)) if max_side is None else max_side

    def detect_in(
        self, image: Image, regions: FloatArray, side: int = 256
    ) -> tuple[FloatArray, FloatArray]:
        """Plate boxes inside ``regions`` (vehicle boxes) of ``image``, each region scaled so
        that its longer side is ``side`` pixels: a small, far-away vehicle's plate is looked at
        larger than in the whole frame.

        Returns:
            ``(N, 4)`` float32 boxes in the frame's pixels and ``(N,)`` scores.
        """
        height, width = image.shape[:2]
        boxes, scores = [np.zeros((0, 4), np.float32)], [np.zeros(0, np.float32)]
        for region in np.asarray(regions, dtype=np.float32).reshape(-1, 4):
            x1, y1 = max(int(region[0]), 0), max(int(region[1]), 0)
            x2, y2 = min(int(np.ceil(region[2])), width), min(int(np.ceil(region[3])), height)
            if x2 - x1 < 8 or y2 - y1 < 8:
                continue
            scale = side / max(x2 - x1, y2 - y1)
            crop = cv2.resize(
                image[y1:y2, x1:x2],
                (max(round((x2 - x1) * scale), 1), max(round((y2 - y1) * scale), 1)),
                interpolation=cv2.INTER_LINEAR,
            )
            found, score = self._run(np.asarray(crop, dtype=np.uint8))
            boxes.append(found / np.float32(scale) + np.array([x1, y1, x1, y1], np.float32))
            scores.append(score)
        return np.concatenate(boxes).astype(np.float32), np.concatenate(scores)

    def detect(self, image: Image, max_side: int | None = None) -> tuple[FloatArray, FloatArray]:
        """Plate boxes in ``image``.

        Args:
            image: ``(H, W, 3)`` uint8 BGR frame.
            max_side: scale the frame down so that its longer side is at most this many
                pixels (a coarse look, for plates large in the frame); ``None``: the
                detector's :attr:`max_side`.

        Returns:
            ``(N, 4)`` float32 boxes ``x1, y1, x2, y2`` in the frame's pixels and ``(N,)`` scores.
        """
        height, width = image.shape[:2]
        scale = min((max_side or self.max_side) / max(height, width), 1.0)
        w, h = max(round(width * scale), 1), max(round(height * scale), 1)
        resized = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        boxes, scores = self._run(np.asarray(resized, dtype=np.uint8))
        return boxes / np.float32(scale), scores

    def _run(self, image: Image) -> tuple[FloatArray, FloatArray]:
        """Boxes in ``image`` as given (padded to a multiple of 32)."""
        h, w = image.shape[:2]
        resized = image
        padded: Image = np.asarray(
            cv2.copyMakeBorder(
                resized, 0, -h % _MULTIPLE, 0, -w % _MULTIPLE, cv2.BORDER_CONSTANT, value=0
            ),
            dtype=np.uint8,
        )
        heat, size, offset = self._session.run(None, {self._input: normalise(padded)})
        boxes, scores = decode(heat[0, 0], size[0], offset[0], self.threshold)
        # Centres in the padding are not in the image: nothing there can be a plate.
        centre = (boxes[:, :2] + boxes[:, 2:]) / 2
        inside = np.all((centre >= 0) & (centre < np.array([w, h], np.float32)), axis=1)
        return boxes[inside], scores[inside]
