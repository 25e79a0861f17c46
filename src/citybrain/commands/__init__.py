"""Sub-commands of the ``citybrain`` command line, one Typer app per module."""

__all__: list[str] = []
