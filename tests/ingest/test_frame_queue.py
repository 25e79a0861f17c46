"""FrameQueue: bounded, drop-oldest or blocking, ends with None or the producer's error."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from citybrain.core.frame import Frame
from citybrain.errors import SourceUnreachableError
from citybrain.ingest.frame_queue import FrameQueue


def frame(index: int) -> Frame:
    return Frame(image=np.zeros((2, 2, 3), np.uint8), timestamp=index / 10, index=index)


def test_drop_oldest_keeps_the_newest() -> None:
    queue = FrameQueue(3)
    dropped = sum(queue.put(frame(i), drop_oldest=True) for i in range(10))
    queue.finish()
    assert dropped == 7
    assert [f.index for f in iter(queue.get, None)] == [7, 8, 9]


def test_blocking_put_waits_for_the_consumer() -> None:
    queue = FrameQueue(2)
    done = threading.Event()

    def produce() -> None:
        for i in range(5):
            queue.put(frame(i), drop_oldest=False)
        done.set()

    threading.Thread(target=produce, daemon=True).start()
    time.sleep(0.2)
    assert not done.is_set()  # blocked on the full queue
    got = [queue.get(timeout=2) for _ in range(5)]
    assert [f.index for f in got if f is not None] == [0, 1, 2, 3, 4]
    assert done.wait(2)


def test_error_comes_after_the_queued_frames_and_sticks() -> None:
    queue = FrameQueue(4)
    queue.put(frame(0), drop_oldest=True)
    queue.finish(SourceUnreachableError("rtsp://***@cam unreachable"))
    assert queue.get(timeout=1) is not None
    for _ in range(2):
        with pytest.raises(SourceUnreachableError, match="unreachable"):
            queue.get(timeout=1)


def test_timeout_raises() -> None:
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        FrameQueue(1).get(timeout=0.1)
    assert 0.09 < time.monotonic() - start < 1


def test_cancel_wakes_a_blocked_producer_and_ends_the_queue() -> None:
    queue = FrameQueue(1)
    queue.put(frame(0), drop_oldest=False)
    returned = threading.Event()

    def produce() -> None:
        queue.put(frame(1), drop_oldest=False)
        returned.set()

    threading.Thread(target=produce, daemon=True).start()
    time.sleep(0.1)
    queue.cancel()
    assert returned.wait(1)
    assert queue.get(timeout=1) is None
