"""An append-only JSON-lines file that holds writes the database could not take yet."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["Journal"]

log = logging.getLogger(__name__)

Record = dict[str, Any]


class Journal:
    """A FIFO of JSON records on disk, read from the front and appended at the back.

    Records are consumed in order; how far is kept in a small ``.offset`` file beside the
    journal, so that a restart does not replay what was already written. When all records are
    consumed both files are removed. A record torn by a crash in the middle of an append is
    dropped (with a warning) when the file is opened.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset_path = path.with_name(path.name + ".offset")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._offset = 0  # bytes of the file already consumed
        self._rows = self._repair_and_count()
        if self._rows:
            self._skip_consumed()
        else:
            self._offset_path.unlink(missing_ok=True)

    def __len__(self) -> int:
        """Records not consumed yet."""
        return self._rows

    def append(self, records: Sequence[Record]) -> None:
        """Append ``records`` and make them durable before returning."""
        if not records:
            return
        lines = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        with self.path.open("a", encoding="utf-8") as file:
            file.write(lines)
            file.flush()
            os.fsync(file.fileno())
        self._rows += len(records)

    def peek(self, limit: int) -> tuple[list[Record], int]:
        """Up to ``limit`` records from the front, and the token to :meth:`consume` them."""
        if not self._rows:
            return [], self._offset
        records: list[Record] = []
        with self.path.open("rb") as file:
            file.seek(self._offset)
            while len(records) < limit and (line := file.readline()):
                records.append(json.loads(line))
            return records, file.tell()

    def consume(self, token: int, count: int) -> None:
        """Drop the ``count`` records a :meth:`peek` returned with ``token``."""
        self._offset = token
        self._rows -= count
        if self._rows <= 0:
            self.path.unlink(missing_ok=True)
            self._offset_path.unlink(missing_ok=True)
            self._offset = 0
            self._rows = 0
        else:
            self._save_offset()

    def prepend(self, records: Sequence[Record]) -> None:
        """Put ``records`` before everything not consumed yet (rare: a failed in-flight batch)."""
        if not records:
            return
        rest = b""
        if self._rows:
            with self.path.open("rb") as file:
                file.seek(self._offset)
                rest = file.read()
        head = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records).encode()
        temporary = self.path.with_suffix(".tmp")
        with temporary.open("wb") as file:
            file.write(head + rest)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)
        self._offset = 0
        self._save_offset()
        self._rows += len(records)

    def _save_offset(self) -> None:
        temporary = self._offset_path.with_suffix(".tmp")
        temporary.write_text(str(self._offset))
        os.replace(temporary, self._offset_path)

    def _skip_consumed(self) -> None:
        try:
            offset = int(self._offset_path.read_text())
        except (OSError, ValueError):
            return  # no offset saved: nothing consumed yet
        with self.path.open("rb") as file:
            consumed = file.read(max(offset, 0))
        # A saved offset is used only where it ends a record; otherwise everything is replayed
        # (a repeat is harmless for events, which are upserts).
        if consumed.endswith(b"\n") and len(consumed) == offset:
            self._offset = offset
            self._rows -= consumed.count(b"\n")

    def _repair_and_count(self) -> int:
        if not self.path.exists():
            return 0
        data = self.path.read_bytes()
        keep = data[: data.rfind(b"\n") + 1]
        good: list[bytes] = []
        for line in keep.splitlines():
            try:
                json.loads(line)
            except ValueError:
                log.warning("journal %s: dropping an unreadable record", self.path)
                continue
            good.append(line + b"\n")
        if len(keep) != len(data) or len(good) != keep.count(b"\n"):
            log.warning("journal %s: repaired after an interrupted write", self.path)
            self.path.write_bytes(b"".join(good))
        if not good:
            self.path.unlink()
        return len(good)
