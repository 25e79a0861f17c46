"""The server's city-data settings: rules from data, coverage kinds, the import bound, refreshes.

``site_rules`` maps a site kind to rule templates in the camera config's rule format; each
template is validated here by the camera config's own rule model (with its zone left to the
runtime: the site's outline, a camera zone it names, or the whole frame).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from citybrain.config.model import RuleConfig

__all__ = [
    "SITE_RULE_KINDS",
    "SiteKind",
    "SiteRuleTemplate",
    "SiteSourceSettings",
    "check_site_rule",
]

#: A site kind: the five the issue names or one an admin adds (lower case, digits, ``_``).
SiteKind = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
#: Rule kinds that watch a zone: a site gives an area, so these are the ones it can switch on.
SITE_RULE_KINDS = ("restricted_zone", "hardhat_required", "dwell", "occupancy")
#: The zone a template is checked with when it names none (the runtime chooses the real one).
_PLACEHOLDER_ZONE = "site"
_RULE = TypeAdapter(RuleConfig)


def check_site_rule(template: dict[str, Any]) -> dict[str, Any]:
    """A rule template as the camera config's rule model takes it (``zone`` optional).

    Raises:
        ValueError: naming the field: ``seconds: Input should be greater than 0``.
    """
    kind = template.get("kind")
    if kind not in SITE_RULE_KINDS:
        raise ValueError(f"kind: {kind!r} cannot come from a site; use one of {SITE_RULE_KINDS}")
    if "line" in template:
        raise ValueError("line: a site gives an area, not a line")
    try:
        _RULE.validate_python({"zone": _PLACEHOLDER_ZONE, **template})
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in error["loc"][1:]) or "(template)"
        raise ValueError(f"{where}: {error['msg']}") from None
    return template


SiteRuleTemplate = Annotated[dict[str, Any], AfterValidator(check_site_rule)]


class SiteSourceSettings(BaseModel):
    """A source of sites the server refreshes on a schedule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$",
        title="Name",
        description="What the refresh is called in logs and in GET /api/sites/sources.",
    )
    location: str = Field(
        min_length=1,
        max_length=2048,
        title="Location",
        description="An http(s) URL, a file, or a folder (its newest file matching `pattern`).",
    )
    pattern: str = Field(default="*", title="Pattern", description="Files of a folder: a glob.")
    preset: str | None = Field(
        default=None, title="Preset", description="nyc-dob-permits or berlin-viz."
    )
    mapping: Path | None = Field(
        default=None, title="Mapping", description="A mapping YAML file (instead of a preset)."
    )
    kind: SiteKind | None = Field(
        default=None, title="Kind", description="The kind of every site; absent = the mapping's."
    )
    every_minutes: float = Field(
        default=60.0, ge=1, le=7 * 24 * 60, title="Interval", description="Minutes between reads."
    )

    @model_validator(mode="after")
    def _one_mapping(self) -> SiteSourceSettings:
        if (self.preset is None) == (self.mapping is None):
            raise ValueError("give exactly one of preset and mapping")
        return self
