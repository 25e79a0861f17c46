"""``citybrain hardhat evaluate``: measure the hard-hat classifier on a labelled split.

The measuring is :mod:`citybrain.commands.hardhat`, imported when the command runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from citybrain.commands.common import Command, new_app
from citybrain.errors import CitybrainError

__all__ = ["app"]

app = new_app("The hard-hat classifier: measure it on labelled data.")


@app.callback()
def _hardhat() -> None:
    """The hard-hat classifier: measure it on labelled data."""


@app.command("evaluate", cls=Command)
def evaluate(
    split_dir: Annotated[
        Path, typer.Argument(help="A YOLO-format split: images/ and labels/ (0 head, 1 helmet).")
    ],
    threshold: Annotated[
        float | None,
        typer.Option(
            min=0.0, max=1.0, help="Decision threshold on P(hard hat); default: the model's own."
        ),
    ] = None,
    model: Annotated[
        Path | None, typer.Option(help="An ONNX model file; default: the packaged weights.")
    ] = None,
    threads: Annotated[int, typer.Option(min=1, help="ONNX Runtime threads.")] = 1,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Measure the classifier on SPLIT_DIR.

    Classifies every labelled head box and prints the figures as one JSON object. Besides the
    figures at the threshold, decided_share and decided_balanced_accuracy say how many looks
    fall outside the model's abstain band (on heads of 12 px or more) and how right those are.
    """
    from citybrain.commands.hardhat import evaluate_split

    try:
        report = evaluate_split(
            split_dir, threshold=threshold, model=model, threads=threads,
            progress=not quiet and sys.stderr.isatty(),
        )  # fmt: skip
    except CitybrainError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    typer.echo(json.dumps(report))
