"""Domain errors the routes turn into 4xx answers. Every message names what it is about."""

from __future__ import annotations

from collections.abc import Sequence


class NotFound(Exception):
    """404: an unknown id."""

    def __init__(self, what: str, id_: object) -> None:
        super().__init__(f"{what} {id_} not found")


class Conflict(Exception):
    """409: a stale attempt or a state conflict."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class TooLarge(Exception):
    """413: a raw body over its size limit (the field is ``body``)."""


class FieldError(Exception):
    """422 raised after schema validation (checks that need the whole body or the database).

    ``loc`` is the path of the offending field within the body, e.g. ("space", "lr", "high"), or
    within the query string when ``where`` is ``"query"``.
    """

    def __init__(self, loc: Sequence[str | int], message: str, where: str = "body") -> None:
        super().__init__(message)
        self.loc, self.where = tuple(loc), where


class FieldErrors(Exception):
    """422 with several problems at once: ``problems`` is a list of (loc, message)."""

    def __init__(self, problems: Sequence[tuple[Sequence[str | int], str]]) -> None:
        super().__init__("; ".join(m for _, m in problems))
        self.problems = [(tuple(loc), msg) for loc, msg in problems]
