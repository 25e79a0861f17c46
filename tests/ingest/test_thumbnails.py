"""Grey thumbnails for the motion gate: from the luma plane where there is one, else swscale."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from citybrain.ingest.decode import ThumbnailMaker


def grey_scene() -> np.ndarray:
    """A 432x768 grey picture with smooth shading and a few hard-edged blocks."""
    y, x = np.mgrid[0:432, 0:768]
    image = (40 + 150 * x / 767 + 20 * np.sin(y / 30)).astype(np.uint8)
    image[100:300, 200:260] = 230
    image[50:120, 500:700] = 20
    return image


@pytest.mark.parametrize("pixel_format", ["yuv420p", "yuvj420p", "nv12", "yuv444p"])
def test_luma_thumbnails_keep_the_grey_levels(pixel_format: str) -> None:
    scene = grey_scene()
    frame = av.VideoFrame.from_ndarray(scene, format="gray").reformat(format=pixel_format)
    thumbnail = ThumbnailMaker(200).make(frame)
    assert thumbnail.shape == (112, 200) and thumbnail.dtype == np.uint8
    expected = cv2.resize(scene, (200, 112), interpolation=cv2.INTER_AREA)
    # Limited-range formats are stretched back to 0-255, full-range (yuvj) ones are not.
    difference = np.abs(thumbnail.astype(int) - expected.astype(int))
    assert difference.mean() < 3.0, pixel_format


def test_other_formats_go_through_swscale() -> None:
    scene = cv2.cvtColor(grey_scene(), cv2.COLOR_GRAY2RGB)
    frame = av.VideoFrame.from_ndarray(scene, format="rgb24")
    thumbnail = ThumbnailMaker(200).make(frame)
    expected = frame.reformat(format="gray", width=200, height=112, interpolation="AREA")
    np.testing.assert_array_equal(thumbnail, expected.to_ndarray())


def test_a_frame_narrower_than_the_thumbnail_keeps_its_size() -> None:
    frame = av.VideoFrame.from_ndarray(grey_scene()[:90, :160], format="gray").reformat(
        format="yuv420p"
    )
    assert ThumbnailMaker(200).make(frame).shape == (90, 160)
