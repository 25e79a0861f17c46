"""``citybrain analyze``: run the engine on one source and write events, snapshots and counts."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import av
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from citybrain.config import load_config
from citybrain.errors import CitybrainError, ConfigError
from citybrain.ingest.urls import source_kind
from citybrain.runtime.analyze import AnalysisOptions, analyze

__all__ = ["analyze_command"]

log = logging.getLogger(__name__)


def analyze_command(
    source: Annotated[str, typer.Argument(help="A video file, or an rtsp:// or http(s):// URL.")],
    config: Annotated[
        Path, typer.Option("--config", "-c", help="The camera's YAML config (zones and rules).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the results.")],
    realtime: Annotated[
        bool, typer.Option(help="Play a file at its real speed, as a camera would.")
    ] = False,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds of video.", min=0)
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(help="Detector threads (default: one core less than the machine).", min=1),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Analyse SOURCE and write events.jsonl, snapshots/, counts.jsonl and stats.json to OUT.

    Every snapshot is anonymised (faces, plates and heads blurred) unless the config turns it off.
    """
    try:
        camera = load_config(config)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    options = AnalysisOptions(realtime=realtime, duration=duration, threads=threads)
    show = not quiet and sys.stderr.isatty()
    total = duration or _duration(source)
    try:
        with _progress(show) as bar:
            task = bar.add_task(camera.camera.name, total=total)
            report = analyze(
                source, camera, out, options, progress=lambda t: bar.update(task, completed=t)
            )
    except CitybrainError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    summary = report.as_json()
    if not quiet:
        typer.echo(json.dumps(summary))
    if report.interrupted:
        raise typer.Exit(130)


def _progress(show: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:.1f}s of video"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not show,
        transient=True,
    )


def _duration(source: str) -> float | None:
    """The length of a file in seconds, for the progress bar; ``None`` for streams or unknown."""
    if source_kind(source).is_network:
        return None
    try:
        with av.open(source) as container:
            return container.duration / 1_000_000 if container.duration else None
    except (av.FFmpegError, OSError):
        return None  # the reader reports the real problem with a proper message
