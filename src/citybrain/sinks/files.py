"""The command line's output folder: events.jsonl, snapshots/, counts.jsonl and stats.json."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from citybrain.core.events import Event, EventPhase, EventUpdate, LineCount
from citybrain.core.frame import Image
from citybrain.errors import CitybrainError
from citybrain.sinks.base import SinkBase
from citybrain.sinks.snapshots import annotate, encode_jpeg

__all__ = ["FileSink", "OutputError"]


class OutputError(CitybrainError):
    """The output folder cannot be written (missing permission, full disk)."""


class FileSink(SinkBase):
    """Writes finished events (one JSON line each), one snapshot per event, and counts (a
    :class:`~citybrain.sinks.base.ResultSink`).

    Every line is flushed as it is written, so a crash or a full disk loses nothing already
    reported.

    The folder is made when the source gave its first frame, not before: a source that cannot
    be read leaves no half-made folder (and an existing one as it was).

    Args:
        out: the output folder (created if needed).

    Raises:
        OutputError: ``out`` cannot be a folder this process may write (checked at once, so that
            the error comes before the models load).
    """

    def __init__(self, out: Path) -> None:
        self.out = out
        self.snapshots = out / "snapshots"
        self.events_written = 0
        self.counts_written = 0
        self._snapshot_paths: dict[str, str] = {}
        self._events: IO[str] | None = None
        self._counts: IO[str] | None = None
        _check_writable(out)

    @property
    def opened(self) -> bool:
        """Whether the folder and its files were made (by :meth:`open` or the first result)."""
        return self._events is not None

    def open(self) -> None:
        """Make the folder and start its files (done by :meth:`started` and the first result:
        a run that fails before its source gave a frame leaves no folder behind)."""
        if self._events is not None:
            return
        try:
            self.snapshots.mkdir(parents=True, exist_ok=True)
            self._events = (self.out / "events.jsonl").open("w", encoding="utf-8")
            self._counts = (self.out / "counts.jsonl").open("w", encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"cannot write to output folder {self.out}: {exc.strerror}") from None

    def started(self, wall_origin: float) -> None:
        self.open()

    def __enter__(self) -> FileSink:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def events(self, updates: Sequence[EventUpdate], safe_image: Image | None) -> None:
        """Record updates; ``safe_image`` is the anonymised frame they happened on."""
        self.open()
        for update in updates:
            event = update.event
            if update.phase == EventPhase.START and safe_image is not None:
                self._snapshot(event, safe_image)
            if update.phase == EventPhase.END:
                self._write(self._events, self._event_record(event))
                self.events_written += 1

    def counts(self, counts: Sequence[LineCount]) -> None:
        self.open()
        for count in counts:
            self._write(self._counts, asdict(count))
            self.counts_written += 1

    def stats(self, stats: dict[str, Any]) -> None:
        """Write ``stats.json`` (atomically: a reader never sees half a file)."""
        self.open()
        path = self.out / "stats.json"
        tmp = path.with_suffix(".json.tmp")
        try:
            tmp.write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc.strerror}") from None

    def close(self) -> None:
        for stream in (self._events, self._counts):
            if stream is not None:
                stream.close()

    def _snapshot(self, event: Event, safe_image: Image) -> None:
        relative = f"snapshots/{event.id}.jpg"
        path = self.out / relative
        try:
            path.write_bytes(encode_jpeg(annotate(safe_image, event)))
        except OSError as exc:
            raise OutputError(f"cannot write snapshot {path}: {exc.strerror}") from None
        self._snapshot_paths[event.id] = relative

    def _event_record(self, event: Event) -> dict[str, Any]:
        record = event.model_dump()
        record["bbox"] = list(event.bbox) if event.bbox is not None else None
        record["snapshot"] = self._snapshot_paths.pop(event.id, None)
        return record

    def _write(self, stream: IO[str] | None, record: dict[str, Any]) -> None:
        assert stream is not None, "opened by the caller"
        try:
            stream.write(json.dumps(record) + "\n")
            stream.flush()
        except OSError as exc:
            raise OutputError(f"cannot write {stream.name}: {exc.strerror}") from None


def _check_writable(out: Path) -> None:
    """Raise :class:`OutputError` unless ``out`` is, or can be made, a folder we may write."""
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        problem = "not a folder" if existing == out else f"{existing} is not a folder"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = "permission denied" if existing == out else f"{existing} is not writable"
    else:
        return
    raise OutputError(f"cannot write to output folder {out}: {problem}")
