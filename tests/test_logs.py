"""Log lines cannot be forged with control characters in names."""

from __future__ import annotations

import logging

from citybrain.logs import SafeFormatter, escape_controls


def _record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("citybrain.test", logging.INFO, __file__, 1, msg, args, None)


def test_arguments_are_escaped_and_our_own_layout_is_kept() -> None:
    formatter = SafeFormatter("%(levelname)s %(message)s")
    line = formatter.format(
        _record("camera %r added\nnext step: %s", "gate\x9b31m", "a\nINFO fake")
    )
    assert line == "INFO camera 'gate\\x9b31m' added\nnext step: a\\x0aINFO fake"
    assert formatter.format(_record("%d frames, %.1f s", 3, 1.25)) == "INFO 3 frames, 1.2 s"


def test_every_control_range_is_escaped() -> None:
    assert escape_controls("\x00\x1b\x7f\x85\x9f\u2028ok") == "\\x00\\x1b\\x7f\\x85\\x9f\\x2028ok"
    assert escape_controls("a\tb\nc", keep_layout=True) == "a\tb\nc"
