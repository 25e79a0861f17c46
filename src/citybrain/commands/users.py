"""``citybrain user``: add, list, disable users, set passwords, make API tokens.

There is no default user or password: the first admin is made here. Changes reach a running
server at once (it reads users per request): a disabled user's tokens and sessions stop working,
and a new password ends the sessions logged in with the old one.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from citybrain.commands.common import (
    Command,
    DataOption,
    SettingsOption,
    fail,
    new_app,
    open_data_store,
)
from citybrain.errors import CitybrainError
from citybrain.records.user import USERNAME_PATTERN, Role

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from citybrain.records import UserAccount

__all__ = ["app"]

app = new_app("Users of the operations centre and their API tokens.")

NameArgument = Annotated[str, typer.Argument(help="The user name.")]


def _read_password() -> str:
    """The new password: typed twice without echo at a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    return sys.stdin.readline().rstrip("\r\n")


def _password_hash() -> str:
    from citybrain.services.security import Passwords

    try:
        return Passwords().hash(_read_password())
    except ValueError as exc:
        raise fail(str(exc)) from None


def _user(session: Session, name: str) -> UserAccount:
    from citybrain.store import UserRepo

    user = UserRepo(session).by_username(username=name)
    if user is None:
        raise fail(f"no user named {name!r}")
    return user


@app.command("add", cls=Command)
def add(
    name: NameArgument,
    role: Annotated[Role, typer.Option("--role", help="What the user may do.")],
    cameras: Annotated[
        str | None,
        typer.Option("--cameras", help="Comma-separated camera names the user is limited to."),
    ] = None,
    data: DataOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """Add user NAME.

    The password is read from standard input, never echoed (typed twice at a terminal).
    """
    from citybrain.store import CameraRepo, UserRepo

    if not re.fullmatch(USERNAME_PATTERN, name) or len(name) > 120:
        raise fail(f"user name {name!r}: use 1-120 letters, digits and _ . @ -")
    password_hash = _password_hash()
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


@app.command("list", cls=Command)
def list_users(data: DataOption = None, settings_file: SettingsOption = None) -> None:
    """List users.

    One line each: id, name, role, enabled or disabled, and the cameras they see.
    """
    from citybrain.store import CameraRepo, UserRepo

    with open_data_store(settings_file, data) as store, store.session() as session:
        names = {camera.id: camera.name for camera in CameraRepo(session).list()}
        for user in UserRepo(session).list():
            state = "disabled" if user.disabled else "enabled"
            if user.allowed_camera_ids is None:
                sees = "all cameras"
            else:
                sees = ",".join(sorted(names[i] for i in user.camera_ids)) or "no cameras"
            typer.echo(f"{user.id}\t{user.username}\t{user.role.value}\t{state}\t{sees}")


def _set_disabled(name: str, disabled: bool, data: Path | None, settings_file: Path | None) -> None:
    from citybrain.store import UserRepo

    with open_data_store(settings_file, data) as store, store.session() as session:
        repo = UserRepo(session)
        user = repo.update(user_id=_user(session, name).id, disabled=disabled)
        assert user is not None
        if disabled and not any(u.full_admin for u in repo.list()):  # raising rolls it back
            raise fail(
                f"{name!r} is the last enabled admin who sees every camera: add another first"
            )
    typer.echo(f"user {name} {'disabled' if disabled else 'enabled'}")


@app.command("disable", cls=Command)
def disable(
    name: NameArgument, data: DataOption = None, settings_file: SettingsOption = None
) -> None:
    """Disable user NAME.

    They can no longer log in, and their sessions and API tokens stop working at once. The last
    enabled admin who sees every camera cannot be disabled.
    """
    _set_disabled(name, True, data, settings_file)


@app.command("enable", cls=Command)
def enable(
    name: NameArgument, data: DataOption = None, settings_file: SettingsOption = None
) -> None:
    """Enable user NAME again.

    Their API tokens that were not revoked work again.
    """
    _set_disabled(name, False, data, settings_file)


@app.command("passwd", cls=Command)
def passwd(
    name: NameArgument, data: DataOption = None, settings_file: SettingsOption = None
) -> None:
    """Set user NAME's password.

    It is read from standard input, never echoed (typed twice at a terminal). Sessions logged
    in with the old password end; API tokens stay valid (revoke them apart).
    """
    from citybrain.store import UserRepo

    with open_data_store(settings_file, data) as store:
        with store.session() as session:
            user_id = _user(session, name).id  # before reading: a typo costs no password
        password_hash = _password_hash()
        with store.session() as session:
            if UserRepo(session).update(user_id=user_id, password_hash=password_hash) is None:
                raise fail(f"no user named {name!r}")
    typer.echo(f"password of {name} changed")


@app.command("token", cls=Command)
def token(
    name: Annotated[str, typer.Argument(help="The user the token acts as.")],
    label: Annotated[str, typer.Option("--name", help="What the token is for, e.g. 'grafana'.")],
    data: DataOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """Make an API token for user NAME.

    The token is printed once: only its hash is kept.
    """
    from citybrain.services.security import hash_api_token, new_api_token
    from citybrain.store import TokenRepo

    secret = new_api_token()
    with open_data_store(settings_file, data) as store:
        try:
            with store.session() as session:
                user = _user(session, name)
                record = TokenRepo(session).create(
                    user_id=user.id, name=label, token_hash=hash_api_token(secret)
                )
        except CitybrainError as exc:
            raise fail(str(exc)) from None
    typer.echo(f"token {record.id} ({label}) for {name}; it is shown only now:", err=True)
    typer.echo(secret)


@app.command("revoke-token", cls=Command)
def revoke_token(
    token_id: Annotated[int, typer.Argument(help="The token's id (from `token` or the API).")],
    data: DataOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """Revoke API token TOKEN_ID."""
    from citybrain.store import TokenRepo

    with open_data_store(settings_file, data) as store, store.session() as session:
        if not TokenRepo(session).revoke(token_id=token_id):
            raise fail(f"no token with id {token_id}")
    typer.echo(f"revoked token {token_id}")
