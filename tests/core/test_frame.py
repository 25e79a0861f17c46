"""Frames whose pixels are made on first use."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from citybrain.core.frame import Frame


def test_deferred_pixels_are_made_once_on_first_use() -> None:
    calls: list[str] = []

    def load() -> np.ndarray:
        calls.append(threading.current_thread().name)
        return np.full((4, 6, 3), 7, np.uint8)

    frame = Frame.deferred(load, width=6, height=4, timestamp=1.5, index=3)
    assert (frame.width, frame.height, frame.loaded, calls) == (6, 4, False, [])
    assert int(frame.image[0, 0, 0]) == 7 and frame.loaded
    assert frame.image is frame.image
    assert len(calls) == 1
    assert repr(frame) == "Frame(6x4, timestamp=1.500, index=3)"


def test_a_loader_that_makes_the_wrong_size_is_an_error() -> None:
    frame = Frame.deferred(
        lambda: np.zeros((2, 2, 3), np.uint8), width=6, height=4, timestamp=0.0, index=0
    )
    with pytest.raises(ValueError, match=r"made \(2, 2\), expected \(4, 6\)"):
        _ = frame.image
    assert not frame.loaded


def test_a_frame_from_an_image_is_loaded() -> None:
    frame = Frame(np.zeros((3, 5, 3), np.uint8), 0.2, 1)
    assert frame.loaded and (frame.width, frame.height) == (5, 3)


def test_a_deferred_thumbnail_is_made_once_on_first_use() -> None:
    calls: list[int] = []

    def thumbnail() -> np.ndarray:
        calls.append(1)
        return np.full((2, 3), 9, np.uint8)

    frame = Frame.deferred(
        lambda: np.zeros((4, 6, 3), np.uint8),
        width=6,
        height=4,
        timestamp=0.0,
        index=0,
        thumbnail=thumbnail,
    )
    assert frame.nbytes == 6 * 4 * 3 // 2 and calls == []
    assert frame.thumbnail is not None and int(frame.thumbnail[0, 0]) == 9
    assert frame.thumbnail is frame.thumbnail and calls == [1]
    assert frame.nbytes == 36 + 6
    _ = frame.image
    assert frame.nbytes == 72 + 6 and frame.loaded
