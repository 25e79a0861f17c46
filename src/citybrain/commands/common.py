"""What the store-facing commands share: the --data and --settings options, opening the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from citybrain.config.server import load_settings
from citybrain.errors import CitybrainError
from citybrain.store import Store, open_store

__all__ = ["DataOption", "SettingsOption", "fail", "open_data_store"]

DataOption = Annotated[
    Path | None,
    typer.Option("--data", help="Data directory (default: $CITYBRAIN_DATA or ./citybrain-data)."),
]
SettingsOption = Annotated[
    Path | None,
    typer.Option("--settings", help="The server's settings file (for its database URL)."),
]


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` and return the exit (code 2) to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


@contextmanager
def open_data_store(settings_file: Path | None, data: Path | None) -> Iterator[Store]:
    """The store the server with these settings uses (created and migrated if need be)."""
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
