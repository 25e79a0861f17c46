"""Writing what training chose (thresholds, provenance) into a model file's metadata, where
the runtime reads it: one place for the export scripts and the selection scripts."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import onnx

__all__ = ["write_metadata"]


def write_metadata(path: Path, values: Mapping[str, str], *, doc: str | None = None) -> None:
    """Set ``values`` in the metadata of the ONNX model at ``path`` (a key already there is
    replaced, the others kept), and its doc string if ``doc`` is given; checked, then saved."""
    model = onnx.load(str(path))
    if doc is not None:
        model.doc_string = doc
    kept = [prop for prop in model.metadata_props if prop.key not in values]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in values.items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
