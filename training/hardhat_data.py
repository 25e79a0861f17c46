"""Head crops for training the hard-hat classifier, and the augmentation applied to them.

Crops are cut once, with the run-time functions of :mod:`citybrain.vision.hardhat`, into
in-memory uint8 arrays. Training crops take random context around the labelled head box (the
run-time crop comes from a rough head region of a person box, not a tight head box); validation
crops take the fixed context that evaluation and run time use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from citybrain.commands.hardhat import load_image, read_split
from citybrain.core.detections import FloatArray
from citybrain.core.frame import Image
from citybrain.vision.hardhat import CROP_SIZE, HEAD_CONTEXT, crop_regions, expand_boxes

__all__ = ["CONTEXT_RANGE", "Crops", "augment", "context_jitter", "load_crops"]

#: Training context: a head box grows by a random factor in this range (log-uniform, geometric
#: middle ``HEAD_CONTEXT``) about a jittered centre, as rough as head regions of person boxes are.
CONTEXT_RANGE = (1.1, 2.3)
#: Centre jitter, as a fraction of the head box side.
CENTRE_JITTER = 0.25
#: Smallest side a crop is shrunk to before it is scaled back up (far-away CCTV heads).
MIN_BLUR_SIDE = 10


@dataclass(frozen=True, slots=True)
class Crops:
    """Head crops and their labels.

    Attributes:
        images: ``(N, CROP_SIZE, CROP_SIZE, 3)`` uint8 BGR crops.
        hardhat: ``(N,)`` bool, True where the head wears a hard hat.
    """

    images: Image
    hardhat: npt.NDArray[np.bool_]


def context_jitter(xyxy: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Head boxes grown by a random context factor about a randomly shifted centre."""
    side = np.maximum(xyxy[:, 2:] - xyxy[:, :2], 1.0)
    shift = rng.uniform(-CENTRE_JITTER, CENTRE_JITTER, size=side.shape) * side
    centre = (xyxy[:, :2] + xyxy[:, 2:]) / 2 + shift
    low, high = np.log(CONTEXT_RANGE)
    log_factor = rng.uniform(low, high, size=(len(side), 1))
    half = side * np.exp(log_factor) / 2
    return np.concatenate([centre - half, centre + half], axis=1).astype(np.float32)


def load_crops(split_dir: Path, *, variants: int, rng: np.random.Generator | None) -> Crops:
    """Crops of every labelled head in a split.

    Args:
        split_dir: a YOLO-format split.
        variants: crops per head box, each with its own random context (training).
        rng: the random source of the context; ``None`` for the fixed run-time context
            (:data:`HEAD_CONTEXT`, one crop per box: validation).
    """
    images, labels = [], []
    for item in read_split(split_dir):
        image = load_image(item.image)
        xyxy = item.pixel_xyxy(image.shape[1], image.shape[0])
        if rng is None:
            images.append(crop_regions(image, expand_boxes(xyxy, HEAD_CONTEXT)))
            labels.append(item.hardhat)
            continue
        for _ in range(variants):
            images.append(crop_regions(image, context_jitter(xyxy, rng)))
            labels.append(item.hardhat)
    return Crops(np.concatenate(images), np.concatenate(labels))


def augment(batch: Image, rng: np.random.Generator) -> Image:
    """A randomly flipped, colour-jittered, sometimes blurred or greyed copy of uint8 crops."""
    out = batch.copy()
    n = len(out)
    flip = rng.random(n) < 0.5
    out[flip] = out[flip, :, ::-1]
    for i in np.flatnonzero(rng.random(n) < 0.35):
        out[i] = _shrink(out[i], rng)
    for i in np.flatnonzero(rng.random(n) < 0.1):
        sigma = rng.uniform(0.5, 1.5)
        out[i] = cv2.GaussianBlur(out[i], (0, 0), sigma)
    pixels = out.astype(np.float32)
    # Washed-out CCTV colour: blend towards grey (fully grey now and then, as infrared night).
    grey = pixels.mean(axis=3, keepdims=True)
    saturation = rng.uniform(0.3, 1.3, size=(n, 1, 1, 1))
    saturation[rng.random(n) < 0.08] = 0.0
    pixels = grey + (pixels - grey) * saturation
    gain = rng.uniform(0.6, 1.4, size=(n, 1, 1, 1)) * rng.uniform(0.9, 1.1, size=(n, 1, 1, 3))
    bias = rng.uniform(-30, 30, size=(n, 1, 1, 1))
    mean = pixels.mean(axis=(1, 2, 3), keepdims=True)
    contrast = rng.uniform(0.7, 1.3, size=(n, 1, 1, 1))
    pixels = (pixels - mean) * contrast + mean
    pixels = pixels * gain + bias
    result: Image = np.clip(pixels + 0.5, 0, 255).astype(np.uint8)
    return result


def _shrink(crop: Image, rng: np.random.Generator) -> Image:
    side = int(rng.integers(MIN_BLUR_SIDE, CROP_SIZE // 2 + 1))
    small = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
    up = cv2.resize(small, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_LINEAR)
    return np.asarray(up, dtype=np.uint8)
