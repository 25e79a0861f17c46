"""``citybrain serve``: the operations-centre server (API, live views, camera workers)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from citybrain.commands.common import DataOption
from citybrain.errors import CitybrainError

__all__ = ["serve_command"]


def serve_command(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Server settings (YAML); absent = the defaults."),
    ] = None,
    data: DataOption = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (default 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", "-p", help="TCP port (default 8000).", min=1, max=65535)
    ] = None,
) -> None:
    """Serve the API and run every enabled camera.

    It runs until Ctrl-C or SIGTERM, then ends the cameras' open events and writes everything
    it holds.

    With no settings file it runs embedded: SQLite in the data directory and the cameras in
    local worker processes. With CITYBRAIN_SAMPLES pointing at the development clips and no
    cameras in the store, it adds looping demo cameras.
    """
    from citybrain.config.server import load_settings
    from citybrain.server.app import run_server

    try:
        settings = load_settings(config, data_dir=data, host=host, port=port)
        run_server(settings)
    except CitybrainError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
