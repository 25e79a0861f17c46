"""``citybrain models``: list the known model files and fetch them, verified, into the cache."""

from __future__ import annotations

from typing import Annotated

import typer

from citybrain.commands.common import Command, new_app
from citybrain.errors import ModelError

__all__ = ["app"]

app = new_app("Model files: where they are, and fetching them.")


@app.command("list", cls=Command)
def list_models() -> None:
    """Show the known models and where their files are.

    Each with its family and its verified file, if there is one.
    """
    from citybrain.vision.models import KNOWN_MODELS, cache_dir, find_model, model_dir

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


@app.command("fetch", cls=Command)
def fetch(
    name: Annotated[str, typer.Argument(help="A model name from `citybrain models list`.")] = (
        "yolox_nano"
    ),
) -> None:
    """Put a verified copy of model NAME in the cache.

    The copy comes from CITYBRAIN_MODEL_DIR, else from the model's release URL.
    """
    from citybrain.vision.models import install_model

    try:
        path = install_model(name)
    except ModelError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    typer.echo(str(path))
