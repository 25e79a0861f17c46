"""The ``citybrain`` command line."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from citybrain import __version__
from citybrain.commands import cameras, hardhat, models, sites, users
from citybrain.commands.analyze import analyze_command
from citybrain.commands.serve import serve_command

__all__ = ["app"]

app = typer.Typer(
    help="citybrain: an open-source operations centre for city video. "
    "No face recognition, no re-identification: faces and plates are only ever blurred.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve_command)
app.command("analyze")(analyze_command)
app.add_typer(hardhat.app, name="hardhat")
app.add_typer(models.app, name="models")
app.add_typer(users.app, name="user")
app.add_typer(cameras.app, name="camera")
app.add_typer(sites.app, name="sites")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"citybrain {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Operations centre for city video."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
