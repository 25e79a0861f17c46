"""The names of the devices a camera's video may be decoded on (the setting, not the decoding:
that is the ingest edge's), shared by the config that asks and the reader that obeys."""

from __future__ import annotations

from typing import Literal

__all__ = ["HwaccelSetting"]

#: ``auto`` (a device that works on this machine, else software), ``none`` (software), or one
#: device type. These are the device types FFmpeg's own decoders hand work to on Linux.
HwaccelSetting = Literal["auto", "none", "cuda", "vaapi", "vulkan"]
