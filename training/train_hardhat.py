"""Train the hard-hat classifier from scratch and export it to ONNX.

Usage (from the repository root; needs the ``train`` extra: torch and onnx)::

    OMP_NUM_THREADS=2 .venv/bin/python training/train_hardhat.py \\
        --data ../shared/datasets/hard-hat-workers

It fits on the ``train`` split, picks the epoch and the decision threshold on ``valid`` by
balanced accuracy, and writes ``src/citybrain/vision/weights/hardhat.onnx``. The ``test`` split is
never read. Crops and normalisation come from :mod:`citybrain.vision.hardhat`, the run-time
module, so the network sees the same input in training and in service.
"""

from __future__ import annotations

import argparse
import copy
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
import torch
from torch import nn

from citybrain.vision.hardhat import CROP_SIZE, HEAD_CONTEXT, normalise
from hardhat_data import Crops, augment, load_crops

__all__ = ["HardhatNet", "main"]

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "src" / "citybrain" / "vision" / "weights" / "hardhat.onnx"
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "hard-hat-workers"
BATCH = 128
THRESHOLDS = np.round(np.arange(0.05, 0.951, 0.01), 2)


def _conv(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    ]


class HardhatNet(nn.Module):
    """A plain VGG-style CNN: 48 px crop in, one logit (hard hat) out."""

    def __init__(self, widths: tuple[int, int, int, int] = (16, 24, 32, 64)) -> None:
        super().__init__()
        a, b, c, d = widths
        self.features = nn.Sequential(
            *_conv(3, a, stride=2),
            *_conv(a, b),
            nn.MaxPool2d(2),
            *_conv(b, c),
            *_conv(c, c),
            nn.MaxPool2d(2),
            *_conv(c, d),
            *_conv(d, d),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(d, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.head(self.features(x)).squeeze(1)
        return logits


class _Probability(nn.Module):
    """The exported graph: P(hard hat) rather than a logit."""

    def __init__(self, net: HardhatNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(x))


def balanced_batches(
    hardhat: npt.NDArray[np.bool_], per_class: int, rng: np.random.Generator
) -> Iterator[npt.NDArray[np.int64]]:
    """Index batches of one epoch: ``per_class`` draws from each class, shuffled together."""
    draws = [
        rng.choice(np.flatnonzero(hardhat == label), per_class, replace=True)
        for label in (False, True)
    ]
    order = rng.permutation(np.concatenate(draws))
    for start in range(0, len(order), BATCH):
        yield order[start : start + BATCH]


def balanced_accuracy(
    probability: npt.NDArray[np.float32], hardhat: npt.NDArray[np.bool_], threshold: float
) -> float:
    """Mean of the recalls of the two classes at ``threshold``."""
    predicted = probability >= threshold
    return float((predicted[hardhat].mean() + (~predicted[~hardhat]).mean()) / 2)


def best_threshold(
    probability: npt.NDArray[np.float32], hardhat: npt.NDArray[np.bool_]
) -> tuple[float, float]:
    """The threshold with the highest balanced accuracy (ties: nearest 0.5), and that accuracy."""
    scores = np.array([balanced_accuracy(probability, hardhat, t) for t in THRESHOLDS])
    best = np.flatnonzero(scores >= scores.max() - 1e-9)
    pick = best[np.argmin(np.abs(THRESHOLDS[best] - 0.5))]
    return float(THRESHOLDS[pick]), float(scores[pick])


@torch.no_grad()
def predict(net: nn.Module, inputs: torch.Tensor) -> npt.NDArray[np.float32]:
    """P(hard hat) for normalised inputs, in eval mode."""
    net.eval()
    out = [torch.sigmoid(net(inputs[i : i + 512])) for i in range(0, len(inputs), 512)]
    return torch.cat(out).numpy().astype(np.float32)


def train_epoch(
    net: nn.Module,
    crops: Crops,
    *,
    optimiser: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    per_class: int,
    rng: np.random.Generator,
) -> float:
    """One pass over a balanced draw of the crops; returns the mean loss."""
    net.train()
    losses = []
    loss_fn = nn.BCEWithLogitsLoss()
    for index in balanced_batches(crops.hardhat, per_class, rng):
        x = torch.from_numpy(normalise(augment(crops.images[index], rng)))
        y = torch.from_numpy(crops.hardhat[index].astype(np.float32))
        loss = loss_fn(net(x), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(loss.item())
    return float(np.mean(losses))


def fit(
    args: argparse.Namespace, train: Crops, valid: Crops
) -> tuple[HardhatNet, float, float, int]:
    """Train, keeping the epoch with the best validation balanced accuracy.

    Returns:
        The selected network, its threshold, its validation balanced accuracy and its epoch.
    """
    rng = np.random.default_rng(args.seed)
    net = HardhatNet(tuple(args.widths))
    steps = args.epochs * -(-2 * args.per_class // BATCH)
    optimiser = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, args.lr, total_steps=steps)
    valid_x = torch.from_numpy(normalise(valid.images))
    best: tuple[float, float, int, dict[str, torch.Tensor]] = (-1.0, 0.5, 0, {})
    started = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        loss = train_epoch(
            net, train, optimiser=optimiser, schedule=schedule, per_class=args.per_class, rng=rng
        )
        probability = predict(net, valid_x)
        threshold, score = best_threshold(probability, valid.hardhat)
        at_half = balanced_accuracy(probability, valid.hardhat, 0.5)
        if score > best[0]:
            best = (score, threshold, epoch, copy.deepcopy(net.state_dict()))
        print(
            f"epoch {epoch:2d}/{args.epochs} loss {loss:.4f} valid BA@0.5 {at_half:.4f} "
            f"BA@{threshold:.2f} {score:.4f} (best {best[0]:.4f} @ epoch {best[2]}) "
            f"{time.perf_counter() - started:.0f}s",
            flush=True,
        )
    net.load_state_dict(best[3])
    return net, best[1], best[0], best[2]


def export(net: HardhatNet, path: Path, metadata: dict[str, str]) -> None:
    """Write ``net`` as ONNX (opset 17, dynamic batch) with ``metadata`` in the model."""
    net.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    # The TorchScript exporter is deprecated, but the new one needs onnxscript, one more package.
    warnings.filterwarnings("ignore", "You are using the legacy TorchScript", DeprecationWarning)
    torch.onnx.export(
        _Probability(net),
        (torch.zeros(2, 3, CROP_SIZE, CROP_SIZE),),
        str(path),
        dynamo=False,
        opset_version=17,
        input_names=["crops"],
        output_names=["p_hardhat"],
        dynamic_axes={"crops": {0: "batch"}, "p_hardhat": {0: "batch"}},
    )
    model = onnx.load(str(path))
    model.doc_string = "citybrain hard-hat classifier: P(hard hat) of a head-region crop"
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _check_export(path: Path, net: HardhatNet, valid: Crops) -> float:
    """Largest difference between ONNX Runtime's and torch's probabilities on valid crops."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = normalise(valid.images[:1024])
    (onnx_p,) = session.run(None, {"crops": inputs})
    torch_p = predict(net, torch.from_numpy(inputs))
    return float(np.abs(onnx_p - torch_p).max())


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="hard-hat-workers folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the ONNX file to write")
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--per-class", type=int, default=5000, help="draws per class per epoch")
    parser.add_argument("--variants", type=int, default=3, help="context crops per train head")
    parser.add_argument("--widths", type=int, nargs=4, default=[16, 24, 32, 64], help="channels")
    parser.add_argument("--lr", type=float, default=4e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    return parser.parse_args()


def main() -> None:
    """Extract crops, train, select, export, check the export."""
    args = _parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    started = time.perf_counter()
    train = load_crops(args.data / "train", variants=args.variants, rng=np.random.default_rng(1))
    valid = load_crops(args.data / "valid", variants=1, rng=None)
    print(
        f"crops: train {len(train.hardhat)} ({int(train.hardhat.sum())} helmet), valid "
        f"{len(valid.hardhat)} ({int(valid.hardhat.sum())} helmet), "
        f"{time.perf_counter() - started:.0f}s",
        flush=True,
    )
    net, threshold, score, epoch = fit(args, train, valid)
    params = sum(p.numel() for p in net.parameters())
    export(
        net,
        args.out,
        {
            "threshold": f"{threshold:.2f}",
            "crop_size": str(CROP_SIZE),
            "head_context": str(HEAD_CONTEXT),
            "valid_balanced_accuracy": f"{score:.4f}",
            "epoch": str(epoch),
            "training_data": "Hard Hat Workers (Northeastern University - China), train split",
            "license": "Apache-2.0",
        },
    )
    print(
        f"selected epoch {epoch}: valid balanced accuracy {score:.4f} at threshold "
        f"{threshold:.2f}; {params} parameters; {args.out} {args.out.stat().st_size} bytes; "
        f"onnx vs torch max diff {_check_export(args.out, net, valid):.2e}; "
        f"total {time.perf_counter() - started:.0f}s",
        flush=True,
    )


if __name__ == "__main__":
    main()
