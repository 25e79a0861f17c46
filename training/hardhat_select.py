"""Choose the hard-hat model's decision threshold and abstain band on ``valid``, as run time looks.

Usage (from the repository root; needs ``onnx``)::

    .venv/bin/python training/hardhat_select.py [--model PATH] [--data DIR]

Run time judges a head with two looks (``HardhatClassifier.assess``: the rough region, then the
head the network located in it, grown by the model's head context), so the threshold and the band
are chosen on the probabilities of exactly that procedure, on the labelled head boxes of the
``valid`` split grown by :data:`~citybrain.vision.hardhat.HEAD_CONTEXT` (as ``bench/quality.py``
and ``citybrain hardhat evaluate`` measure). The choice is written into the model's metadata;
its weights are not touched. ``training/train_hardhat.py`` ends with this step too. The ``test``
split is never read here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import numpy.typing as npt

from citybrain.commands.hardhat import load_image, read_split
from citybrain.vision.hardhat import HEAD_CONTEXT, HardhatClassifier, expand_boxes
from onnx_meta import write_metadata

__all__ = [
    "BAND_ERROR",
    "MIN_HEAD_RECALL",
    "THRESHOLDS",
    "abstain_band",
    "best_threshold",
    "recalls",
    "select",
    "two_look_probabilities",
]

ROOT = Path(__file__).resolve().parents[1]
PACKAGED = ROOT / "src" / "citybrain" / "vision" / "weights" / "hardhat.onnx"
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "hard-hat-workers"
THRESHOLDS = np.round(np.arange(0.02, 0.981, 0.01), 2)
#: The threshold must keep at least this recall of heads without a hard hat on valid (the goal
#: on the test split is 0.95; the margin is for the difference between the splits).
MIN_HEAD_RECALL = 0.965
#: Decided looks outside the abstain band may be wrong at most this often on valid (per class).
BAND_ERROR = 0.02


def recalls(
    probability: npt.NDArray[np.float32], hardhat: npt.NDArray[np.bool_], threshold: float
) -> tuple[float, float]:
    """Recall of hard hats and recall of heads without one at ``threshold``."""
    predicted = probability >= threshold
    return float(predicted[hardhat].mean()), float((~predicted[~hardhat]).mean())


def best_threshold(
    probability: npt.NDArray[np.float32], hardhat: npt.NDArray[np.bool_]
) -> tuple[float, float]:
    """The threshold with the highest balanced accuracy among those that keep the recall of
    heads without a hard hat at :data:`MIN_HEAD_RECALL` (ties: nearest 0.5), and that accuracy.
    """
    table = np.array([recalls(probability, hardhat, t) for t in THRESHOLDS])
    scores = table.mean(axis=1)
    allowed = table[:, 1] >= MIN_HEAD_RECALL
    scores = np.where(allowed, scores, scores - 1.0)  # the recall goal first
    best = np.flatnonzero(scores >= scores.max() - 1e-9)
    pick = best[np.argmin(np.abs(THRESHOLDS[best] - 0.5))]
    return float(THRESHOLDS[pick]), float(table[pick].mean())


def abstain_band(
    probability: npt.NDArray[np.float32], hardhat: npt.NDArray[np.bool_], threshold: float
) -> tuple[float, float]:
    """The narrowest band about ``threshold`` outside which, on classes weighed equally, a
    decision is wrong at most :data:`BAND_ERROR` of the time on either side."""
    helmet, head = probability[hardhat], probability[~hardhat]

    def wrong_below(t: float) -> float:  # P(helmet | p < t), classes weighed equally
        a, b = (helmet < t).mean(), (head < t).mean()
        return float(a / (a + b)) if a + b else 0.0

    def wrong_above(t: float) -> float:  # P(head | p >= t)
        a, b = (head >= t).mean(), (helmet >= t).mean()
        return float(a / (a + b)) if a + b else 0.0

    grid = np.round(np.arange(0.01, 1.0, 0.01), 2)
    low = max([t for t in grid if t <= threshold and wrong_below(t) <= BAND_ERROR], default=0.01)
    high = min([t for t in grid if t >= threshold and wrong_above(t) <= BAND_ERROR], default=0.99)
    return float(low), float(high)


def two_look_probabilities(
    model: Path, split_dir: Path, threads: int = 1
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """P(hard hat) of every labelled head of a split by the run-time procedure, and the labels."""
    classifier = HardhatClassifier(model, threads=threads)
    probabilities, labels = [], []
    for item in read_split(split_dir):
        image = load_image(item.image)
        heads = item.pixel_xyxy(image.shape[1], image.shape[0])
        looks = classifier.assess(image, expand_boxes(heads, HEAD_CONTEXT))
        probabilities.append(looks.probability)
        labels.append(item.hardhat)
    return np.concatenate(probabilities), np.concatenate(labels)


def select(model: Path, valid: Path, threads: int = 1) -> dict[str, str]:
    """Choose the threshold and band on ``valid`` with two looks, and write them into ``model``.

    Returns:
        The metadata written (threshold, band and the valid figures at the threshold).
    """
    probability, hardhat = two_look_probabilities(model, valid, threads)
    threshold, score = best_threshold(probability, hardhat)
    low, high = abstain_band(probability, hardhat, threshold)
    helmet, head = recalls(probability, hardhat, threshold)
    chosen = {
        "threshold": f"{threshold:.2f}",
        "abstain_low": f"{low:.2f}",
        "abstain_high": f"{high:.2f}",
        "valid_balanced_accuracy": f"{score:.4f}",
        "valid_recall_helmet": f"{helmet:.4f}",
        "valid_recall_head": f"{head:.4f}",
        "selection": "threshold and band on valid, two looks (HardhatClassifier.assess)",
    }
    write_metadata(model, chosen)
    return chosen


def main() -> None:
    """Select on valid and write the choice into the model file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=PACKAGED, help="the ONNX file to update")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="hard-hat-workers folder")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    print(select(args.model, args.data / "valid", args.threads), flush=True)


if __name__ == "__main__":
    main()
