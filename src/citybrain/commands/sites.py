"""``citybrain sites``: import city data straight into the store; report camera coverage.

A running server picks imported sites up at its next plan (within a minute); the API
(``POST /api/sites/import``) tells it at once.
"""

from __future__ import annotations

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
from citybrain.errors import ConfigError

if TYPE_CHECKING:
    from citybrain.citydata import Mapping as SiteMapping

__all__ = ["app"]

# Heavy modules (the store, the city-data readers, Rich's tables) are imported where a command
# runs: `citybrain --help` must stay cheap.
app = new_app("City data: import sites (permits, registries), report coverage.")

KindOption = Annotated[
    str | None,
    typer.Option("--kind", help="The kind of every site (construction_permit, facility, ...)."),
]


def _mapping(preset: str | None, mapping: Path | None) -> SiteMapping:
    from citybrain.citydata import load_mapping
    from citybrain.services.sites import mapping_for

    if (preset is None) == (mapping is None):
        raise typer.BadParameter("give exactly one of --preset and --mapping")
    try:
        if mapping is not None:
            return load_mapping(mapping)
        return mapping_for(preset_name=preset, mapping_text=None)
    except ConfigError as exc:
        raise fail(str(exc)) from None


@app.command("import", cls=Command)
def import_command(
    file: Annotated[Path, typer.Argument(help="A CSV or GeoJSON file of sites.")],
    preset: Annotated[
        str | None, typer.Option("--preset", help="nyc-dob-permits or berlin-viz.")
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option("--mapping", help="Your field mapping (YAML).")
    ] = None,
    kind: KindOption = None,
    data: DataOption = None,
    settings: SettingsOption = None,
) -> None:
    """Import FILE into the store.

    Its sites replace those of the same source, updated by their source ids. A bad file is
    refused whole, naming each row or feature and field; nothing of it is kept.
    """
    from citybrain.citydata import SiteImportError, read_bounded
    from citybrain.config.server import load_settings
    from citybrain.services.sites import import_sites

    chosen = _mapping(preset, mapping)
    try:
        max_bytes = load_settings(settings, data_dir=data).site_import_max_bytes
    except ConfigError as exc:
        raise fail(str(exc)) from None
    with open_data_store(settings, data) as store:
        try:
            content = read_bounded(file, max_bytes)
            summary = import_sites(
                store, content, chosen, label=str(file), by="cli", kind=kind, max_bytes=max_bytes
            )
        except SiteImportError as exc:
            typer.echo(str(exc), err=True)
            typer.echo(f"refused: nothing of {file} was kept", err=True)
            raise typer.Exit(code=1) from None
    typer.echo(
        f"{summary.source}: {len(summary.added)} added, {len(summary.changed)} changed, "
        f"{len(summary.expired)} expired, {len(summary.removed)} removed, "
        f"{summary.unchanged} unchanged"
    )
    if summary.merged:
        typer.echo(f"{summary.merged} record(s) merged into sites they share an id with")
    for line in summary.skipped:
        typer.echo(f"skipped: {line}")


@app.command("coverage", cls=Command)
def coverage_command(
    kind: Annotated[
        list[str] | None,
        typer.Option("--kind", help="Site kinds (repeat); default: the coverage_kinds setting."),
    ] = None,
    data: DataOption = None,
    settings: SettingsOption = None,
) -> None:
    """Report how much of each site the cameras see.

    A table per site, and in total, of the share of each site's area that at least one enabled
    camera's footprint covers.
    """
    from rich.console import Console
    from rich.table import Table

    from citybrain.config.server import load_settings
    from citybrain.services.sites import coverage_report
    from citybrain.store import CameraRepo

    try:
        kinds = kind or load_settings(settings, data_dir=data).coverage_kinds
    except ConfigError as exc:
        raise fail(str(exc)) from None
    with open_data_store(settings, data) as store:
        with store.session() as session:
            cameras = CameraRepo(session).list(enabled=True)
        report = coverage_report(store, cameras, kinds=kinds)
    table = Table(
        title="Coverage" + (f" of {', '.join(sorted(kinds))}" if kinds else ""),
        caption=f"{len(cameras)} enabled camera(s) counted; the server counts only online ones "
        "(GET /api/coverage)",
    )
    for column in ("site", "kind", "area m²", "covered m²", "share"):
        table.add_column(column, justify="left" if column in ("site", "kind") else "right")
    for site in report.sites:
        table.add_row(site.site_id, site.kind, f"{site.area_m2:,.0f}", f"{site.covered_m2:,.0f}",
                      f"{site.share:.1%}")  # fmt: skip
    total = report.total
    table.add_section()
    table.add_row(f"total ({total.sites} sites)", "", f"{total.area_m2:,.0f}",
                  f"{total.covered_m2:,.0f}", f"{total.share:.1%}")  # fmt: skip
    Console(width=120).print(table)
