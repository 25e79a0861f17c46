"""Event snapshots: the anonymised frame, the event's box drawn on it, encoded as JPEG."""

from __future__ import annotations

import cv2
import numpy as np

from citybrain.core.events import Event
from citybrain.core.frame import Image

__all__ = ["annotate", "encode_jpeg"]

_COLOUR = (0, 0, 255)  # BGR red: the object the event is about


def annotate(image: Image, event: Event) -> Image:
    """A copy of an (already anonymised) image with the event's box and rule drawn on it."""
    out = image.copy()
    if event.bbox is None:
        return out
    h, w = out.shape[:2]
    x1, y1, x2, y2 = (np.array(event.bbox) * [w, h, w, h]).round().astype(int).tolist()
    thickness = max(1, round(min(w, h) / 300))
    cv2.rectangle(out, (x1, y1), (x2, y2), _COLOUR, thickness)
    label = f"{event.rule}: {event.label or event.kind}"
    scale = max(0.4, min(w, h) / 900)
    cv2.putText(
        out, label, (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, scale, _COLOUR, thickness
    )
    return out


def encode_jpeg(image: Image, quality: int = 85) -> bytes:
    """JPEG bytes of a BGR image."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(data.tobytes())
