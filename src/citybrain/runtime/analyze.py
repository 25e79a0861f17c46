"""Run one camera's pipeline over a source and write the results: the engine behind ``analyze``.

The frame loop is the one a server's cameras run (:mod:`citybrain.runtime.loop`); here its sink
writes files.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from citybrain.config.model import CameraConfig
from citybrain.ingest import Reader, ReaderOptions, ReaderStats
from citybrain.pipeline import MOTION_WIDTH, CameraPipeline, PipelineStats, Vision
from citybrain.runtime.loop import FrameLoop, LoopEnd
from citybrain.sinks.base import FanOut, ProgressSink
from citybrain.sinks.files import FileSink

__all__ = ["AnalysisOptions", "AnalysisReport", "analyze"]

log = logging.getLogger(__name__)

#: Frames the decode thread may run ahead, and the memory they may take. A file is read faster
#: than it is analysed in bursts (the detector runs on some frames only) and slower in the quiet
#: stretches between: a deep queue lets decoding go on through a burst and the analysis through
#: a quiet stretch, instead of each waiting for the other. Frames wait as decoded YUV: 128 frames
#: of 768x432 take 64 MB; the byte bound keeps 4K sources to about 8 frames.
QUEUE_SIZE = 128
QUEUE_BYTES = 96 * 2**20

#: Called with the stream time (seconds) of each analysed frame.
ProgressCallback = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class AnalysisOptions:
    """How to run an analysis.

    Attributes:
        realtime: pace a file like a live camera (frames that fall behind are dropped).
        duration: stop after this many seconds of stream time; ``None`` = until the source ends.
        max_reconnects: give up on a live source after this many failed reconnections in a row.
        threads: ONNX Runtime threads for the detector; ``None`` = one core less than the
            machine has (the decode thread needs the other; measured faster on 2 cores).
    """

    realtime: bool = False
    duration: float | None = None
    max_reconnects: int | None = 5
    threads: int | None = None


@dataclass(frozen=True, slots=True)
class AnalysisReport:
    """What a finished analysis did (also written to ``stats.json``)."""

    reader: ReaderStats
    pipeline: PipelineStats
    events: int
    counts: int
    wall_seconds: float
    interrupted: bool

    def as_json(self) -> dict[str, object]:
        return {
            "frames_decoded": self.reader.frames_decoded,
            "frames_skipped": self.reader.frames_skipped,
            "decoder": self.reader.decoder,
            "frames_analysed": self.pipeline.frames_analysed,
            "detector_frames": self.pipeline.detector_frames,
            "detector_regions": self.pipeline.detector_regions,
            "region_retries": self.pipeline.region_retries,
            "frames_dropped": self.reader.frames_dropped + self.pipeline.detector_dropped,
            "frames_corrupt": self.reader.frames_corrupt,
            "reconnects": self.reader.reconnects,
            "events": self.events,
            "line_counts": self.counts,
            "wall_seconds": round(self.wall_seconds, 3),
            "interrupted": self.interrupted,
            "last_error": self.reader.last_error,
        }


def analyze(
    source: str,
    config: CameraConfig,
    out: Path,
    options: AnalysisOptions | None = None,
    *,
    progress: ProgressCallback | None = None,
    vision: Vision | None = None,
    stop: threading.Event | None = None,
) -> AnalysisReport:
    """Analyse ``source`` with ``config`` and write events, snapshots, counts and stats to ``out``.

    Setting ``stop`` (a signal handler does, for Ctrl-C or SIGTERM) ends the analysis as the
    source's end would: open events end and everything is written; the report says
    ``interrupted``. ``out`` is made once the source gave its first frame: a source that cannot
    be opened or decoded leaves no folder (and an existing one untouched).

    Raises:
        SourceError: the source cannot be opened or was lost for good.
        ModelError: a model file is missing.
        OutputError: ``out`` cannot be written.
    """
    options = options or AnalysisOptions()
    started = time.perf_counter()
    files = FileSink(out)  # checks at once that ``out`` can be written; makes nothing yet
    threads = options.threads or max(1, (os.cpu_count() or 2) - 1)
    models = vision or Vision.load(config, threads=threads)
    reader_options = ReaderOptions(
        fps=config.camera.fps,
        realtime=options.realtime,
        max_reconnects=options.max_reconnects,
        thumbnail_width=MOTION_WIDTH,
        max_width=config.camera.analysis_width,
        hwaccel=config.camera.hwaccel,
        queue_size=QUEUE_SIZE,
        queue_bytes=QUEUE_BYTES,
    )
    interrupted, failed = False, True
    with files, Reader(source, reader_options) as reader:
        sink = files if progress is None else FanOut(files, ProgressSink(progress))
        loop = FrameLoop(
            reader,
            lambda origin: CameraPipeline(config, models, wall_origin=origin),
            sink,
            stop=stop,
            until=options.duration,
        )
        try:
            interrupted = loop.run() is LoopEnd.STOPPED
            failed = False
        except KeyboardInterrupt:
            interrupted, failed = True, False
        finally:
            if interrupted:
                log.warning("interrupted: open events closed; writing what was found so far")
            report = AnalysisReport(
                reader=reader.stats,
                pipeline=PipelineStats() if loop.pipeline is None else loop.pipeline.stats,
                events=files.events_written,
                counts=files.counts_written,
                wall_seconds=time.perf_counter() - started,
                interrupted=interrupted,
            )
            # A run that failed before its first frame found nothing: it leaves no folder.
            if files.opened or not failed:
                files.stats(report.as_json())
    return report
