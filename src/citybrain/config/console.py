"""The console's settings (the ``console:`` section of the server settings file)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["ConsoleSettings"]

_TILE_URL = re.compile(r"^https?://[^\s/?#]+/[^\s]*$")


class ConsoleSettings(BaseModel):
    """What the browser console shows; the map works with no basemap at all by default.

    Example (server.yaml)::

        console:
          tile_url: https://tiles.example.org/{z}/{x}/{y}.png
          tile_attribution: "© OpenStreetMap contributors"
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    tile_url: str | None = Field(
        default=None,
        title="Map tile URL",
        description="An XYZ tile URL template with {z}, {x} and {y} (and optionally {s}); "
        "absent = no basemap (a plain background, a scale bar and the cameras). The "
        "browser fetches tiles from it, so the Content-Security-Policy allows its origin.",
    )
    tile_attribution: str = Field(
        default="",
        max_length=300,
        title="Tile attribution",
        description="The credit the tile provider requires, shown in the map's corner.",
    )
    tile_max_zoom: int = Field(
        default=19, ge=1, le=24, title="Tile maximum zoom", description="Deepest tile level."
    )
    map_center: tuple[float, float] | None = Field(
        default=None,
        title="Map centre",
        description="[lat, lon] the map opens on when no camera has a position.",
    )

    @field_validator("tile_url")
    @classmethod
    def _template(cls, url: str | None) -> str | None:
        if url is None:
            return None
        if not _TILE_URL.match(url) or not all(k in url for k in ("{z}", "{x}", "{y}")):
            raise ValueError(
                "an http(s) URL with {z}, {x} and {y}, e.g. https://host/{z}/{x}/{y}.png"
            )
        return url
