"""Load a camera config from YAML; errors name the file, the line and the field.

PyYAML's node tree keeps the line of every key and value, so the loader walks it once, builds the
plain data and an index from field path to line, and maps Pydantic's error locations back to lines.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from citybrain.config.model import RULE_KINDS, CameraConfig
from citybrain.errors import ConfigError

__all__ = ["load_config", "parse_config"]

PathKey = tuple[str | int, ...]
#: Cross-reference errors raised by the model carry their own field path as a prefix.
_PATH_PREFIX = re.compile(r"^(?:Value error, )?([A-Za-z0-9_.-]+): (.*)$", re.DOTALL)


def load_config(path: str | Path) -> CameraConfig:
    """Read and validate a camera config file.

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
    return parse_config(text, source=str(path))


def parse_config(text: str, *, source: str = "<config>") -> CameraConfig:
    """Validate a camera config given as YAML text (``source`` names it in errors)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"{mark.line + 1}" if mark is not None else "?"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}:{line}: not valid YAML: {problem}") from None
    if node is None:
        raise ConfigError(f"{source}:1: the config is empty; it needs at least a 'camera' section")
    lines: dict[PathKey, int] = {}
    try:
        data = _to_python(node, (), lines, yaml.SafeLoader(""))
    except _DuplicateKeyError as dup:
        field = ".".join(str(p) for p in dup.path)
        raise ConfigError(f"{source}:{dup.line}: {field}: defined twice") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:{node.start_mark.line + 1}: the config must be a mapping")
    try:
        return CameraConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source, lines)) from None


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


def _describe(exc: ValidationError, source: str, lines: dict[PathKey, int]) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        loc = _clean_loc(error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        match = _PATH_PREFIX.match(message)
        if match and not loc:
            loc = tuple(int(p) if p.isdigit() else p for p in match.group(1).split("."))
            message = match.group(2)
        line = _line_for(loc, lines)
        field = ".".join(str(p) for p in loc) or "(top level)"
        problems.append(f"{source}:{line}: {field}: {message}")
    return "\n".join(problems)


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
