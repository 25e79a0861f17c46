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


def test_a_byte_bound_fills_the_queue_before_its_frame_count() -> None:
    big = Frame(image=np.zeros((100, 100, 3), np.uint8), timestamp=0.0, index=0)  # 30000 B
    queue = FrameQueue(10, max_bytes=70_000)
    assert sum(queue.put(big, drop_oldest=True) for _ in range(5)) == 3
    assert len(queue) == 2
    # Deferred frames count as the decoder's 4:2:0 picture until their BGR pixels are made.
    deferred = Frame.deferred(
        lambda: np.zeros((100, 100, 3), np.uint8), width=100, height=100, timestamp=0, index=1
    )
    assert deferred.nbytes == 15_000
    assert queue.put(deferred, drop_oldest=True) == 1 and len(queue) == 2
    # One frame always fits, however big.
    lone = FrameQueue(10, max_bytes=1)
    assert lone.put(big, drop_oldest=False) == 0 and len(lone) == 1


def test_a_byte_bound_blocks_the_producer_until_frames_are_taken() -> None:
    big = Frame(image=np.zeros((100, 100, 3), np.uint8), timestamp=0.0, index=0)
    queue = FrameQueue(10, max_bytes=60_000)
    queue.put(big, drop_oldest=False)
    queue.put(big, drop_oldest=False)
    done = threading.Event()
    producer = threading.Thread(
        target=lambda: (queue.put(big, drop_oldest=False), done.set()), daemon=True
    )
    producer.start()
    assert not done.wait(0.2)
    assert queue.get() is big
    assert done.wait(5)
