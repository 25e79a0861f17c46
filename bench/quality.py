"""Analytic quality: what the engine reports against what a person watching expects.

Usage::

    CITYBRAIN_MODEL_DIR=../shared/models CITYBRAIN_SAMPLES=../shared/footage \\
        CITYBRAIN_DATASETS=../shared/datasets .venv/bin/python bench/quality.py [--threads 1]

It prints:

* the hard-hat classifier on the *test* split of Hard Hat Workers (evaluation only: this is the
  one place that reads it) at the model's shipped threshold: balanced accuracy, the recall of
  heads without a hard hat, and with the abstain band, the share of looks decided and their
  balanced accuracy;
* for each development clip with a hand-written expectation file (``bench/expectations/*.yaml``:
  who is in the clip, when, wearing what, and which events a person watching expects from the
  rules in its ``config``), the events of each rule against the expected ones, and precision and
  recall per rule kind over all clips.

The engine runs exactly as ``citybrain analyze`` runs it. An event matches an expected one of
the same rule when their time spans overlap (widened by ``--slack`` seconds; a line crossing
matches within ``--slack`` of the expected time, in the expected direction); each expected event
takes at most one reported event. Label groups (``vehicle``) in the files' configs go to the
engine as written (``--expand-groups`` replaces them by their members first, to compare).
Evaluation clips have no expectation files here and are never read.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from citybrain.commands.hardhat import load_image, read_split
from citybrain.config import parse_config
from citybrain.core.detections import expand_labels
from citybrain.runtime.analyze import AnalysisOptions, analyze
from citybrain.vision.hardhat import (
    HARDHAT,
    HEAD_CONTEXT,
    NO_HARDHAT,
    UNKNOWN,
    HardhatClassifier,
    expand_boxes,
)

ROOT = Path(__file__).resolve().parents[1]
EXPECTATIONS = ROOT / "bench" / "expectations"
SHARED = ROOT.parent / "shared"


@dataclass(frozen=True, slots=True)
class Expected:
    """One event a person watching expects: a span, or a crossing time and direction."""

    rule: str
    who: str
    start: float
    end: float
    direction: str | None = None


@dataclass(frozen=True, slots=True)
class Reported:
    """One event the engine reported (the fields the comparison needs)."""

    rule: str
    kind: str
    start: float
    end: float
    direction: str | None = None


@dataclass(slots=True)
class Tally:
    """Matched, reported and expected events of one rule kind."""

    matched: int = 0
    reported: int = 0
    expected: int = 0
    missed: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        """Matched over reported; ``None`` when nothing was reported."""
        return self.matched / self.reported if self.reported else None

    @property
    def recall(self) -> float | None:
        """Matched over expected; ``None`` when nothing was expected."""
        return self.matched / self.expected if self.expected else None

    def add(self, other: Tally) -> None:
        """Add another tally's counts to this one."""
        self.matched += other.matched
        self.reported += other.reported
        self.expected += other.expected
        self.missed += other.missed


def load_expectations(path: Path) -> tuple[dict[str, Any], dict[str, str], list[Expected]]:
    """An expectation file's content, the kind of each rule in its config, and its expected
    events.

    Raises:
        ValueError: an expected event names a rule that the file's config lacks, or has
            neither ``span`` nor ``at``.
    """
    data = yaml.safe_load(path.read_text())
    rules = (yaml.safe_load(data["config"]) or {}).get("rules", {})
    expected = []
    for rule, items in (data.get("events") or {}).items():
        if rule not in rules:
            raise ValueError(f"{path.name}: events.{rule}: no rule of that name in config")
        for item in items:
            if "span" in item:
                start, end = (float(v) for v in item["span"])
            elif "at" in item:
                start = end = float(item["at"])
            else:
                raise ValueError(f"{path.name}: events.{rule}: {item} needs span or at")
            expected.append(Expected(rule, str(item["who"]), start, end, item.get("direction")))
    return data, {name: str(rule["kind"]) for name, rule in rules.items()}, expected


def match(
    reported: list[Reported], expected: list[Expected], kinds: dict[str, str], slack: float
) -> dict[str, Tally]:
    """Tallies per rule kind (``kinds``: rule name to kind; every kind gets a tally): each
    expected event takes the reported event of the same rule that overlaps it most (within
    ``slack`` seconds), once."""
    tallies: dict[str, Tally] = {kind: Tally() for kind in kinds.values()}
    taken: set[int] = set()
    for item in expected:
        best, best_overlap = None, -np.inf
        for i, event in enumerate(reported):
            if i in taken or event.rule != item.rule:
                continue
            if item.direction is not None and event.direction != item.direction:
                continue
            overlap = min(event.end, item.end + slack) - max(event.start, item.start - slack)
            if overlap >= 0 and overlap > best_overlap:
                best, best_overlap = i, overlap
        kind = kinds.get(item.rule, item.rule)
        tally = tallies.setdefault(kind, Tally())
        tally.expected += 1
        if best is None:
            tally.missed.append(item.who)
        else:
            taken.add(best)
            tally.matched += 1
    for event in reported:
        tallies.setdefault(event.kind, Tally()).reported += 1
    return tallies


def expand_groups(config: dict[str, Any]) -> dict[str, Any]:
    """The config with label group names in rules replaced by their member labels."""
    for rule in (config.get("rules") or {}).values():
        if "labels" in rule:
            rule["labels"] = list(expand_labels(rule["labels"]))
    return config


def run_clip(clip: Path, config_text: str, threads: int, *, groups: bool = True) -> list[Reported]:
    """The events of ``citybrain analyze`` on ``clip`` with the expectation file's config
    (``groups=False``: label groups replaced by their members)."""
    config = yaml.safe_load(config_text)
    if not groups:
        config = expand_groups(config)
    config["camera"] = {"name": "quality", "fps": 5}
    with tempfile.TemporaryDirectory() as out:
        analyze(
            str(clip),
            parse_config(yaml.safe_dump(config)),
            Path(out),
            AnalysisOptions(threads=threads),
        )
        lines = (Path(out) / "events.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    return [
        Reported(
            e["rule"],
            e["kind"],
            float(e["start"]),
            float(e["end"] if e["end"] is not None else e["start"]),
            (e.get("details") or {}).get("direction"),
        )
        for e in events
    ]


def hardhat_test_split(dataset: Path) -> dict[str, float]:
    """The packaged hard-hat model on the test split, with and without its abstain band."""
    classifier = HardhatClassifier()
    probability, verdict, labels = [], [], []
    for item in read_split(dataset / "test"):
        image = load_image(item.image)
        heads = item.pixel_xyxy(image.shape[1], image.shape[0])
        looks = classifier.assess(image, expand_boxes(heads, HEAD_CONTEXT))
        probability.append(looks.probability)
        verdict.append(looks.verdict)
        labels.append(item.hardhat)
    p, v, y = np.concatenate(probability), np.concatenate(verdict), np.concatenate(labels)
    said = p >= classifier.threshold
    decided = v != UNKNOWN
    return {
        "threshold": classifier.threshold,
        "heads": len(y),
        "balanced_accuracy": float((said[y].mean() + (~said[~y]).mean()) / 2),
        "recall_no_hardhat": float((~said[~y]).mean()),
        "recall_hardhat": float(said[y].mean()),
        "decided_share": float(decided.mean()),
        "decided_balanced_accuracy": float(
            (
                (v[y] == HARDHAT).sum() / max((decided & y).sum(), 1)
                + (v[~y] == NO_HARDHAT).sum() / max((decided & ~y).sum(), 1)
            )
            / 2
        ),
    }


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _print_table(name: str, tallies: dict[str, Tally]) -> None:
    for kind, t in sorted(tallies.items()):
        missed = f"  missed: {', '.join(t.missed)}" if t.missed else ""
        print(
            f"| {name} | {kind} | {t.expected} | {t.reported} | {t.matched} | "
            f"{_fmt(t.precision)} | {_fmt(t.recall)} |{missed}"
        )


def main() -> int:
    """Run the report; exit status 2 when footage or expectation files are missing."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="detector threads")
    parser.add_argument("--slack", type=float, default=1.5, help="seconds of timing slack")
    parser.add_argument("--clips", nargs="*", help="expectation file stems (default: all)")
    parser.add_argument("--no-split", action="store_true", help="skip the hard-hat test split")
    parser.add_argument(
        "--expand-groups", action="store_true", help="label groups as their member labels"
    )
    args = parser.parse_args()
    samples = Path(os.environ.get("CITYBRAIN_SAMPLES") or SHARED / "footage")
    datasets = Path(os.environ.get("CITYBRAIN_DATASETS") or SHARED / "datasets")
    if not args.no_split and (datasets / "hard-hat-workers" / "test").is_dir():
        figures = hardhat_test_split(datasets / "hard-hat-workers")
        print("hard-hat test split:", json.dumps({k: round(v, 4) for k, v in figures.items()}))
    files = sorted(EXPECTATIONS.glob("*.yaml"))
    if args.clips:
        files = [f for f in files if f.stem in args.clips]
    if not files:
        print(f"no expectation files in {EXPECTATIONS}", file=sys.stderr)
        return 2
    print("| clip | rule kind | expected | reported | matched | precision | recall |")
    print("|---|---|---|---|---|---|---|")
    totals: dict[str, Tally] = {}
    for path in files:
        data, kinds, expected = load_expectations(path)
        clip = samples / data["clip"]
        if not clip.is_file():
            print(f"footage {clip} not found: set CITYBRAIN_SAMPLES", file=sys.stderr)
            return 2
        reported = run_clip(clip, data["config"], args.threads, groups=not args.expand_groups)
        tallies = match(reported, expected, kinds, args.slack)
        _print_table(path.stem, tallies)
        for kind, tally in tallies.items():
            totals.setdefault(kind, Tally()).add(tally)
    _print_table("**all clips**", totals)
    print("events per kind:", dict(Counter({k: t.reported for k, t in totals.items()})))
    return 0


if __name__ == "__main__":
    sys.exit(main())
