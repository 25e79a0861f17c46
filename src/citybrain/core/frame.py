"""A decoded video frame as it travels between stages."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

__all__ = ["Frame", "Image"]

Image = npt.NDArray[np.uint8]


class Frame:
    """One decoded frame.

    Its BGR pixels may be made on first use (:meth:`deferred`): at 5 analysed frames per second
    most frames only go through the motion gate, which needs the small grey thumbnail alone, and
    converting every frame to full-size BGR would cost the decode thread more than decoding.

    Args:
        image: ``(H, W, 3)`` uint8 BGR pixels.
        timestamp: seconds since the start of the stream, from the stream's own timestamps.
        index: the frame's position among decoded frames (0-based).
        thumbnail: a small grey copy (``(h, w)`` uint8) made by the decoder's own scaler.

    Attributes:
        timestamp: every time-based rule runs on this clock, never on the wall clock.
        index: the frame's position among decoded frames.
        thumbnail: the small grey copy for the motion gate; ``None`` when the source made none.
    """

    __slots__ = (
        "_image", "_load", "_pending", "_shape", "_thumb_load", "_thumbnail", "index", "timestamp",
    )  # fmt: skip

    def __init__(
        self, image: Image, timestamp: float, index: int, thumbnail: Image | None = None
    ) -> None:
        self._image: Image | None = image
        self._load: Callable[[], Image] | None = None
        self._shape = (int(image.shape[0]), int(image.shape[1]))
        self._pending = 0
        self.timestamp = timestamp
        self.index = index
        self._thumbnail = thumbnail
        self._thumb_load: Callable[[], Image] | None = None

    @classmethod
    def deferred(
        cls,
        load: Callable[[], Image],
        *,
        width: int,
        height: int,
        timestamp: float,
        index: int,
        thumbnail: Image | Callable[[], Image] | None = None,
        decoded: tuple[int, int] | None = None,
    ) -> Frame:
        """A frame whose BGR pixels ``load`` makes on first use of :attr:`image` (then kept).

        ``load`` may be called from any thread and must return a ``(height, width, 3)`` image.
        ``thumbnail`` may likewise be a function that makes it on first use. ``decoded``: the
        decoder's picture's ``(width, height)`` where ``load`` scales it (for :attr:`nbytes`).
        """
        frame = cls.__new__(cls)
        frame._image = None
        frame._load = load
        frame._shape = (height, width)
        source_width, source_height = decoded or (width, height)
        frame._pending = source_width * source_height * 3 // 2
        frame.timestamp = timestamp
        frame.index = index
        if callable(thumbnail):
            frame._thumbnail, frame._thumb_load = None, thumbnail
        else:
            frame._thumbnail, frame._thumb_load = thumbnail, None
        return frame

    @property
    def image(self) -> Image:
        """``(H, W, 3)`` uint8 BGR pixels. Raw: never written to disk or returned by an API
        before the anonymiser has processed it."""
        image = self._image
        if image is None:
            load = self._load
            if load is None:  # another thread loaded it between the two reads
                image = self._image
                assert image is not None
                return image
            image = load()
            if image.shape[:2] != self._shape:
                raise ValueError(f"frame loader made {image.shape[:2]}, expected {self._shape}")
            self._image = image
            self._load = None  # let the decoder's frame go
        return image

    @property
    def thumbnail(self) -> Image | None:
        """The small grey copy for the motion gate (made on first use where the decode thread
        left it to the consumer); ``None`` when the source made none."""
        thumbnail = self._thumbnail
        load = self._thumb_load
        if thumbnail is None and load is not None:
            thumbnail = self._thumbnail = load()
            self._thumb_load = None
        return thumbnail

    @property
    def loaded(self) -> bool:
        """Whether the BGR pixels have been made (always, for a frame built from an image)."""
        return self._image is not None

    @property
    def nbytes(self) -> int:
        """Bytes its pixels hold: the BGR image once made, until then the decoder's picture
        (counted as 4:2:0, the usual camera format), plus the thumbnail once made."""
        image, thumbnail = self._image, self._thumbnail
        size = image.nbytes if image is not None else self._pending
        return int(size + (thumbnail.nbytes if thumbnail is not None else 0))

    @property
    def height(self) -> int:
        return self._shape[0]

    @property
    def width(self) -> int:
        return self._shape[1]

    def __repr__(self) -> str:
        h, w = self._shape
        return f"Frame({w}x{h}, timestamp={self.timestamp:.3f}, index={self.index})"
