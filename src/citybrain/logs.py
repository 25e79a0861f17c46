"""Log lines that cannot be forged: control characters in a message are shown escaped.

A camera name, a user name or a source URL from a request may carry terminal escapes (C0 and
C1 control characters) that would rewrite what an operator sees in a log viewer or terminal,
or a line break that would fake a log line. :class:`SafeFormatter` writes them as ``\\xNN``.
Line breaks our own code puts in a message stay; those inside the arguments are escaped.
"""

from __future__ import annotations

import logging
import re
from typing import Any

__all__ = ["SafeFormatter", "configure_logging", "escape_controls"]

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROLS_BUT_LAYOUT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str, *, keep_layout: bool = False) -> str:
    """``text`` with control characters (C0, DEL, C1, Unicode line separators) as ``\\xNN``;
    ``keep_layout`` keeps line feeds and tabs."""
    pattern = _CONTROLS_BUT_LAYOUT if keep_layout else _CONTROLS
    return pattern.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class SafeFormatter(logging.Formatter):
    """A formatter that escapes control characters in every argument of a log call (and any
    in the message template but its own line breaks and tabs)."""

    def format(self, record: logging.LogRecord) -> str:
        original = record.msg, record.args
        try:
            record.msg = escape_controls(str(record.msg), keep_layout=True)
            record.args = _escaped(record.args)
            return super().format(record)
        finally:
            record.msg, record.args = original


def _escaped(args: Any) -> Any:
    if isinstance(args, tuple):
        return tuple(_one(a) for a in args)
    if isinstance(args, dict):
        return {k: _one(v) for k, v in args.items()}
    return args


class _Escaped(str):
    """A string argument shown with its controls escaped by ``%s``; ``%r`` shows the original's
    repr, which escapes them itself."""

    _original: str

    def __new__(cls, original: str) -> _Escaped:
        escaped = super().__new__(cls, escape_controls(original))
        escaped._original = original
        return escaped

    def __repr__(self) -> str:
        return repr(self._original)


def _one(value: Any) -> Any:
    if isinstance(value, str):
        return _Escaped(value)
    if isinstance(value, int | float | type(None)):
        return value  # keeps %d and %.1f working; nothing to escape
    return _Escaped(str(value))


def configure_logging(level: int, fmt: str) -> None:
    """Log to standard error at ``level`` with ``fmt``, control characters escaped.

    Like :func:`logging.basicConfig`, it leaves a logging set-up that already has handlers
    alone (an embedding application's, or a test runner's).
    """
    handler = logging.StreamHandler()
    handler.setFormatter(SafeFormatter(fmt))
    logging.basicConfig(level=level, handlers=[handler])
