"""The ``citybrain`` command line.

Importing it is cheap on purpose: each command imports what it needs when it runs (see
:mod:`citybrain.commands.common`), so ``--help`` never loads the engine, the store or the server.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from citybrain import __version__
from citybrain.commands import cameras, hardhat_command, models, sites, users
from citybrain.commands.analyze import analyze_command
from citybrain.commands.common import Command, Group
from citybrain.commands.serve import serve_command
from citybrain.logs import configure_logging

__all__ = ["app"]

app = typer.Typer(
    help="citybrain: an open-source operations centre for city video. "
    "No face recognition, no re-identification: faces and plates are only ever blurred.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    cls=Group,
)
app.command("serve", cls=Command)(serve_command)
app.command("analyze", cls=Command)(analyze_command)
app.add_typer(hardhat_command.app, name="hardhat")
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
    configure_logging(
        logging.DEBUG if verbose else logging.INFO,
        "%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic narrates every store opening (plugins, context, "will assume..."): only its
    # warnings and errors are news to whoever runs a command, unless they asked for more.
    logging.getLogger("alembic").setLevel(logging.DEBUG if verbose else logging.WARNING)
