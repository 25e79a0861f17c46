"""What the commands share: their Typer apps and help style, the --data and --settings options,
opening the store.

Every command module imports only this, Typer and the standard library at the top: the heavy
parts (the store, the engine, the server) are imported inside the function that runs, so that
``citybrain --help`` and a typo cost a fraction of a second, not the engine's imports.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:
    from citybrain.store import Store

__all__ = [
    "Command",
    "DataOption",
    "Group",
    "SettingsOption",
    "fail",
    "new_app",
    "open_data_store",
]

DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data", help="The data directory (default: ./citybrain-data, or $CITYBRAIN_DATA)."
    ),
]
SettingsOption = Annotated[
    Path | None,
    typer.Option("--settings", help="The server's settings file (for its database URL)."),
]


class Command(TyperCommand):
    """A command whose help reads like a Unix command's: arguments in capitals (``SOURCE``, not
    Typer's ``{source}``), flags without a value type. Plain help (no Rich panels) rewraps each
    paragraph to the terminal instead of keeping the source's line breaks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["rich_markup_mode"] = None
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.param_type_name == "argument" and param.metavar is None and param.name:
                param.metavar = param.name.upper()

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name != "argument":
                pieces.extend(param.get_usage_pieces(ctx))
                continue
            name = str(param.metavar) + ("..." if param.nargs != 1 else "")
            pieces.append(name if param.required else f"[{name}]")
        return pieces


class Group(TyperGroup):
    """A group of commands with the same plain help as :class:`Command`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["rich_markup_mode"] = None
        super().__init__(*args, **kwargs)


def new_app(help_text: str) -> typer.Typer:
    """A group of sub-commands (``citybrain user``, ``citybrain camera``...)."""
    return typer.Typer(
        help=help_text, no_args_is_help=True, cls=Group, rich_markup_mode=None,
        pretty_exceptions_enable=False,
    )  # fmt: skip


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` and return the exit (code 2) to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


@contextmanager
def open_data_store(settings_file: Path | None, data: Path | None) -> Iterator[Store]:
    """The store the server with these settings uses (created and migrated if need be)."""
    from citybrain.config.server import load_settings
    from citybrain.errors import CitybrainError
    from citybrain.store import open_store

    try:
        settings = load_settings(settings_file, data_dir=data)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = open_store(settings.resolved_database_url)
    except (CitybrainError, OSError) as exc:
        raise fail(str(exc)) from None
    try:
        yield store
    finally:
        store.close()
