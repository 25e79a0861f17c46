"""The media store: snapshot files written atomically inside its folder, never read outside it."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from citybrain.errors import StoreError
from citybrain.store import MediaStore


def test_media_store_writes_inside_and_refuses_to_leave(tmp_path: Path) -> None:
    media = MediaStore(tmp_path / "media")
    at = datetime(2026, 3, 2, 23, 59, tzinfo=UTC)
    stored = media.save_snapshot(camera_id=3, event_id="abc123", jpeg=b"\xff\xd8x", at=at)
    assert stored == "snapshots/3/2026-03-02/abc123.jpg"
    assert media.read(stored) == b"\xff\xd8x"
    assert not list((tmp_path / "media").rglob("*.part"))
    for event_id in ("../x", "a/b", "", "x" * 65):
        with pytest.raises(StoreError):
            media.save_snapshot(camera_id=3, event_id=event_id, jpeg=b"", at=at)
    (tmp_path / "secret.jpg").write_bytes(b"secret")
    os.symlink(tmp_path / "secret.jpg", tmp_path / "media" / "snapshots" / "link.jpg")
    os.symlink(tmp_path / "media" / "snapshots" / "3", tmp_path / "media" / "inside-link")
    refused = ["../secret.jpg", str(tmp_path / "secret.jpg"), "snapshots/link.jpg",
               "snapshots/3/../../../secret.jpg", "snapshots/3", "missing.jpg",
               "a\x00b"]  # fmt: skip
    for bad in refused:
        with pytest.raises(StoreError):
            media.read(bad)
        assert not media.delete(bad)
    assert (tmp_path / "secret.jpg").exists()
    assert media.read("inside-link/2026-03-02/abc123.jpg") == b"\xff\xd8x"  # stays inside
    assert media.delete(stored) and not (tmp_path / "media" / stored).exists()
