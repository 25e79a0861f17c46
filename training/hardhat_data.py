"""Head crops for training the hard-hat classifier, and the augmentation applied to them.

Crops are cut once, with the run-time functions of :mod:`citybrain.vision.hardhat`, into
in-memory uint8 arrays. Training crops take random context around the labelled head box (the
run-time crop comes from a rough head region of a person box, not a tight head box); validation
crops take the fixed context that evaluation and run time use. Each crop also carries where the
head is inside it (centre and side, as fractions of the crop), the target of the head locator.
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
from citybrain.vision.hardhat import HEAD_CONTEXT, crop_regions, expand_boxes

__all__ = [
    "CONTEXT_RANGE",
    "Crops",
    "augment",
    "bald_scalp",
    "context_jitter",
    "head_targets",
    "load_crops",
]

#: Training context: a head box grows by a random factor in this range (log-uniform) about a
#: jittered centre, as rough as head regions of person boxes are (and rougher: the locator
#: learns to find the head in regions up to three times its size).
CONTEXT_RANGE = (1.1, 3.0)
#: Centre jitter, as a fraction of the head box side.
CENTRE_JITTER = 0.3
#: Smallest side a crop is shrunk to before it is scaled back up (far-away CCTV heads: a 12 px
#: head in a 1.6x region is about 19 px).
MIN_BLUR_SIDE = 10


@dataclass(frozen=True, slots=True)
class Crops:
    """Head crops, their labels, and where the head is in each.

    Attributes:
        images: ``(N, S, S, 3)`` uint8 BGR crops.
        hardhat: ``(N,)`` bool, True where the head wears a hard hat.
        head: ``(N, 3)`` float32 head centre x, y and side (the mean of width and height), as
            fractions of the crop's side.
    """

    images: Image
    hardhat: npt.NDArray[np.bool_]
    head: FloatArray


def context_jitter(
    xyxy: FloatArray, rng: np.random.Generator, context: tuple[float, float] = CONTEXT_RANGE
) -> FloatArray:
    """Head boxes grown by a random context factor about a randomly shifted centre."""
    side = np.maximum(xyxy[:, 2:] - xyxy[:, :2], 1.0)
    shift = rng.uniform(-CENTRE_JITTER, CENTRE_JITTER, size=side.shape) * side
    centre = (xyxy[:, :2] + xyxy[:, 2:]) / 2 + shift
    low, high = np.log(context)
    log_factor = rng.uniform(low, high, size=(len(side), 1))
    half = side * np.exp(log_factor) / 2
    return np.concatenate([centre - half, centre + half], axis=1).astype(np.float32)


def head_targets(heads: FloatArray, regions: FloatArray) -> FloatArray:
    """Where each head box lies in the square crop :func:`crop_regions` cuts from its region."""
    side = np.maximum(regions[:, 2:] - regions[:, :2], 2.0).max(axis=1, keepdims=True)
    origin = (regions[:, :2] + regions[:, 2:]) / 2 - side / 2
    centre = ((heads[:, :2] + heads[:, 2:]) / 2 - origin) / side
    head_side = (heads[:, 2:] - heads[:, :2]).mean(axis=1, keepdims=True) / side
    return np.concatenate([centre, head_side], axis=1).astype(np.float32)


def load_crops(
    split_dir: Path,
    *,
    size: int,
    variants: int,
    rng: np.random.Generator | None,
    context: float = HEAD_CONTEXT,
) -> Crops:
    """Crops of every labelled head in a split.

    Args:
        split_dir: a YOLO-format split.
        size: the side of the crops, in pixels.
        variants: crops per head box, each with its own random context (training).
        rng: the random source of the context; ``None`` for one crop per box at the fixed
            ``context`` (validation).
        context: the fixed context factor where ``rng`` is ``None``.
    """
    images, labels, heads = [], [], []
    for item in read_split(split_dir):
        image = load_image(item.image)
        xyxy = item.pixel_xyxy(image.shape[1], image.shape[0])
        for _ in range(1 if rng is None else variants):
            regions = expand_boxes(xyxy, context) if rng is None else context_jitter(xyxy, rng)
            images.append(crop_regions(image, regions, size))
            labels.append(item.hardhat)
            heads.append(head_targets(xyxy, regions))
    return Crops(np.concatenate(images), np.concatenate(labels), np.concatenate(heads))


def bald_scalp(crop: Image, head: FloatArray, rng: np.random.Generator) -> Image:
    """A bare head made bald: the top of the head painted over with a smooth dome of the colour
    just below it (forehead or neck), with a bright highlight, as a lamp makes a shaved scalp
    shine. A negative that breaks the shortcut "round, bright, smooth top = hard hat"; the
    dataset has few bald heads, and a bald man was taken for a hard hat on a development clip.
    """
    out = crop.copy()
    size = crop.shape[0]
    cx, cy, side = (float(v) * size for v in head)
    if side < 6:
        return out
    band = crop[int(max(cy, 0)) : int(min(cy + 0.25 * side, size)),
                int(max(cx - 0.15 * side, 0)) : int(min(cx + 0.15 * side, size))]  # fmt: skip
    if band.size == 0:
        return out
    colour = np.median(band.reshape(-1, 3), axis=0)
    # The dome stays inside the labelled head box (whose upper half is hair or scalp): a dome
    # above the head would be the shape of a hard hat.
    centre = (round(cx), round(cy - rng.uniform(0.08, 0.14) * side))
    axes = (round(side * rng.uniform(0.38, 0.46)), round(side * rng.uniform(0.34, 0.4)))
    dome = np.zeros_like(out)
    dome[:] = colour
    shine = np.zeros(out.shape[:2], np.float32)
    spot = (centre[0] + round(rng.uniform(-0.1, 0.1) * side), centre[1] - round(0.3 * side))
    cv2.ellipse(shine, spot, (max(axes[0] // 3, 1), max(axes[1] // 6, 1)), 0, 0, 360, 1.0, -1)
    shine = cv2.GaussianBlur(shine, (0, 0), max(side / 12, 0.8)) * rng.uniform(0.2, 0.6)
    mask = np.zeros(out.shape[:2], np.float32)
    cv2.ellipse(mask, centre, axes, 0, 180, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), max(side / 25, 0.6))[..., None]
    lit = dome.astype(np.float32) + (255 - dome.astype(np.float32)) * shine[..., None]
    blended = out.astype(np.float32) * (1 - mask) + lit * mask
    out = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    return out


def augment(
    batch: Image,
    head: FloatArray,
    rng: np.random.Generator,
    *,
    hue: float,
    hardhat: npt.NDArray[np.bool_] | None = None,
    bald: float = 0.0,
) -> tuple[Image, FloatArray]:
    """Randomly flipped, colour-jittered, sometimes blurred, shrunk or greyed copies of crops.

    Args:
        batch: ``(N, S, S, 3)`` uint8 crops.
        head: ``(N, 3)`` head positions in them (flips move the centre).
        rng: the random source.
        hue: the share of crops whose hue is rotated by a random angle: a yellow or white
            hard hat must not be recognised by its colour alone (blonde or grey hair, a bald
            scalp under a lamp), nor a bare head by not being yellow.
        hardhat: the crops' labels (needed for ``bald``).
        bald: the share of crops without a hard hat made bald (:func:`bald_scalp`).

    Returns:
        The augmented crops and head positions.
    """
    out, head = batch.copy(), head.copy()
    n, size = len(out), out.shape[1]
    if hardhat is not None and bald > 0:
        for i in np.flatnonzero(~hardhat & (rng.random(n) < bald)):
            out[i] = bald_scalp(out[i], head[i], rng)
    flip = rng.random(n) < 0.5
    out[flip] = out[flip, :, ::-1]
    head[flip, 0] = 1.0 - head[flip, 0]
    for i in np.flatnonzero(rng.random(n) < 0.35):
        out[i] = _shrink(out[i], rng)
    for i in np.flatnonzero(rng.random(n) < 0.1):
        out[i] = cv2.GaussianBlur(out[i], (0, 0), rng.uniform(0.5, 1.5) * size / 48)
    for i in np.flatnonzero(rng.random(n) < hue):
        hsv = cv2.cvtColor(out[i], cv2.COLOR_BGR2HSV)
        hsv[..., 0] = (hsv[..., 0].astype(np.int32) + int(rng.integers(0, 180))) % 180
        out[i] = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    pixels = out.astype(np.float32)
    # Washed-out CCTV colour: blend towards grey (fully grey now and then, as infrared night).
    grey = pixels.mean(axis=3, keepdims=True)
    saturation = rng.uniform(0.3, 1.3, size=(n, 1, 1, 1))
    saturation[rng.random(n) < 0.1] = 0.0
    pixels = grey + (pixels - grey) * saturation
    gain = rng.uniform(0.6, 1.4, size=(n, 1, 1, 1)) * rng.uniform(0.85, 1.15, size=(n, 1, 1, 3))
    bias = rng.uniform(-30, 30, size=(n, 1, 1, 1))
    mean = pixels.mean(axis=(1, 2, 3), keepdims=True)
    contrast = rng.uniform(0.7, 1.3, size=(n, 1, 1, 1))
    pixels = (pixels - mean) * contrast + mean
    pixels = pixels * gain + bias
    result: Image = np.clip(pixels + 0.5, 0, 255).astype(np.uint8)
    return result, head


def _shrink(crop: Image, rng: np.random.Generator) -> Image:
    size = crop.shape[0]
    side = int(rng.integers(MIN_BLUR_SIDE, size // 2 + 1))
    small = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
    up = cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR)
    return np.asarray(up, dtype=np.uint8)
