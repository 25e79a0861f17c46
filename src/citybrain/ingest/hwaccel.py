"""Hardware decoding where the machine has it, software decoding everywhere else.

FFmpeg decodes on a device through its native decoders' *hwaccels* (NVDEC for ``cuda``, VA-API
for ``vaapi``), with decoded pictures copied back to memory so that everything downstream
(conversion, thumbnails, anonymisation) is the same as for software frames. Whether a device
works is found out once per process and device type, by creating a device context for the
H.264 decoder; a reader never fails because of it, it decodes in software instead.
"""

from __future__ import annotations

import logging
import threading

import av.error
from av.codec import Codec
from av.codec.hwaccel import HWAccel, hwdevices_available

from citybrain.core.decoding import HwaccelSetting

__all__ = [
    "AUTO_DEVICES",
    "SOFTWARE",
    "choose_device",
    "device_problem",
    "hwaccel_for",
]

log = logging.getLogger(__name__)

#: The device types ``auto`` tries, in order. Vulkan is left to an explicit choice: a
#: machine without a GPU may still offer a software Vulkan (lavapipe), slower than FFmpeg.
AUTO_DEVICES: tuple[HwaccelSetting, ...] = ("cuda", "vaapi")
#: What readers and health reports say when no device decodes.
SOFTWARE = "software"
#: The codec a device is probed with: the one nearly every camera sends.
_PROBE_CODEC = "h264"
#: Device options (``av_hwdevice_ctx_create``). CUDA: every stream of the process shares the
#: GPU's primary context (the one ONNX Runtime's CUDA provider uses too) instead of creating a
#: context of its own, which costs device memory per camera.
_DEVICE_OPTIONS: dict[str, dict[str, object]] = {"cuda": {"primary_ctx": "1"}}

_lock = threading.Lock()
_problems: dict[str, str | None] = {}


def device_problem(device_type: str) -> str | None:
    """Why ``device_type`` cannot decode here, or ``None`` where it can (probed once per
    process: creating a device context costs from milliseconds to a fraction of a second)."""
    with _lock:
        if device_type not in _problems:
            _problems[device_type] = _probe(device_type)
        return _problems[device_type]


def _probe(device_type: str) -> str | None:
    if device_type not in hwdevices_available():
        return f"this FFmpeg build has no {device_type} support"
    try:
        options = _DEVICE_OPTIONS.get(device_type)
        accel = HWAccel(device_type, allow_software_fallback=False, options=options)
        accel.create(Codec(_PROBE_CODEC, "r"))
    except NotImplementedError:
        return f"this FFmpeg build cannot decode H.264 on {device_type}"
    except (av.error.FFmpegError, OSError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        return f"no usable {device_type} device ({reason})"
    return None


def choose_device(setting: HwaccelSetting, name: str) -> str | None:
    """The device type a reader of ``name`` decodes on, ``None`` for software.

    An explicitly named device that does not work here is logged (once per reader) with the
    reason, and the reader decodes in software; ``auto`` quietly takes the first device of
    :data:`AUTO_DEVICES` that works, if any.
    """
    if setting == "none":
        return None
    if setting == "auto":
        return next((d for d in AUTO_DEVICES if device_problem(d) is None), None)
    problem = device_problem(setting)
    if problem is not None:
        log.warning("%s: decoding in software: %s", name, problem)
        return None
    return setting


def hwaccel_for(device: str | None) -> HWAccel | None:
    """The PyAV setting that decodes on ``device`` (``None``: software). Streams the device
    cannot decode (another codec or profile) are decoded in software by FFmpeg itself."""
    if device is None:
        return None
    return HWAccel(device, allow_software_fallback=True, options=_DEVICE_OPTIONS.get(device))
