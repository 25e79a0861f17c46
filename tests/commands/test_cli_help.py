"""Every ``--help`` page of ``citybrain``: cheap (no heavy imports), whole sentences, real flags.

The pages are walked from the command tree itself, so a command added later is checked too.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
import typer

from citybrain.cli import app

#: What a help page must not import: each costs a noticeable share of a second of CPU or more.
HEAVY = ("numpy", "cv2", "av", "onnxruntime", "sqlalchemy", "fastapi", "httpx", "argon2")
WIDE = 1000  # columns: at this width no help text needs to wrap


# Typer carries its own copy of Click: its classes are reached through the objects, not imported.
Command = Any


def _subcommands(command: Command) -> dict[str, Command]:
    if not hasattr(command, "list_commands"):
        return {}
    ctx = command.context_class(command)
    return {name: command.get_command(ctx, name) for name in command.list_commands(ctx)}


def _pages(command: Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in _subcommands(command).items():
        yield from _pages(sub, (*path, name))


PAGES = list(_pages(typer.main.get_command(app)))


def help_page(path: tuple[str, ...], capsys: pytest.CaptureFixture[str], width: int = WIDE) -> str:
    command = typer.main.get_command(app)
    command.main(
        [*path, "--help"], prog_name="citybrain", standalone_mode=False,
        terminal_width=width, max_content_width=width,
    )  # fmt: skip
    return capsys.readouterr().out


def _target(path: tuple[str, ...]) -> Command:
    command = typer.main.get_command(app)
    for name in path:
        command = _subcommands(command)[name]
    return command


def test_every_page_is_listed() -> None:
    names = {" ".join(p) for p in PAGES}
    for wanted in ("analyze", "serve", "user list", "user disable", "user passwd",
                   "camera enable", "camera disable", "camera edit"):  # fmt: skip
        assert wanted in names


@pytest.mark.parametrize("path", PAGES, ids=lambda p: " ".join(p) or "citybrain")
def test_help_page_reads_well(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    page = help_page(path, capsys)
    usage = next(line for line in page.splitlines() if line.strip().startswith("Usage:"))
    command = _target(path)
    assert "<bool>" not in page, page  # a flag takes no value
    assert "{" not in usage and "}" not in usage, usage
    for param in command.params:
        if param.param_type_name == "argument":
            assert re.search(rf"\b{param.name.upper()}\b", usage), usage
    # Each paragraph of the command's text and each option's help is one line at this width:
    # no sentence is broken where the source happened to wrap it.
    texts = [p for p in re.split(r"\n\s*\n", command.help or "") if p.strip()]
    texts += [p.help for p in command.params if getattr(p, "help", None)]
    lines = page.splitlines()
    for text in texts:
        words = " ".join(text.split())
        assert any(words in line for line in lines), f"{words!r} is broken up in:\n{page}"


@pytest.mark.parametrize("path", PAGES, ids=lambda p: " ".join(p) or "citybrain")
def test_help_page_fits_a_terminal(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    """At 80 columns: command lists show whole first sentences, and no word is split."""
    page = help_page(path, capsys, width=80)
    for line in page.splitlines():
        assert len(line) <= 80, line
        if not line.startswith("Usage:"):
            assert not line.endswith("..."), f"a command's summary is cut short: {line!r}"
        assert not re.search(r"\w-$", line), f"a word is split across lines: {line!r}"


def test_help_imports_nothing_heavy() -> None:
    """``citybrain --help`` (and every other help page) costs imports of the command line only."""
    script = textwrap.dedent(
        f"""
        import json, sys
        import typer
        from citybrain.cli import app
        heavy = {HEAVY!r}
        pages = {[list(p) for p in PAGES]!r}
        found = {{}}
        for path in pages:
            try:
                typer.main.get_command(app).main(
                    [*path, "--help"], prog_name="citybrain", standalone_mode=False
                )
            except SystemExit:
                pass
            loaded = [name for name in heavy if name in sys.modules]
            if loaded:
                found[" ".join(path) or "citybrain"] = loaded
                break
        print(json.dumps(found))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(result.stdout.splitlines()[-1]) == {}


@pytest.mark.parametrize("args", [["--help"], ["user", "--help"]])
def test_the_installed_command_imports_nothing_heavy(args: list[str]) -> None:
    """The ``citybrain`` entry point itself, as a shell runs it."""
    script = (
        "import runpy, sys, json, atexit\n"
        f"heavy = {HEAVY!r}\n"
        "atexit.register(lambda: print(json.dumps([n for n in heavy if n in sys.modules])))\n"
        f"sys.argv = ['citybrain', *{args!r}]\n"
        "from citybrain.cli import app\n"
        "app()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout
    assert json.loads(result.stdout.splitlines()[-1]) == []
