"""Hard-hat classification of head regions: does the person in a box wear a hard hat?

The analytics engine finds people with a COCO detector, maps each person box to a rough head
region with :func:`head_region`, and asks :class:`HardhatClassifier` for the probability that the
head in that region wears a hard hat. Caps, cowboy hats and hoods are not hard hats.

The packaged model (``weights/hardhat.onnx``, see ``weights/HARDHAT.md``) is a small CNN trained by
this project (``training/train_hardhat.py``). Besides P(hard hat) it says where the head is in the
crop: the classifier looks once at the rough region, and again at the head it located there, so
that a region much larger than the head, or off centre, is judged on the head itself.

A look is *decided* only where the head is large enough and P(hard hat) lies outside the model's
abstain band (:meth:`HardhatClassifier.assess`); otherwise it is unknown and a track waits for a
better look. The crop and normalisation functions below are the only preprocessing: the training
script imports them, so training and run time cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from citybrain.core.detections import FloatArray
from citybrain.core.frame import Image
from citybrain.core.headwear import HARDHAT, MIN_HEAD_SIDE, NO_HARDHAT, UNKNOWN, verdicts
from citybrain.vision.onnx_runtime import SessionConfig, load_session

__all__ = [
    "CROP_SIZE",
    "HARDHAT",
    "HEAD_CONTEXT",
    "MIN_HEAD_SIDE",
    "NO_HARDHAT",
    "UNKNOWN",
    "HardhatClassifier",
    "HeadLooks",
    "crop_regions",
    "expand_boxes",
    "head_region",
    "located_heads",
    "normalise",
    "verdicts",
]

#: Side in pixels of the square crop the network sees (models say theirs in ``crop_size``).
CROP_SIZE = 64
#: How much larger than a tight head box a head region is (the geometric middle of the training
#: range): evaluation on labelled head boxes expands them by this factor, as run time would.
HEAD_CONTEXT = 1.6
#: ``(pixel - MEAN) / STD`` per channel, BGR order, as in training.
MEAN = np.array([104.0, 114.0, 121.0], dtype=np.float32)
STD = np.array([58.0, 57.0, 59.0], dtype=np.float32)
#: Head region side as a fraction of the person box width and height (the smaller one wins).
#: On the person boxes labelled in the dataset's train and valid splits this gives regions a
#: median 1.4 times the head's side (detector boxes, with arms, are wider: more context).
_HEAD_OF_WIDTH = 0.9
_HEAD_OF_HEIGHT = 0.5
#: How far above the person box the head region starts, as a fraction of its side: detector
#: boxes often stop at the hair line and cut off the brim of a hard hat.
_ABOVE_TOP = 0.1
_MIN_SIDE = 2.0
_DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True, slots=True)
class HeadLooks:
    """One look at each of N heads.

    Attributes:
        probability: ``(N,)`` float32 P(hard hat).
        head: ``(N, 4)`` float32 the located head boxes ``x1, y1, x2, y2`` in pixels.
        verdict: ``(N,)`` int8 :data:`HARDHAT`, :data:`NO_HARDHAT` or :data:`UNKNOWN`.
    """

    probability: FloatArray
    head: FloatArray
    verdict: npt.NDArray[np.int8]


def located_heads(regions: FloatArray, head: FloatArray) -> FloatArray:
    """Head boxes in pixels from the network's head output for the crops of ``regions``.

    Args:
        regions: ``(N, 4)`` the regions the crops were cut from (each cut as the square of side
            ``max(w, h)`` about its centre, as :func:`crop_regions` does).
        head: ``(N, 3)`` head centre x, y and side as fractions of the crop's side.
    """
    regions = np.asarray(regions, dtype=np.float32).reshape(-1, 4)
    head = np.asarray(head, dtype=np.float32).reshape(-1, 3)
    side = np.maximum(regions[:, 2:] - regions[:, :2], _MIN_SIDE).max(axis=1)
    origin = (regions[:, :2] + regions[:, 2:]) / 2 - side[:, None] / 2
    centre = origin + head[:, :2] * side[:, None]
    half = np.clip(head[:, 2], 0.05, 1.5) * side / 2
    return np.concatenate([centre - half[:, None], centre + half[:, None]], axis=1).astype(
        np.float32
    )


def expand_boxes(boxes: FloatArray, factor: float) -> FloatArray:
    """Boxes scaled by ``factor`` about their centres."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) * (factor / 2)
    return np.concatenate([centre - half, centre + half], axis=1).astype(np.float32)


def head_region(person_xyxy: FloatArray) -> FloatArray:
    """Square head regions (with some context) at the top centre of person boxes.

    The side is ``min(0.9 * width, 0.5 * height)``: the width (about two head widths for an
    upright person with arms down) is the steadier cue for upright people, whole or cut off at
    the chest by the frame or an occluder, while the height term keeps the region small for wide
    boxes (arms spread, carrying something, bending over). The classifier is trained on regions
    from 1.1 to 2.3 times the head's size with the head off centre, since this guess is rough.
    The region starts a little above the box so that a hard-hat brim the detector cut off is in
    it. A person bent far over has the head at one side of the box, not in this region: the
    classifier then sees shoulders and back, so callers should rely on upright moments (tracks
    give several chances).

    Args:
        person_xyxy: ``(N, 4)`` person boxes in pixels.

    Returns:
        ``(N, 4)`` float32 head regions ``x1, y1, x2, y2``; they may reach outside the frame
        (:meth:`HardhatClassifier.classify` pads).
    """
    boxes = np.asarray(person_xyxy, dtype=np.float32).reshape(-1, 4)
    width = np.clip(boxes[:, 2] - boxes[:, 0], 0, None)
    height = np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    side = np.maximum(np.minimum(_HEAD_OF_WIDTH * width, _HEAD_OF_HEIGHT * height), _MIN_SIDE)
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    top = boxes[:, 1] - _ABOVE_TOP * side
    return np.stack([cx - side / 2, top, cx + side / 2, top + side], axis=1).astype(np.float32)


def crop_regions(image: Image, boxes: FloatArray, size: int = CROP_SIZE) -> Image:
    """Square ``size`` x ``size`` crops of ``boxes`` from a BGR image.

    Each box becomes the square of side ``max(width, height)`` around its centre, so heads keep
    their aspect ratio; parts outside the image repeat its edge pixels.

    Returns:
        ``(N, size, size, 3)`` uint8 crops.
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    crops = np.empty((len(boxes), size, size, 3), dtype=np.uint8)
    for i, box in enumerate(boxes):
        crops[i] = _crop_one(image, box, size)
    return crops


def _crop_one(image: Image, box: FloatArray, size: int) -> Image:
    height, width = image.shape[:2]
    side = max(float(box[2] - box[0]), float(box[3] - box[1]), _MIN_SIDE)
    x0 = round(float(box[0] + box[2]) / 2 - side / 2)
    y0 = round(float(box[1] + box[3]) / 2 - side / 2)
    n = max(round(side), 2)
    # Clamp so that at least one pixel of the image is inside the square.
    x0 = min(max(x0, 1 - n), width - 1)
    y0 = min(max(y0, 1 - n), height - 1)
    inside = image[max(y0, 0) : min(y0 + n, height), max(x0, 0) : min(x0 + n, width)]
    square = cv2.copyMakeBorder(
        inside,
        max(-y0, 0),
        max(y0 + n - height, 0),
        max(-x0, 0),
        max(x0 + n - width, 0),
        cv2.BORDER_REPLICATE,
    )
    interpolation = cv2.INTER_AREA if n > size else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(square, (size, size), interpolation=interpolation), np.uint8)


def normalise(crops: Image) -> FloatArray:
    """``(N, H, W, 3)`` uint8 BGR crops as the network's ``(N, 3, H, W)`` float32 input."""
    scaled = (crops.astype(np.float32) - MEAN) / STD
    return np.ascontiguousarray(scaled.transpose(0, 3, 1, 2))


class HardhatClassifier:
    """Probability that the head in each region wears a hard hat.

    Example:
        >>> classifier = HardhatClassifier()
        >>> p = classifier.classify(frame.image, head_region(people.xyxy))
        >>> no_hardhat = p < classifier.threshold
        >>> looks = classifier.assess(frame.image, head_region(people.xyxy))  # with abstaining

    Args:
        model_path: an ONNX model with the packaged model's input and outputs (a model with the
            ``p_hardhat`` output only is used in one pass); ``None`` loads the packaged weights.
        threads: ONNX Runtime intra-op threads.
    """

    def __init__(self, model_path: Path | None = None, *, threads: int = 1) -> None:
        config = SessionConfig(threads=threads)
        if model_path is None:
            packaged = resources.files("citybrain.vision") / "weights" / "hardhat.onnx"
            with resources.as_file(packaged) as path:
                self._session, _ = load_session(path, config)
        else:
            self._session, _ = load_session(model_path, config)
        self._input = self._session.get_inputs()[0].name
        self._locates = len(self._session.get_outputs()) > 1
        meta = self._session.get_modelmeta().custom_metadata_map
        #: The decision threshold chosen on the validation split (stored in the model).
        self.threshold = float(meta.get("threshold", _DEFAULT_THRESHOLD))
        #: P(hard hat) in ``[low, high)`` is too uncertain to decide (chosen on valid).
        self.band = (
            float(meta.get("abstain_low", self.threshold)),
            float(meta.get("abstain_high", self.threshold)),
        )
        self.crop_size = int(meta.get("crop_size", 48))
        self.context = float(meta.get("head_context", HEAD_CONTEXT))

    def classify(self, image: Image, boxes: FloatArray) -> FloatArray:
        """P(hard hat) for each head region.

        Args:
            image: ``(H, W, 3)`` uint8 BGR frame.
            boxes: ``(N, 4)`` head regions ``x1, y1, x2, y2`` in pixels, with context around the
                head as :func:`head_region` gives (or tight head boxes expanded by
                :data:`HEAD_CONTEXT`).

        Returns:
            ``(N,)`` float32 probabilities; empty for no boxes.
        """
        return self.assess(image, boxes).probability

    def assess(
        self, image: Image, boxes: FloatArray, *, min_side: float = MIN_HEAD_SIDE
    ) -> HeadLooks:
        """One look at the head in each region: P(hard hat), where the head is, and a verdict.

        A model that locates heads looks twice: at the region, then at the head it found there
        grown by the model's head context (the context it was validated at).
        """
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        if len(boxes) == 0:
            empty = np.zeros(0, dtype=np.float32)
            return HeadLooks(empty, np.zeros((0, 4), np.float32), np.zeros(0, np.int8))
        probability, head = self._run(image, boxes)
        if head is None:
            heads = expand_boxes(boxes, 1 / self.context)
        else:
            heads = located_heads(boxes, head)
            probability, _ = self._run(image, expand_boxes(heads, self.context))
        side = (heads[:, 2:] - heads[:, :2]).mean(axis=1)
        return HeadLooks(probability, heads, verdicts(probability, side, self.band, min_side))

    def _run(self, image: Image, boxes: FloatArray) -> tuple[FloatArray, FloatArray | None]:
        batch = normalise(crop_regions(image, boxes, self.crop_size))
        outputs = self._session.run(None, {self._input: batch})
        probability = np.asarray(outputs[0], dtype=np.float32).reshape(-1)
        if not self._locates:
            return probability, None
        return probability, np.asarray(outputs[1], dtype=np.float32).reshape(-1, 3)
