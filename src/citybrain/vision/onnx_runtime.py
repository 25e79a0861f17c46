"""ONNX Runtime sessions, made in one place: providers, threads, logging, dynamic batch.

Every detector family loads its model through :func:`load_session`, so the choice of execution
provider (CUDA or OpenVINO when present, CPU otherwise), the thread counts and the logger level are
the same everywhere.

Model files exported with a static batch of 1 (YOLOX's official export, most YOLOv8 exports) are
rewritten on load so that frames from several cameras can go through the network in one call: the
batch dimension of inputs and outputs becomes symbolic, and constant ``Reshape`` shapes that pin
the batch to 1 copy it from their input instead. The rewrite is checked numerically against
batch-1 runs; where it does not hold, the original file is loaded and callers run one image at a
time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

from citybrain.errors import ModelError

__all__ = [
    "LoadedModel",
    "SessionConfig",
    "choose_providers",
    "load_model",
    "load_session",
    "make_batch_dynamic",
]

_log = logging.getLogger(__name__)

#: Execution providers in order of preference; the CPU one is always available.
PREFERRED_PROVIDERS = (
    "CUDAExecutionProvider",
    "OpenVINOExecutionProvider",
    "CPUExecutionProvider",
)
_ERROR_SEVERITY = 3  # ONNX Runtime's levels: 0 verbose, 1 info, 2 warning, 3 error, 4 fatal
_BATCH_DIM = "batch"
_PROBE_BATCH = 2


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """How to run a model.

    Attributes:
        threads: intra-op threads; ``None`` uses ``OMP_NUM_THREADS`` or, failing that, the CPU count
            (at most 4, since the small detectors stop scaling there).
        providers: execution providers to use, in order; ``None`` picks the best available.
        optimization: ``"all"``, ``"extended"``, ``"basic"`` or ``"none"``.
        parallel: run independent graph branches in parallel (``ORT_PARALLEL``).
        spinning: let idle intra-op threads busy-wait for work. Off by default: on a small,
            shared CPU (many cameras, other services) spinning threads steal the cores the
            other threads need, and measured throughput drops by half.
    """

    threads: int | None = None
    providers: tuple[str, ...] | None = None
    optimization: str = "all"
    parallel: bool = False
    spinning: bool = False


_OPTIMIZATION = {
    "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def choose_providers(requested: Sequence[str] | None = None) -> list[str]:
    """The execution providers to ask for, best first, always ending with the CPU one.

    Raises:
        ModelError: none of the requested providers is available in this ONNX Runtime build.
    """
    available = ort.get_available_providers()
    if requested is None:
        return [p for p in PREFERRED_PROVIDERS if p in available]
    chosen = [p for p in requested if p in available]
    if not chosen:
        raise ModelError(
            f"none of the execution providers {list(requested)} is available; "
            f"this ONNX Runtime build offers {available}"
        )
    if "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")
    return chosen


def _default_threads() -> int:
    from_env = os.environ.get("OMP_NUM_THREADS", "")
    if from_env.isdigit() and int(from_env) > 0:
        return int(from_env)
    return max(1, min(4, os.cpu_count() or 1))


def _session_options(config: SessionConfig) -> ort.SessionOptions:
    if config.optimization not in _OPTIMIZATION:
        raise ModelError(
            f"unknown graph optimisation level {config.optimization!r}: "
            f"use one of {sorted(_OPTIMIZATION)}"
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = config.threads or _default_threads()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = _OPTIMIZATION[config.optimization]
    options.execution_mode = (
        ort.ExecutionMode.ORT_PARALLEL if config.parallel else ort.ExecutionMode.ORT_SEQUENTIAL
    )
    # PicoDet's Paddle export lists every initializer as a graph input, and ONNX Runtime warns
    # once for each of them: harmless, and noise in a service log.
    options.log_severity_level = _ERROR_SEVERITY
    options.add_session_config_entry(
        "session.intra_op.allow_spinning", "1" if config.spinning else "0"
    )
    return options


def _create(model: str | bytes, config: SessionConfig, name: Path) -> ort.InferenceSession:
    ort.set_default_logger_severity(_ERROR_SEVERITY)
    try:
        return ort.InferenceSession(
            model, _session_options(config), providers=choose_providers(config.providers)
        )
    except ModelError:
        raise
    except Exception as exc:  # ONNX Runtime raises several unrelated classes
        raise ModelError(f"cannot load model {name}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """An opened model.

    Attributes:
        session: the session to run it in.
        batched: whether it accepts several images in one call.
        lanes: single-threaded copies of ``session`` for running the parts of a batch side by
            side on the CPU (empty unless asked for and worthwhile, see :func:`load_model`).
    """

    session: ort.InferenceSession
    batched: bool
    lanes: tuple[ort.InferenceSession, ...] = ()


def load_session(
    path: Path, config: SessionConfig, *, dynamic_batch: bool = False, dynamic_size: bool = False
) -> tuple[ort.InferenceSession, bool]:
    """Open ``path`` as an ONNX Runtime session; see :func:`load_model`.

    Returns:
        The session, and whether it accepts several images in one call.
    """
    loaded = load_model(path, config, dynamic_batch=dynamic_batch, dynamic_size=dynamic_size)
    return loaded.session, loaded.batched


def load_model(
    path: Path,
    config: SessionConfig,
    *,
    dynamic_batch: bool = False,
    dynamic_size: bool = False,
    lanes: bool = False,
) -> LoadedModel:
    """Open ``path`` in ONNX Runtime.

    Args:
        path: the ``.onnx`` file.
        config: providers, threads and optimisation level.
        dynamic_batch: try to make a static batch of 1 dynamic (see the module docstring).
        dynamic_size: with ``dynamic_batch``, also free the input's height and width, so that a
            detector can feed inputs shaped like the frames (a 16:9 frame needs ~40% fewer
            pixels than a square); kept only where outputs agree with the original model.
        lanes: also open one single-threaded session per thread, when the model takes batches
            and runs on the CPU alone. A small detector barely speeds up with intra-op threads
            on one image, while images run side by side on their own cores scale almost
            linearly (measured on 2 cores: 1 image 122/s with 2 threads, 4 images split over
            2 lanes 197/s).

    Raises:
        ModelError: the file is missing or ONNX Runtime cannot load it.
    """
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist")
    providers = choose_providers(config.providers)  # a bad list is a config error
    model: str | bytes = str(path)
    batched = False
    if dynamic_batch:
        rewritten = _load_batched(path, config, dynamic_size=dynamic_size)
        if rewritten is not None:
            session, model = rewritten
            batched = True
    if not batched:
        session = _create(model, config, path)
        batched = _batch_is_dynamic(session)
    threads = config.threads or _default_threads()
    if not (lanes and batched and threads > 1 and providers == ["CPUExecutionProvider"]):
        return LoadedModel(session, batched)
    single = replace(config, threads=1)
    copies = tuple(_create(model, single, path) for _ in range(threads))
    return LoadedModel(session, batched, copies)


def _batch_is_dynamic(session: ort.InferenceSession) -> bool:
    shape = session.get_inputs()[0].shape
    return bool(shape) and not isinstance(shape[0], int)


def _load_batched(
    path: Path, config: SessionConfig, *, dynamic_size: bool = False
) -> tuple[ort.InferenceSession, bytes] | None:
    try:
        model = onnx.load(str(path))
        if _already_dynamic(model):
            return None  # the export takes batches as it is: load it unchanged
        probe = _static_input_shape(model)
        model = make_batch_dynamic(model)
        if dynamic_size:
            make_size_dynamic(model)
        serialised = model.SerializeToString()
        session = _create(serialised, config, path)
        agrees = probe is not None and _agrees_with_batch_one(session, probe)
    except Exception as exc:  # the rewrite is an optimisation: any failure means "don't batch"
        _log.warning("cannot batch %s (%s): running one image per call", path.name, exc)
        return None
    if not agrees:
        _log.warning("batched outputs of %s differ from single runs: one image per call", path)
        return None
    return session, serialised


def _already_dynamic(model: onnx.ModelProto) -> bool:
    initializer_names = {init.name for init in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializer_names]
    dims = inputs[0].type.tensor_type.shape.dim if inputs else []
    return bool(dims) and (bool(dims[0].dim_param) or dims[0].dim_value <= 0)


def make_batch_dynamic(model: onnx.ModelProto) -> onnx.ModelProto:
    """Rewrite a model with a static batch of 1 to take any batch size (in place, returned).

    Inputs and outputs get a symbolic first dimension; constant ``Reshape`` shapes whose first
    entry is 1 get 0 ("copy the input's dimension") there; stored intermediate shapes, which
    would pin the batch again, are dropped so that ONNX Runtime infers them.
    """
    graph = model.graph
    initializer_names = {init.name for init in graph.initializer}
    for value in [*(i for i in graph.input if i.name not in initializer_names), *graph.output]:
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].ClearField("dim_value")
            dims[0].dim_param = _BATCH_DIM
    del graph.value_info[:]
    _free_reshape_batch(model)
    return model


def _free_reshape_batch(model: onnx.ModelProto) -> None:
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    replaced: set[str] = set()
    for node in graph.node:
        if node.op_type != "Reshape" or node.input[1] not in initializers:
            continue
        shape = numpy_helper.to_array(initializers[node.input[1]])
        if shape.ndim != 1 or len(shape) < 2 or shape[0] != 1:
            continue
        # A fresh initializer per node: the old one may feed other nodes that need the 1.
        freed = numpy_helper.from_array(
            np.concatenate([[0], shape[1:]]).astype(shape.dtype), f"{node.input[1]}_batch_free"
        )
        graph.initializer.append(freed)
        initializers[freed.name] = freed
        replaced.add(node.input[1])
        node.input[1] = freed.name
    used = {name for node in graph.node for name in node.input}
    used |= {value.name for value in [*graph.input, *graph.output]}
    for name in replaced - used:  # ONNX Runtime warns about each one left behind
        graph.initializer.remove(initializers[name])


def _static_input_shape(model: onnx.ModelProto) -> tuple[int, ...] | None:
    """The single input's shape, if the model has one input and every dimension is fixed."""
    initializer_names = {init.name for init in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializer_names]
    if len(inputs) != 1:
        return None
    dims = [d.dim_value for d in inputs[0].type.tensor_type.shape.dim]
    return tuple(dims) if dims and all(d > 0 for d in dims) else None


def make_size_dynamic(model: onnx.ModelProto) -> onnx.ModelProto:
    """Free the height and width of an ``NCHW`` input, and every output dimension but the last."""
    graph = model.graph
    initializer_names = {init.name for init in graph.initializer}
    for value in (i for i in graph.input if i.name not in initializer_names):
        dims = value.type.tensor_type.shape.dim
        for index, name in ((2, "height"), (3, "width")):
            if len(dims) == 4:
                dims[index].ClearField("dim_value")
                dims[index].dim_param = name
    for value in graph.output:
        dims = value.type.tensor_type.shape.dim
        for index in range(1, len(dims) - 1):
            dims[index].ClearField("dim_value")
            dims[index].dim_param = f"{value.name}_{index}"
    return model


def _agrees_with_batch_one(session: ort.InferenceSession, static: tuple[int, ...]) -> bool:
    """Whether a batch of two gives, row by row, what two batch-1 calls give."""
    inputs = session.get_inputs()
    if len(inputs) != 1:
        return False
    shape = (_PROBE_BATCH, *static[1:])
    probe = np.random.default_rng(0).uniform(0, 255, size=shape).astype(np.float32)
    name = inputs[0].name
    together: list[Any] = session.run(None, {name: probe})
    for row in range(_PROBE_BATCH):
        alone: list[Any] = session.run(None, {name: probe[row : row + 1]})
        for joint, single in zip(together, alone, strict=True):
            if joint.shape[1:] != single.shape[1:] or not np.allclose(
                joint[row], single[0], rtol=1e-4, atol=1e-3
            ):
                return False
    return True
