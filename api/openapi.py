"""The OpenAPI document's error answers: one place that builds every route's ``responses``.

Every route lists every status it can answer, with the body's schema. A route declares them with
:func:`responses`::

    @router.post(
        "/{trial_id}/heartbeat",
        summary="Keep a running trial alive",
        response_model=TrialPublic,
        responses=responses(400, 404, 409, 422),
    )

- 400: a body that cannot be decoded (not UTF-8; FastAPI's own answer; malformed JSON is a
  422); every route with a JSON body lists it.
- 404 (``NotFound``): an unknown id in the path; body ``{detail}``.
- 409 (``Conflict``): a state conflict (a stale attempt, a finished study); body
  ``{detail, field}``.
- 413 (``TooLarge``): an upload over the size limit; body ``{detail, field}``, the field
  ``body``.
- 422: a request that breaks a rule; body ``{detail: [{loc, field, msg, type}]}``. Rules that JSON
  Schema can state (bounds, lengths, patterns, enums, ``uniqueItems``, ``if``/``then``) are in
  the published schema; the others (``low < high``, a known dataset, trainer ranges) answer 422
  with ``type`` ``value_error``, and a route that has such rules says so in ``cross_field``.
- Any other status (401, 403, ...) passes through with the ``{detail}`` body; a route that can
  answer a second success status (200 beside 201) passes it as ``extra``.

A new route passes exactly the statuses it can answer; the fuzz test
(``tests/api/test_openapi_fuzz.py``) fails on any status a route answers without listing it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

CROSS_FIELD_422 = (
    "A rule that breaks: a bound, a length, a pattern (all stated in the schema), or a rule "
    "across fields or against stored data that the schema cannot state"
)


class ErrorDetail(BaseModel):
    """A 404 or other error answer."""

    detail: str


class TooLargeDetail(BaseModel):
    """A 413: the body is over its size limit."""

    detail: str
    field: Literal["body"]


class ConflictDetail(BaseModel):
    """A 409: what conflicts, and the field it is about (null when it is the whole request)."""

    detail: str
    field: str | None = Field(description="the request field the conflict is about, dotted")


class FieldErrorItem(BaseModel):
    """One broken rule of a 422."""

    loc: list[str | int] = Field(description="where: ('body', 'space', 'lr', 'high')")
    field: str = Field(description="the same, dotted and without the 'body' prefix: space.lr.high")
    msg: str
    type: str = Field(description="pydantic's error type; value_error for rules across fields")


class ValidationErrorBody(BaseModel):
    """A 422: every broken rule that was found, each naming its field."""

    detail: list[FieldErrorItem]


_DESCRIPTIONS: dict[int, tuple[str, type[BaseModel]]] = {
    400: ("The body cannot be decoded (not UTF-8)", ErrorDetail),
    401: ("No valid token", ErrorDetail),
    403: ("The token's role may not do this", ErrorDetail),
    404: ("Unknown id", ErrorDetail),
    409: ("Conflicts with the current state", ConflictDetail),
    413: ("The body is over the size limit", TooLargeDetail),
    422: ("A field breaks a rule (the answer names the field)", ValidationErrorBody),
}


def responses(
    *statuses: int,
    cross_field: str | None = None,
    extra: dict[int, dict[str, Any]] | None = None,
) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` argument of a route: each error status with its body schema.

    ``cross_field`` describes the rules of this route that the schema cannot state (they answer
    422 with ``type`` ``value_error``); ``extra`` adds other statuses as FastAPI takes them.
    """
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        description, model = _DESCRIPTIONS[status]
        if status == 422 and cross_field:
            description = f"{CROSS_FIELD_422}: {cross_field}"
        out[status] = {"description": description, "model": model}
    out.update(extra or {})
    return out
