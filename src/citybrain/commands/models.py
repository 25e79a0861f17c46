"""``citybrain models``: list the known model files and fetch them, verified, into the cache."""

from __future__ import annotations

from typing import Annotated

import typer

from citybrain.errors import ModelError
from citybrain.vision.models import KNOWN_MODELS, cache_dir, find_model, install_model, model_dir

__all__ = ["app"]

app = typer.Typer(help="Model files: where they are, and fetching them.", no_args_is_help=True)


@app.command("list")
def list_models() -> None:
    """Show every known model, its family, and where its verified file is (if anywhere)."""
    local = model_dir()
    typer.echo(f"model dir: {local if local else '(CITYBRAIN_MODEL_DIR not set)'}")
    typer.echo(f"cache:     {cache_dir()}")
    for name, info in KNOWN_MODELS.items():
        try:
            found = find_model(name)
            where = str(found) if found else "not present" + ("" if info.url else " (local only)")
        except ModelError as exc:
            where = f"INVALID: {exc}"
        typer.echo(f"{name:<16} {info.family:<8} {where}")


@app.command("fetch")
def fetch(
    name: Annotated[str, typer.Argument(help="A model name from `citybrain models list`.")] = (
        "yolox_nano"
    ),
) -> None:
    """Put a verified copy of model NAME in the cache (from CITYBRAIN_MODEL_DIR or its release)."""
    try:
        path = install_model(name)
    except ModelError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    typer.echo(str(path))
