"""A decoded video frame as it travels between stages."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Frame", "Image"]

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame.

    Attributes:
        image: ``(H, W, 3)`` uint8 BGR pixels. Raw: never written to disk or returned by an API
            before the anonymiser has processed it.
        timestamp: seconds since the start of the stream, from the stream's own timestamps. Every
            time-based rule runs on this clock, never on the wall clock.
        index: the frame's position among decoded frames (0-based).
        thumbnail: a small grey copy (``(h, w)`` uint8) made by the decoder's own scaler, for
            the motion gate; ``None`` when the source did not make one.
    """

    image: Image
    timestamp: float
    index: int
    thumbnail: Image | None = None

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])
