"""``citybrain camera``: register, list and remove cameras straight in the store.

A running server picks changes up within its reconcile interval (10 s); the API
(``POST /api/cameras``) is the immediate way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from citybrain.commands.common import DataOption, SettingsOption, fail, open_data_store
from citybrain.config import config_for_store, load_config
from citybrain.config.server import load_settings
from citybrain.errors import ConfigError, StoreError
from citybrain.records import CameraFields
from citybrain.store import CameraRepo, MediaStore, redacted_source

__all__ = ["app"]

app = typer.Typer(help="Cameras: add, list and remove them.", no_args_is_help=True)


def _read_config(path: Path | None, name: str) -> dict[str, Any]:
    """What to store of the config file at ``path`` for camera ``name`` (validated now, with
    file, line and field named, not when the camera runs)."""
    if path is None:
        return {}
    try:
        return config_for_store(load_config(path, camera=name))
    except ConfigError as exc:
        raise fail(str(exc)) from None


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="A unique camera name.")],
    source: Annotated[str, typer.Argument(help="rtsp://, http(s):// URL or a file path.")],
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Zones, lines and rules (YAML).")
    ] = None,
    lat: Annotated[float | None, typer.Option(help="Latitude (WGS 84).", min=-90, max=90)] = None,
    lon: Annotated[
        float | None, typer.Option(help="Longitude (WGS 84).", min=-180, max=180)
    ] = None,
    heading: Annotated[
        float | None, typer.Option(help="Viewing direction, degrees from north.", min=0, max=360)
    ] = None,
    fov: Annotated[
        float | None, typer.Option(help="Field of view, degrees.", min=1, max=360)
    ] = None,
    range_m: Annotated[
        float | None, typer.Option("--range", help="How far the camera sees, metres.", min=0)
    ] = None,
    disabled: Annotated[bool, typer.Option(help="Register it without running it.")] = False,
    data: DataOption = None,
    settings: SettingsOption = None,
) -> None:
    """Register camera NAME reading SOURCE. Its credentials are stored, never printed."""
    stored = _read_config(config, name)
    with open_data_store(settings, data) as store:
        try:
            with store.session() as session:
                camera = CameraRepo(session).create(
                    CameraFields(
                        name=name,
                        source=source,
                        lat=lat,
                        lon=lon,
                        heading_deg=heading,
                        fov_deg=fov,
                        range_m=range_m,
                        enabled=not disabled,
                        config=stored,
                    )
                )
        except StoreError as exc:
            raise fail(str(exc)) from None
    typer.echo(f"camera {camera.id} {camera.name}: {redacted_source(camera.source)}")


@app.command("list")
def list_cameras(data: DataOption = None, settings: SettingsOption = None) -> None:
    """List cameras (sources redacted)."""
    with open_data_store(settings, data) as store, store.session() as session:
        for camera in CameraRepo(session).list():
            state = "enabled" if camera.enabled else "disabled"
            typer.echo(f"{camera.id}\t{camera.name}\t{state}\t{redacted_source(camera.source)}")


@app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="The camera's name.")],
    data: DataOption = None,
    settings: SettingsOption = None,
) -> None:
    """Remove camera NAME with its events and their snapshots."""
    with open_data_store(settings, data) as store:
        with store.session() as session:
            repo = CameraRepo(session)
            camera = repo.by_name(name=name)
            if camera is None:
                raise fail(f"no camera named {name!r}")
            snapshots = repo.delete(camera_id=camera.id) or []
        media = MediaStore(load_settings(settings, data_dir=data).media_dir)
        for path in snapshots:
            media.delete(path)
    typer.echo(f"camera {name} removed with {len(snapshots)} snapshot(s)")
