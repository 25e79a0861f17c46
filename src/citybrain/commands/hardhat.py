"""``citybrain hardhat``: measure the hard-hat classifier on a labelled YOLO-format split.

A split is a folder with ``images/`` and ``labels/``; each label file holds ``class cx cy w h``
lines (normalised), class 0 a head without a hard hat, 1 a head with one; other classes and lines
that are not five fields (polygons) are skipped. The training script reads splits with
:func:`read_split` too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.progress import Progress

from citybrain.commands.hardhat_command import app
from citybrain.core.detections import FloatArray
from citybrain.core.frame import Image
from citybrain.core.headwear import HARDHAT, NO_HARDHAT, UNKNOWN
from citybrain.errors import ConfigError
from citybrain.vision.hardhat import HEAD_CONTEXT, HardhatClassifier, expand_boxes

__all__ = [
    "LabelledImage", "Scores", "abstain_figures", "app", "evaluate_split", "load_image",
    "read_split", "score",
]  # fmt: skip

HEAD_CLASS = 0
HELMET_CLASS = 1
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass(frozen=True, slots=True)
class LabelledImage:
    """One image of a split and its head boxes.

    Attributes:
        image: the image file.
        boxes: ``(N, 4)`` float32 boxes ``cx, cy, w, h`` normalised to the image size.
        hardhat: ``(N,)`` bool, True where the head wears a hard hat.
    """

    image: Path
    boxes: FloatArray
    hardhat: npt.NDArray[np.bool_]

    def pixel_xyxy(self, width: int, height: int) -> FloatArray:
        """The boxes as ``x1, y1, x2, y2`` pixels of a ``width`` x ``height`` image."""
        scale = np.array([width, height, width, height], dtype=np.float32)
        cxcy, wh = self.boxes[:, :2], self.boxes[:, 2:]
        return (np.concatenate([cxcy - wh / 2, cxcy + wh / 2], axis=1) * scale).astype(np.float32)


def read_split(split_dir: Path) -> list[LabelledImage]:
    """The images of a YOLO-format split that have at least one head or helmet box, by name.

    Raises:
        ConfigError: ``split_dir`` lacks ``images/`` or ``labels/``, or holds no head boxes.
    """
    images_dir, labels_dir = split_dir / "images", split_dir / "labels"
    if not images_dir.is_dir() or not labels_dir.is_dir():
        raise ConfigError(
            f"{split_dir} is not a YOLO-format split: it needs images/ and labels/ folders"
        )
    images = {p.stem: p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    split = []
    for label_file in sorted(labels_dir.glob("*.txt")):
        image = images.get(label_file.stem)
        if image is None:
            continue
        boxes, hardhat = _parse_labels(label_file)
        if len(boxes):
            split.append(LabelledImage(image, boxes, hardhat))
    if not split:
        raise ConfigError(f"{split_dir} holds no labelled head (0) or helmet (1) boxes")
    return split


def _parse_labels(path: Path) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    rows: list[list[float]] = []
    for line in path.read_text().splitlines():
        fields = line.split()
        if len(fields) != 5 or fields[0] not in (str(HEAD_CLASS), str(HELMET_CLASS)):
            continue
        rows.append([float(f) for f in fields])
    table = np.array(rows, dtype=np.float32).reshape(-1, 5)
    return table[:, 1:], table[:, 0] == HELMET_CLASS


def load_image(path: Path) -> Image:
    """A BGR image file.

    Raises:
        ConfigError: the file cannot be decoded.
    """
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ConfigError(f"cannot decode image {path}")
    return np.asarray(image, dtype=np.uint8)


@dataclass(frozen=True, slots=True)
class Scores:
    """Classification figures of a split at one threshold."""

    threshold: float
    n_helmet: int
    n_head: int
    accuracy: float
    recall_helmet: float
    recall_head: float

    @property
    def balanced_accuracy(self) -> float:
        """The mean of the two per-class recalls."""
        return (self.recall_helmet + self.recall_head) / 2


def score(probability: FloatArray, hardhat: npt.NDArray[np.bool_], threshold: float) -> Scores:
    """Figures for P(hard hat) ``probability`` against the labels ``hardhat``."""
    predicted = probability >= threshold
    n_helmet, n_head = int(hardhat.sum()), int((~hardhat).sum())
    return Scores(
        threshold=threshold,
        n_helmet=n_helmet,
        n_head=n_head,
        accuracy=float((predicted == hardhat).mean()) if len(hardhat) else 0.0,
        recall_helmet=float(predicted[hardhat].sum() / max(n_helmet, 1)),
        recall_head=float((~predicted[~hardhat]).sum() / max(n_head, 1)),
    )


def _classify_split(
    classifier: HardhatClassifier, split: list[LabelledImage], *, progress: bool
) -> tuple[FloatArray, npt.NDArray[np.int8], npt.NDArray[np.bool_]]:
    probabilities, verdicts, labels = [], [], []
    for item in _tracked(split, progress=progress):
        image = load_image(item.image)
        regions = expand_boxes(item.pixel_xyxy(image.shape[1], image.shape[0]), HEAD_CONTEXT)
        looks = classifier.assess(image, regions)
        probabilities.append(looks.probability)
        verdicts.append(looks.verdict)
        labels.append(item.hardhat)
    return np.concatenate(probabilities), np.concatenate(verdicts), np.concatenate(labels)


def abstain_figures(
    verdict: npt.NDArray[np.int8], hardhat: npt.NDArray[np.bool_]
) -> tuple[float, float]:
    """The share of looks decided (outside the abstain band, heads large enough), and the
    balanced accuracy of the decided ones."""
    decided = verdict != UNKNOWN
    if not decided.any():
        return 0.0, 0.0
    right_hat = (verdict[hardhat] == HARDHAT).sum() / max(int((decided & hardhat).sum()), 1)
    right_bare = (verdict[~hardhat] == NO_HARDHAT).sum() / max(int((decided & ~hardhat).sum()), 1)
    return float(decided.mean()), float((right_hat + right_bare) / 2)


def _tracked(split: list[LabelledImage], *, progress: bool) -> Iterator[LabelledImage]:
    if not progress:
        yield from split
        return
    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("classifying heads", total=len(split))
        for item in split:
            yield item
            bar.advance(task)


def evaluate_split(
    split_dir: Path, *, threshold: float | None, model: Path | None, threads: int, progress: bool
) -> dict[str, object]:
    """Classify every labelled head box of ``split_dir``: the figures ``evaluate`` prints.

    Besides the figures at the threshold, ``decided_share`` and ``decided_balanced_accuracy``
    say how many looks fall outside the model's abstain band (on heads of 12 px or more) and
    how right those are.

    Raises:
        ConfigError: the split is not a labelled YOLO-format split.
        ModelError: the model cannot be loaded.
    """
    started = time.perf_counter()
    split = read_split(split_dir)
    classifier = HardhatClassifier(model, threads=threads)
    probability, verdict, hardhat = _classify_split(classifier, split, progress=progress)
    figures = score(probability, hardhat, classifier.threshold if threshold is None else threshold)
    decided_share, decided_accuracy = abstain_figures(verdict, hardhat)
    return {
        "split": str(split_dir),
        "images": len(split),
        "balanced_accuracy": round(figures.balanced_accuracy, 4),
        "accuracy": round(figures.accuracy, 4),
        "recall_helmet": round(figures.recall_helmet, 4),
        "recall_head": round(figures.recall_head, 4),
        "n_helmet": figures.n_helmet,
        "n_head": figures.n_head,
        "threshold": round(figures.threshold, 4),
        "abstain_band": [round(v, 4) for v in classifier.band],
        "decided_share": round(decided_share, 4),
        "decided_balanced_accuracy": round(decided_accuracy, 4),
        "seconds": round(time.perf_counter() - started, 2),
    }
