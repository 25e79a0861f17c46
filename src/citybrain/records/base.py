"""What every record shares, and the one helper that derives a partial (PATCH) view of one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, create_model

__all__ = ["Record", "partial_model", "wall_time"]

R = TypeVar("R", bound=BaseModel)


class Record(BaseModel):
    """Base of every record: immutable, unknown fields refused, readable from ORM rows.

    ``from_attributes`` lets a store row (or any object with the fields as attributes) become a
    record with ``Record.model_validate(row)``: the one mapper between a table and its record.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", from_attributes=True)


def partial_model(model: type[R], name: str, doc: str) -> type[R]:
    """``model`` with every field optional and defaulting to "not given" (for PATCH bodies).

    The fields keep their types and constraints; a client sends only what it changes and the
    route reads ``body.model_dump(exclude_unset=True)``. Type checkers see ``model`` itself
    (the module declares the alias under ``TYPE_CHECKING``), which is what the route reads.
    """
    fields: dict[str, Any] = {}
    for field, info in model.model_fields.items():
        # The constraints and validators stay on the value's type (not on ``None``); the
        # field keeps its title and description and defaults to "not given".
        constrained: Any = info.annotation
        if info.metadata:
            constrained = Annotated[(constrained, *info.metadata)]
        described = Field(
            default=None, title=info.title, description=info.description, repr=info.repr,
            examples=info.examples,
        )  # fmt: skip
        fields[field] = (constrained | None, described)
    derived = create_model(name, __base__=model.__base__, __doc__=doc, **fields)
    return cast("type[R]", derived)


def wall_time(origin: float, seconds: float) -> datetime:
    """The aware UTC time of stream time ``seconds``, where ``origin`` is stream t=0 (POSIX).

    The engine counts in seconds of stream time; everything outside it (store, API, messages
    to people) speaks wall-clock time. This is the one place one becomes the other.
    """
    return datetime.fromtimestamp(origin, UTC) + timedelta(seconds=seconds)
