"""``citybrain camera``: register, list, change, enable, disable and remove cameras in the store.

A running server picks changes up within its reconcile interval (10 s); the API
(``/api/cameras``) is the immediate way.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from citybrain.commands.common import (
    Command,
    DataOption,
    SettingsOption,
    fail,
    new_app,
    open_data_store,
)
from citybrain.errors import ConfigError, StoreError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from citybrain.records import CameraFields, CameraRecord

__all__ = ["app"]

app = new_app("Cameras: add, list, change, enable, disable and remove them.")

NameArgument = Annotated[str, typer.Argument(help="The camera's name.")]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="Zones, lines and rules (YAML).")
]
LatOption = Annotated[
    float | None, typer.Option(help="Latitude (WGS 84).", min=-90, max=90)
]  # fmt: skip
LonOption = Annotated[float | None, typer.Option(help="Longitude (WGS 84).", min=-180, max=180)]
HeadingOption = Annotated[
    float | None, typer.Option(help="Viewing direction, degrees from north.", min=0, max=360)
]
FovOption = Annotated[float | None, typer.Option(help="Field of view, degrees.", min=1, max=360)]
RangeOption = Annotated[
    float | None, typer.Option("--range", help="How far the camera sees, metres.", min=0)
]
AnalysisSourceOption = Annotated[
    str | None,
    typer.Option(
        "--analysis-source",
        help="A second stream of the camera to analyse (a substream at lower resolution); "
        "'' clears it.",
    ),
]


def _read_config(path: Path | None, name: str) -> dict[str, Any] | None:
    """What to store of the config file at ``path`` for camera ``name`` (validated now, with
    file, line and field named, not when the camera runs); ``None`` without a file."""
    from citybrain.config import config_for_store, load_config

    if path is None:
        return None
    try:
        return config_for_store(load_config(path, camera=name))
    except ConfigError as exc:
        raise fail(str(exc)) from None


def _fields(values: dict[str, Any]) -> CameraFields:
    """The camera's fields, validated as the API validates them (each problem named)."""
    from pydantic import ValidationError

    from citybrain.records import CameraFields

    try:
        return CameraFields.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise fail(problems) from None


def _checked_source(source: str, settings_file: Path | None, data: Path | None) -> str:
    """``source`` as the server stores it, if its source policy allows it (the same check as
    the API's: media roots for files, the network policy for URLs)."""
    from citybrain.config.server import load_settings
    from citybrain.errors import CitybrainError
    from citybrain.services import network_policy
    from citybrain.services.sources import source_policy

    try:
        settings = load_settings(settings_file, data_dir=data)
        return source_policy(settings, network_policy(settings)).check(source)
    except CitybrainError as exc:
        raise fail(str(exc)) from None


def _camera(session: Session, name: str) -> CameraRecord:
    from citybrain.store import CameraRepo

    camera = CameraRepo(session).by_name(name=name)
    if camera is None:
        raise fail(f"no camera named {name!r}")
    return camera


def _show(camera: CameraRecord) -> str:
    from citybrain.store import redacted_source

    shown = f"camera {camera.id} {camera.name}: {redacted_source(camera.source)}"
    if camera.analysis_source is not None:
        shown += f" (analyses {redacted_source(camera.analysis_source)})"
    return shown


@app.command("add", cls=Command)
def add(
    name: Annotated[str, typer.Argument(help="A unique camera name.")],
    source: Annotated[str, typer.Argument(help="rtsp://, http(s):// URL or a file path.")],
    analysis_source: AnalysisSourceOption = None,
    config: ConfigOption = None,
    lat: LatOption = None,
    lon: LonOption = None,
    heading: HeadingOption = None,
    fov: FovOption = None,
    range_m: RangeOption = None,
    disabled: Annotated[
        bool, typer.Option("--disabled", help="Register it without running it.")
    ] = False,
    data: DataOption = None,
    settings: SettingsOption = None,
) -> None:
    """Register camera NAME reading SOURCE.

    Its credentials are stored, never printed. With --analysis-source the engine analyses that
    stream (a low-resolution substream of the same camera) instead of SOURCE.
    """
    from citybrain.store import CameraRepo

    stored = _read_config(config, name) or {}  # the file's errors first: they name its lines
    analysed = None if not analysis_source else _checked_source(analysis_source, settings, data)
    fields = _fields({
        "name": name, "source": _checked_source(source, settings, data), "lat": lat, "lon": lon,
        "heading_deg": heading, "fov_deg": fov, "range_m": range_m, "enabled": not disabled,
        "config": stored, "analysis_source": analysed,
    })  # fmt: skip
    with open_data_store(settings, data) as store:
        try:
            with store.session() as session:
                camera = CameraRepo(session).create(fields)
        except StoreError as exc:
            raise fail(str(exc)) from None
    typer.echo(_show(camera))


@app.command("edit", cls=Command)
def edit(
    name: NameArgument,
    source: Annotated[
        str | None, typer.Option("--source", help="A new rtsp://, http(s):// URL or file path.")
    ] = None,
    analysis_source: AnalysisSourceOption = None,
    config: ConfigOption = None,
    lat: LatOption = None,
    lon: LonOption = None,
    heading: HeadingOption = None,
    fov: FovOption = None,
    range_m: RangeOption = None,
    data: DataOption = None,
    settings: SettingsOption = None,
) -> None:
    """Change camera NAME.

    What it reads, its config, position or field of view: only the options given change, each
    checked as `camera add` checks it. A running server restarts the camera with the change.
    """
    from citybrain.store import CameraRepo

    if source is not None:
        source = _checked_source(source, settings, data)
    given = {
        "source": source, "lat": lat, "lon": lon, "heading_deg": heading, "fov_deg": fov,
        "range_m": range_m, "config": _read_config(config, name),
    }  # fmt: skip
    changes: dict[str, Any] = {key: value for key, value in given.items() if value is not None}
    if analysis_source is not None:  # an empty one clears it: the camera analyses SOURCE again
        changes["analysis_source"] = (
            _checked_source(analysis_source, settings, data) if analysis_source else None
        )
    if not changes:
        raise fail("nothing to change: give --source, --analysis-source, --config, --lat, "
                   "--lon, --heading, --fov or --range")  # fmt: skip
    with open_data_store(settings, data) as store, store.session() as session:
        camera = _camera(session, name)
        # Name and source are required fields: the stored ones stand in when they do not change.
        fields = _fields(camera.model_dump(include=set(changes) | {"name", "source"}) | changes)
        validated = fields.model_dump(include=set(changes))
        updated = CameraRepo(session).update(camera_id=camera.id, changes=validated)
        assert updated is not None
    typer.echo(f"{_show(updated)} (changed: {', '.join(sorted(changes))})")


def _set_enabled(name: str, enabled: bool, data: Path | None, settings: Path | None) -> None:
    from citybrain.store import CameraRepo

    with open_data_store(settings, data) as store, store.session() as session:
        camera = _camera(session, name)
        CameraRepo(session).update(camera_id=camera.id, changes={"enabled": enabled})
    typer.echo(f"camera {name} {'enabled' if enabled else 'disabled'}")


@app.command("enable", cls=Command)
def enable(name: NameArgument, data: DataOption = None, settings: SettingsOption = None) -> None:
    """Run camera NAME again.

    A running server starts it within its reconcile interval (10 s).
    """
    _set_enabled(name, True, data, settings)


@app.command("disable", cls=Command)
def disable(name: NameArgument, data: DataOption = None, settings: SettingsOption = None) -> None:
    """Stop running camera NAME.

    The camera and its events are kept; its open events end.
    """
    _set_enabled(name, False, data, settings)


@app.command("list", cls=Command)
def list_cameras(data: DataOption = None, settings: SettingsOption = None) -> None:
    """List cameras (sources redacted)."""
    from citybrain.store import CameraRepo, redacted_source

    with open_data_store(settings, data) as store, store.session() as session:
        for camera in CameraRepo(session).list():
            state = "enabled" if camera.enabled else "disabled"
            typer.echo(f"{camera.id}\t{camera.name}\t{state}\t{redacted_source(camera.source)}")


@app.command("remove", cls=Command)
def remove(name: NameArgument, data: DataOption = None, settings: SettingsOption = None) -> None:
    """Remove camera NAME with its events and their snapshots."""
    from citybrain.config.server import load_settings
    from citybrain.store import CameraRepo, MediaStore

    with open_data_store(settings, data) as store:
        with store.session() as session:
            camera = _camera(session, name)
            snapshots = CameraRepo(session).delete(camera_id=camera.id) or []
        media = MediaStore(load_settings(settings, data_dir=data).media_dir)
        for path in snapshots:
            media.delete(path)
    typer.echo(f"camera {name} removed with {len(snapshots)} snapshot(s)")
