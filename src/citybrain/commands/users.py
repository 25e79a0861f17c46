"""``citybrain user``: add users and make API tokens. There is no default user or password."""

from __future__ import annotations

import re
import sys
from typing import Annotated

import typer

from citybrain.commands.common import DataOption, SettingsOption, fail, open_data_store
from citybrain.errors import CitybrainError
from citybrain.records import Role
from citybrain.records.user import USERNAME_PATTERN
from citybrain.services.security import Passwords, hash_api_token, new_api_token
from citybrain.store import CameraRepo, TokenRepo, UserRepo

__all__ = ["app"]

app = typer.Typer(help="Users of the operations centre and their API tokens.", no_args_is_help=True)


def _read_password() -> str:
    """The new password: typed twice without echo at a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    return sys.stdin.readline().rstrip("\r\n")


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The user name.")],
    role: Annotated[Role, typer.Option("--role", help="What the user may do.")],
    cameras: Annotated[
        str | None,
        typer.Option("--cameras", help="Comma-separated camera names the user is limited to."),
    ] = None,
    data: DataOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """Add user NAME; the password is read from standard input (never echoed)."""
    if not re.fullmatch(USERNAME_PATTERN, name) or len(name) > 120:
        raise fail(f"user name {name!r}: use 1-120 letters, digits and _ . @ -")
    password = _read_password()
    try:
        password_hash = Passwords().hash(password)
    except ValueError as exc:
        raise fail(str(exc)) from None
    wanted = [n.strip() for n in (cameras or "").split(",") if n.strip()]
    with open_data_store(settings_file, data) as store:
        try:
            with store.session() as session:
                camera_ids = []
                for camera_name in wanted:
                    camera = CameraRepo(session).by_name(name=camera_name)
                    if camera is None:
                        raise fail(f"no camera named {camera_name!r}")
                    camera_ids.append(camera.id)
                UserRepo(session).create(
                    username=name, password_hash=password_hash, role=role, camera_ids=camera_ids
                )
        except CitybrainError as exc:
            raise fail(str(exc)) from None
    limited = f", limited to {', '.join(wanted)}" if wanted else ""
    typer.echo(f"added user {name!r} ({role.value}{limited})")


@app.command("token")
def token(
    name: Annotated[str, typer.Argument(help="The user the token acts as.")],
    label: Annotated[str, typer.Option("--name", help="What the token is for, e.g. 'grafana'.")],
    data: DataOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """Make a new API token for user NAME and print it once (only its hash is kept)."""
    secret = new_api_token()
    with open_data_store(settings_file, data) as store:
        try:
            with store.session() as session:
                user = UserRepo(session).by_username(username=name)
                if user is None:
                    raise fail(f"no user named {name!r}")
                record = TokenRepo(session).create(
                    user_id=user.id, name=label, token_hash=hash_api_token(secret)
                )
        except CitybrainError as exc:
            raise fail(str(exc)) from None
    typer.echo(f"token {record.id} ({label}) for {name}; it is shown only now:", err=True)
    typer.echo(secret)


@app.command("revoke-token")
def revoke_token(
    token_id: Annotated[int, typer.Argument(help="The token's id (from `token` or the API).")],
    data: DataOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """Revoke API token TOKEN_ID."""
    with open_data_store(settings_file, data) as store, store.session() as session:
        if not TokenRepo(session).revoke(token_id=token_id):
            raise fail(f"no token with id {token_id}")
    typer.echo(f"revoked token {token_id}")
