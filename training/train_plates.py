"""Train the licence-plate detector from scratch and export it to ONNX (for blurring only).

Usage (from the repository root; needs the ``train`` extra: torch and onnx)::

    OMP_NUM_THREADS=2 nice -n 10 .venv/bin/python training/train_plates.py \\
        --data ../shared/datasets/license-plates

It fits on ``train``, picks the epoch on the selection half of ``valid`` (see
:func:`plates_data.split_valid`), writes ``src/citybrain/vision/weights/plates.onnx``, and then
chooses the blurring threshold on the selection half by what the engine's anonymiser leaves
readable (:func:`plates_select.select`; needs YOLOX-Nano in ``CITYBRAIN_MODEL_DIR``).
The other half of ``valid`` is the test split, measured by ``bench/plates.py`` only.
Preprocessing and decoding come from :mod:`citybrain.vision.plates`, the run-time module.
"""

from __future__ import annotations

import argparse
import copy
import time
import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F  # noqa: N812 (the usual name)
from torch import nn

from citybrain.vision.plates import decode, normalise
from onnx_meta import write_metadata
from plates_data import Sample, Views, augment, load_split, match, split_valid, targets
from plates_select import select as select_threshold

__all__ = ["PlateNet", "average_precision", "main", "match"]

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "src" / "citybrain" / "vision" / "weights" / "plates.onnx"
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "license-plates"
#: A detection covers a plate when their IoU is at least this (blurring needs coverage, not a
#: tight box: the blurred region is grown by a margin).


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class PlateNet(nn.Module):
    """A small encoder (strides 2-32) with a feature pyramid back to stride 4, and three heads:
    centre heat map (sigmoid), log box size, centre offset (sigmoid)."""

    def __init__(self, widths: tuple[int, ...] = (16, 24, 40, 56, 80), mid: int = 32) -> None:
        super().__init__()
        stages, cin = [], 3
        for i, w in enumerate(widths):
            stages.append(nn.Sequential(_conv(cin, w, 2), _conv(w, w), *([_conv(w, w)] * (i >= 3))))
            cin = w
        self.stages = nn.ModuleList(stages)
        self.lateral = nn.ModuleList([nn.Conv2d(w, mid, 1) for w in widths[1:]])
        self.smooth = _conv(mid, mid)
        self.heat = nn.Conv2d(mid, 1, 1)
        self.size = nn.Conv2d(mid, 2, 1)
        self.offset = nn.Conv2d(mid, 2, 1)
        nn.init.constant_(self.heat.bias, -2.19)  # CenterNet's prior: few cells hold a centre

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        top = self.lateral[-1](features[-1])
        for lateral, feature in zip(self.lateral[-2::-1], features[-2:0:-1], strict=True):
            top = F.interpolate(top, size=feature.shape[2:], mode="nearest") + lateral(feature)
        top = self.smooth(top)
        return torch.sigmoid(self.heat(top)), self.size(top), torch.sigmoid(self.offset(top))


def focal_loss(predicted: torch.Tensor, heat: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss, per box."""
    p = predicted.clamp(1e-4, 1 - 1e-4)
    positive = heat.eq(1).float()
    pos = -(torch.log(p) * (1 - p) ** 2 * positive).sum()
    neg = -(torch.log(1 - p) * p**2 * (1 - heat) ** 4 * (1 - positive)).sum()
    return (pos + neg) / positive.sum().clamp(min=1)


def _batch(
    samples: list[Sample], size: int, rng: np.random.Generator, views: Views
) -> tuple[torch.Tensor, ...]:
    images, heats, sizes, offsets, masks = [], [], [], [], []
    for sample in samples:
        image, boxes = augment(sample, size, rng, views)
        heat, wh, offset, mask = targets(boxes, size)
        images.append(normalise(image)[0])
        heats.append(heat)
        sizes.append(wh)
        offsets.append(offset)
        masks.append(mask)
    return tuple(torch.from_numpy(np.stack(a)) for a in (images, heats, sizes, offsets, masks))


def train_epoch(
    net: PlateNet, train: list[Sample], optimiser: torch.optim.Optimizer, args: argparse.Namespace,
    rng: np.random.Generator,
) -> float:  # fmt: skip
    """One pass over the training images in random views; returns the mean loss."""
    net.train()
    losses = []
    order = rng.permutation(len(train))
    for start in range(0, len(order), args.batch):
        x, heat, wh, offset, mask = _batch([train[i] for i in order[start : start + args.batch]],
                                           args.size, rng, _views(args))  # fmt: skip
        p_heat, p_size, p_offset = net(x)
        m = mask[:, None].expand_as(wh)
        box_loss = F.l1_loss(p_size[m], wh[m]) + F.l1_loss(p_offset[m], offset[m]) if m.any() else 0
        loss = focal_loss(p_heat, heat) + 0.5 * box_loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.item()))
    return float(np.mean(losses))


def average_precision(
    scores: npt.NDArray[np.float32], hits: npt.NDArray[np.bool_], n_truth: int
) -> tuple[float, npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Area under the precision-recall curve (all points), and the curve."""
    order = np.argsort(-scores)
    tp = np.cumsum(hits[order])
    precision = tp / np.arange(1, len(tp) + 1)
    recall = tp / max(n_truth, 1)
    envelope = np.maximum.accumulate(precision[::-1])[::-1] if len(precision) else precision
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float((steps * envelope).sum()), precision, recall


@torch.no_grad()
def detect_all(
    net: PlateNet, samples: list[Sample], threshold: float = 0.05
) -> list[tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]]:
    """Boxes and scores per image, at each image's own size (padded to a multiple of 32)."""
    net.eval()
    out = []
    for sample in samples:
        h, w = sample.image.shape[:2]
        padded = np.zeros((h + (-h % 32), w + (-w % 32), 3), np.uint8)
        padded[:h, :w] = sample.image
        heat, size, offset = (t.numpy() for t in net(torch.from_numpy(normalise(padded))))
        out.append(decode(heat[0, 0], size[0], offset[0], threshold))
    return out


def evaluate(net: PlateNet, samples: list[Sample]) -> tuple[float, float, float, float]:
    """AP at :data:`MATCH_IOU`, and the threshold with the best F2 (recall weighs 4x), with its
    recall and precision."""
    scores, hits, n_truth = [], [], 0
    for (boxes, score), sample in zip(detect_all(net, samples), samples, strict=True):
        scores.append(score)
        hits.append(match(boxes, sample.plates))
        n_truth += len(sample.plates)
    all_scores, all_hits = np.concatenate(scores), np.concatenate(hits)
    ap, precision, recall = average_precision(all_scores, all_hits, n_truth)
    if not len(precision):
        return ap, 0.5, 0.0, 0.0
    f2 = 5 * precision * recall / np.maximum(4 * precision + recall, 1e-9)
    best = int(np.argmax(f2))
    threshold = float(np.sort(all_scores)[::-1][best])
    return ap, threshold, float(recall[best]), float(precision[best])


def blur_threshold(
    found: list[tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]], samples: list[Sample]
) -> float:
    """The highest score threshold whose recall stays within 0.01 of the recall at 0.05.

    Blurring favours recall (a false plate costs a blurred patch, a missed one a readable
    plate), so the threshold is only as high as costs no plates found at the lowest one.
    """

    def recall(threshold: float) -> float:
        hits = [
            int(match(boxes[scores >= threshold], sample.plates).sum())
            for (boxes, scores), sample in zip(found, samples, strict=True)
        ]
        return sum(hits) / max(sum(len(s.plates) for s in samples), 1)

    floor = recall(0.05) - 0.01
    grid = np.round(np.arange(0.05, 0.51, 0.01), 2)
    return float(max(t for t in grid if recall(float(t)) >= floor))


def export(net: PlateNet, path: Path, metadata: dict[str, str]) -> None:
    """Write ``net`` as ONNX (opset 17; batch, height and width dynamic) with ``metadata``."""
    net.eval()
    warnings.filterwarnings("ignore", "You are using the legacy TorchScript", DeprecationWarning)
    dynamic = {0: "batch", 2: "height", 3: "width"}
    torch.onnx.export(
        net,
        (torch.zeros(1, 3, 256, 320),),
        str(path),
        dynamo=False,
        opset_version=17,
        input_names=["image"],
        output_names=["heat", "size", "offset"],
        dynamic_axes={"image": dynamic, "heat": dynamic, "size": dynamic, "offset": dynamic},
    )
    write_metadata(path, metadata, doc="citybrain licence-plate detector (for blurring only)")


def _views(args: argparse.Namespace) -> Views:
    return Views(
        scale=(args.min_scale, 1.6), tilt=args.tilt, side=args.side, vehicle=args.vehicle_views,
        low_res=args.low_res,
    )  # fmt: skip


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="license-plates folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the ONNX file to write")
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--size", type=int, default=256, help="side of the training views")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--widths", type=int, nargs=5, default=[24, 32, 48, 64, 96])
    parser.add_argument("--mid", type=int, default=48, help="channels of the pyramid")
    parser.add_argument("--min-scale", type=float, default=0.25, help="smallest view scale")
    parser.add_argument("--tilt", type=float, default=25.0, help="largest tilt, degrees")
    parser.add_argument("--side", type=float, default=0.3, help="share of side views")
    parser.add_argument("--vehicle-views", type=float, default=0.4, help="share of vehicle crops")
    parser.add_argument("--low-res", type=float, default=0.15, help="share of low-res views")
    return parser.parse_args()


def main() -> None:
    """Load, train, select on the selection half of valid, export."""
    args = _parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    train = load_split(args.data / "train")
    select, _ = split_valid(load_split(args.data / "valid"))
    net = PlateNet(tuple(args.widths), args.mid)
    optimiser = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, args.epochs)
    best: tuple[float, float, int, dict[str, torch.Tensor]] = (-1.0, 0.5, 0, {})
    for epoch in range(1, args.epochs + 1):
        loss = train_epoch(net, train, optimiser, args, rng)
        schedule.step()
        if epoch % 5 and epoch != args.epochs:
            continue
        ap, threshold, recall, precision = evaluate(net, select)
        if ap > best[0]:
            best = (ap, threshold, epoch, copy.deepcopy(net.state_dict()))
        print(
            f"epoch {epoch:3d} loss {loss:.3f} select AP {ap:.3f} at {threshold:.2f}: recall "
            f"{recall:.3f} precision {precision:.3f} {time.perf_counter() - started:.0f}s",
            flush=True,
        )
    net.load_state_dict(best[3])
    recall_threshold = blur_threshold(detect_all(net, select), select)
    params = sum(p.numel() for p in net.parameters())
    export(
        net,
        args.out,
        {
            "recall_threshold": f"{recall_threshold:.2f}",
            "f2_threshold": f"{best[1]:.2f}",
            "select_ap": f"{best[0]:.4f}",
            "epoch": str(best[2]),
            "max_side": "960",
            "training": (
                f"widths {args.widths} mid {args.mid} epochs {args.epochs} size {args.size} "
                f"views {_views(args)} seed {args.seed}"
            ),
            "training_data": "License Plates (Roboflow / Open Images), train split",
            "license": "Apache-2.0 weights; data CC BY 4.0 (annotations), CC BY 2.0 (images)",
        },
    )
    # The recall-based threshold blurs some 30 false boxes per image (measured at 0.06); the
    # anonymiser's own outcome on the selection half chooses the one the model carries.
    threshold = float(select_threshold(args.out, args.data, args.threads)["threshold"])
    print(
        f"selected epoch {best[2]}: AP {best[0]:.4f}, threshold {threshold:.2f} (F2 "
        f"{best[1]:.2f}); {params} "
        f"parameters; {args.out} {args.out.stat().st_size} bytes; "
        f"{time.perf_counter() - started:.0f}s",
        flush=True,
    )


if __name__ == "__main__":
    main()
