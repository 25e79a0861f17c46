"""The media store: anonymised event snapshots as files under ``<data_dir>/media``.

The database keeps each snapshot's path *relative to the media folder*; the API addresses a
snapshot only by its event's id and resolves the stored path here, refusing anything that
would leave the folder (``..``, absolute paths, symlinks pointing out).

Example:
    >>> media = MediaStore(Path("citybrain-data/media"))  # doctest: +SKIP
    >>> path = media.save_snapshot(camera_id=3, event_id=event.id, jpeg=data, at=started_at)
    >>> EventWriter(...).submit(update, camera_id=3, origin=origin, snapshot=path)
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from datetime import datetime
from pathlib import Path, PurePosixPath

from citybrain.errors import StoreError
from citybrain.store.types import utc

__all__ = ["SNAPSHOTS", "MediaStore"]

log = logging.getLogger(__name__)

SNAPSHOTS = "snapshots"
_EVENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class MediaStore:
    """Snapshot files under one root folder."""

    def __init__(self, root: Path) -> None:
        self._root = root

    @property
    def root(self) -> Path:
        return self._root

    def save_snapshot(self, *, camera_id: int, event_id: str, jpeg: bytes, at: datetime) -> str:
        """Write an event's (anonymised) snapshot; returns the path to store with the event.

        The write is atomic (temporary file, then rename), so a reader never sees half a file.

        Raises:
            StoreError: the event id is not a plain id, or the file cannot be written.
        """
        if not _EVENT_ID.match(event_id):
            raise StoreError(f"cannot name a snapshot after event id {event_id[:80]!r}")
        day = utc(at).strftime("%Y-%m-%d")
        relative = PurePosixPath(SNAPSHOTS, str(int(camera_id)), day, f"{event_id}.jpg")
        target = self._root / relative
        for _ in range(3):
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, temporary = tempfile.mkstemp(dir=target.parent, suffix=".part")
                with os.fdopen(fd, "wb") as out:
                    out.write(jpeg)
                os.replace(temporary, target)
                return str(relative)
            except FileNotFoundError:
                # The retention sweep removes emptied day folders; it may have removed this one
                # between our mkdir and the write. Make it again.
                continue
            except OSError as exc:
                raise StoreError(f"cannot write snapshot {relative}: {exc}") from exc
        raise StoreError(f"cannot write snapshot {relative}: its folder keeps vanishing")

    def resolve(self, stored: str) -> Path:
        """The file a stored snapshot path names, if it is a regular file inside the root.

        Raises:
            StoreError: the path is absolute, leaves the media folder (also through a
                symlink), or names no regular file.
        """
        if not stored or "\x00" in stored or os.path.isabs(stored) or stored.startswith("\\"):
            raise StoreError("snapshot path refused: not a relative path inside the media folder")
        root = self._root.resolve()
        try:
            candidate = (root / stored).resolve(strict=True)
        except (OSError, RuntimeError) as exc:  # missing, or a symlink loop
            raise StoreError("snapshot file not found") from exc
        if not candidate.is_relative_to(root):
            log.warning("refused a snapshot path that leaves the media folder")
            raise StoreError("snapshot path refused: it leaves the media folder")
        if not candidate.is_file():
            raise StoreError("snapshot file not found")
        return candidate

    def read(self, stored: str) -> bytes:
        """The bytes of a stored snapshot (see :meth:`resolve` for what is refused).

        Raises:
            StoreError: refused or unreadable.
        """
        path = self.resolve(stored)
        try:
            return path.read_bytes()
        except OSError as exc:
            raise StoreError("snapshot file cannot be read") from exc

    def delete(self, stored: str) -> bool:
        """Delete a stored snapshot; whether a file went (refused paths are left alone)."""
        try:
            path = self.resolve(stored)
        except StoreError:
            return False
        try:
            path.unlink()
        except OSError:
            return False
        return True

    def sweep(self, *, cutoff: datetime) -> int:
        """Delete snapshot files last written before ``cutoff`` and the folders left empty.

        Catches files whose events are already gone (a camera deleted, a crash between the
        two deletes). Symlinks are never followed. Returns how many files went.
        """
        top = self._root / SNAPSHOTS
        if not top.is_dir():
            return 0
        limit = utc(cutoff).timestamp()
        removed = 0
        for folder, dirs, files in os.walk(top, topdown=False, followlinks=False):
            for name in files:
                path = Path(folder, name)
                try:
                    if path.lstat().st_mtime < limit:
                        path.unlink()
                        removed += 1
                except OSError:
                    continue
            for name in dirs:
                try:
                    Path(folder, name).rmdir()  # only succeeds when empty
                except OSError:
                    continue
        return removed
