"""``citybrain analyze``: run the engine on one source and write events, snapshots and counts."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from citybrain.errors import CitybrainError, ConfigError

if TYPE_CHECKING:
    from rich.progress import Progress

    from citybrain.runtime.loop import StopRequest

__all__ = ["analyze_command"]

log = logging.getLogger(__name__)

#: The signals that stop an analysis cleanly (results kept); a second one stops it at once.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


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
    """Analyse SOURCE and write the results to OUT.

    OUT gets events.jsonl, snapshots/, counts.jsonl and stats.json. Every snapshot is anonymised
    (faces, plates and heads blurred) unless the config turns it off.

    Ctrl-C or SIGTERM stops the analysis as the end of the video would: open events end and
    everything found so far is written (exit 130 or 143). A source that cannot be read leaves
    no OUT folder behind.
    """
    from citybrain.config import load_config
    from citybrain.runtime.analyze import AnalysisOptions, analyze
    from citybrain.runtime.loop import StopRequest

    try:
        camera = load_config(config)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    options = AnalysisOptions(realtime=realtime, duration=duration, threads=threads)
    show = not quiet and sys.stderr.isatty()
    total = duration or _duration(source)
    stop = StopRequest()
    try:
        with _stop_on_signals(stop) as caught, _progress(show) as bar:
            task = bar.add_task(camera.camera.name, total=total)
            report = analyze(
                source, camera, out, options, stop=stop,
                progress=lambda t: bar.update(task, completed=t),
            )  # fmt: skip
    except CitybrainError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:  # a second signal before the analysis began: nothing to write
        typer.echo("error: interrupted", err=True)
        raise typer.Exit(130) from None
    summary = report.as_json()
    if not quiet:
        typer.echo(json.dumps(summary))
    if report.interrupted:
        raise typer.Exit(128 + (caught[0] if caught else signal.SIGINT))


@contextmanager
def _stop_on_signals(stop: StopRequest) -> Iterator[list[int]]:
    """While inside, Ctrl-C and SIGTERM set ``stop`` (the analysis winds up and writes what it
    found); a second one raises :class:`KeyboardInterrupt`, which still closes the open events.
    Yields the signals caught."""
    from citybrain.core.events import EndedBy

    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught  # signals reach the main thread only: its caller handles them
        return

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        caught.append(signum)
        if len(caught) > 1:
            raise KeyboardInterrupt
        log.warning(
            "%s: stopping; open events end and what was found is written (again to stop now)",
            signal.Signals(signum).name,
        )
        stop.request(EndedBy.INTERRUPTED)

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    try:
        yield caught
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _progress(show: bool) -> Progress:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

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
    import av

    from citybrain.ingest.urls import source_kind

    if source_kind(source).is_network:
        return None
    try:
        with av.open(source) as container:
            return container.duration / 1_000_000 if container.duration else None
    except (av.FFmpegError, OSError):
        return None  # the reader reports the real problem with a proper message
