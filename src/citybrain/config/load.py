"""Validate a camera config, from a YAML file or from the store; errors name the field (and line).

This is the one validation of a camera config. ``citybrain analyze`` reads a whole file;
``citybrain camera add --config`` reads a file that belongs to a stored camera, and the runtime and
the API validate what the store holds (:func:`stored_camera_config`). A stored camera's config
needs no ``camera`` section: its name is the camera's, and its source is kept apart from it.

PyYAML's node tree keeps the line of every key and value, so the loader walks it once, builds the
plain data and an index from field path to line, and maps Pydantic's error locations back to lines.
Every :class:`~citybrain.errors.ConfigError` raised here carries its problems with their field
paths (:attr:`~citybrain.errors.ConfigError.problems`) besides its message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from citybrain.config.model import RULE_KINDS, CameraConfig
from citybrain.errors import ConfigError, ConfigProblem

__all__ = ["config_for_store", "load_config", "parse_config", "stored_camera_config"]

PathKey = tuple[str | int, ...]
#: Cross-reference errors raised by the model carry their own field path as a prefix.
_PATH_PREFIX = re.compile(r"^(?:Value error, )?([A-Za-z0-9_.-]+): (.*)$", re.DOTALL)
_NO_SOURCE = (
    "a camera's source is its own field (SOURCE on the command line, `source` in the API), "
    "not part of its config"
)


def load_config(path: str | Path, *, camera: str | None = None) -> CameraConfig:
    """Read and validate a camera config file.

    Args:
        path: the YAML file.
        camera: the name of the stored camera the file is for; its ``camera`` section is then
            optional (see :func:`stored_camera_config`).

    Raises:
        ConfigError: the file is missing, not YAML, or invalid; the message has one line per
            problem, ``FILE:LINE: FIELD: what is wrong``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from None
    return parse_config(text, source=str(path), camera=camera)


def parse_config(text: str, *, source: str = "<config>", camera: str | None = None) -> CameraConfig:
    """Validate a camera config given as YAML text (``source`` names it in errors; ``camera``
    as in :func:`load_config`)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"{mark.line + 1}" if mark is not None else "?"
        problem = getattr(exc, "problem", None) or str(exc)
        raise _whole(f"{source}:{line}: ", f"not valid YAML: {problem}") from None
    if node is None:
        if camera is not None:
            return stored_camera_config(camera, {})
        raise _whole(f"{source}:1: ", "the config is empty; it needs at least a 'camera' section")
    lines: dict[PathKey, int] = {}
    try:
        data = _to_python(node, (), lines, yaml.SafeLoader(""))
    except _DuplicateKeyError as dup:
        field = ".".join(str(p) for p in dup.path)
        message = f"{source}:{dup.line}: {field}: defined twice"
        raise ConfigError(message, [ConfigProblem(dup.path, "defined twice")]) from None
    if not isinstance(data, dict):
        raise _whole(f"{source}:{node.start_mark.line + 1}: ", "the config must be a mapping")
    config, problems = _check(data, camera)
    if config is None:
        described = (f"{source}:{_line_for(p.loc, lines)}: {_field(p.loc)}: {p.message}"
                     for p in problems)  # fmt: skip
        raise ConfigError("\n".join(described), problems)
    return config


def stored_camera_config(name: str, data: Mapping[str, Any]) -> CameraConfig:
    """Validate the config the store holds for the camera called ``name``.

    The ``camera`` section is optional; its ``name`` is always the camera's and its ``fps``
    defaults to the engine's analysis rate. A ``source`` in it is refused: the camera's source
    is kept apart from its config. Anonymisation is on unless the config turns it off.

    Raises:
        ConfigError: the config is invalid; the message names the camera and each field, and
            :attr:`~citybrain.errors.ConfigError.problems` holds each field's path.
    """
    config, problems = _check(data, name)
    if config is None:
        described = "; ".join(f"{_field(p.loc)}: {p.message}" for p in problems)
        raise ConfigError(f"camera {name!r}: invalid config: {described}", problems)
    return config


def config_for_store(config: CameraConfig) -> dict[str, Any]:
    """What the store keeps of a stored camera's validated config: what its user set, as JSON,
    without the name (the camera's own)."""
    stored = config.model_dump(mode="json", exclude_unset=True)
    section = stored.get("camera", {})
    section.pop("name", None)
    if not section:
        stored.pop("camera", None)
    return stored


def _check(
    data: Mapping[str, Any], camera: str | None
) -> tuple[CameraConfig | None, list[ConfigProblem]]:
    """``data`` validated as a camera config (for the stored ``camera``), or its problems."""
    problems: list[ConfigProblem] = []
    if camera is not None:
        section = data.get("camera")
        if section is None:
            section = {}
        if isinstance(section, Mapping):
            if "source" in section:
                problems.append(ConfigProblem(("camera", "source"), _NO_SOURCE))
            data = {**data, "camera": {**section, "name": camera}}
    try:
        config = CameraConfig.model_validate(data)
    except ValidationError as exc:
        return None, problems + [_problem(e["loc"], str(e["msg"])) for e in exc.errors()]
    return (None, problems) if problems else (config, [])


def _problem(loc: tuple[str | int, ...], message: str) -> ConfigProblem:
    message = message.removeprefix("Value error, ")
    clean = _clean_loc(loc)
    match = _PATH_PREFIX.match(message)
    if match and not clean:
        clean = tuple(int(p) if p.isdigit() else p for p in match.group(1).split("."))
        message = match.group(2)
    return ConfigProblem(clean, message)


def _whole(prefix: str, message: str) -> ConfigError:
    """An error about the whole file (no one field)."""
    return ConfigError(prefix + message, [ConfigProblem((), message)])


def _field(loc: PathKey) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


class _DuplicateKeyError(Exception):
    def __init__(self, line: int, path: PathKey) -> None:
        super().__init__(line, path)
        self.line = line
        self.path = path


def _to_python(
    node: yaml.Node, path: PathKey, lines: dict[PathKey, int], loader: yaml.SafeLoader
) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)
            if key in result:
                raise _DuplicateKeyError(key_node.start_mark.line + 1, (*path, key))
            result[key] = _to_python(value_node, (*path, key), lines, loader)
            # The key's line is more useful than a multi-line value's first line.
            lines[(*path, key)] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*path, i), lines, loader) for i, item in enumerate(node.value)]
    return loader.construct_object(node)


def _clean_loc(loc: tuple[str | int, ...]) -> PathKey:
    """Drop the discriminator tag Pydantic inserts after ``rules.<name>``."""
    if len(loc) >= 3 and loc[0] == "rules" and loc[2] in RULE_KINDS:
        return (*loc[:2], *loc[3:])
    return tuple(loc)


def _line_for(loc: PathKey, lines: dict[PathKey, int]) -> int:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1
