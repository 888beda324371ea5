"""Error answers shared by the broker's HTTP APIs: RFC 9457 problem details.

Every refusal is ``application/problem+json``: ``type`` (``about:blank``: the status says
it all), ``title`` (the status's phrase), ``status`` and ``detail``, the broker's own text,
never a database's or a validator's (those can quote values). A 422 adds ``errors``, naming
each field at fault, what is wrong with it and the kind of fault, never the value sent: the
value may be an NHS number or a name. (The token endpoint alone answers as OAuth 2 says,
``{"error": ...}``: auth.py.)

``responses(...)`` is what a route declares for its OpenAPI document: the problem each status
it can answer carries (openapi.py adds the ones every route shares).
"""

import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, Final

from fastapi import Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

MEDIA_TYPE: Final = "application/problem+json"
FieldError = dict[str, str]


class FieldProblem(BaseModel):
    field: str = Field(description="where: body.<field path>, path.<name>, query.<name>, "
                       "header.<name>", examples=["body.subject.nhs_number"])  # fmt: skip
    message: str = Field(description="what is wrong, in the broker's or the validator's "
                         "words; never the value sent", examples=["Field required"])  # fmt: skip
    type: str = Field(description="the kind of fault, for programs", examples=["missing"])


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field("about:blank", description="about:blank: the status says what it is")
    title: str = Field(description="the status's phrase", examples=["Not Found"])
    status: int = Field(description="the HTTP status code", examples=[404])
    detail: str = Field(description="what happened, in the broker's words; never a value sent")
    errors: list[FieldProblem] | None = Field(
        None, description="a 422's fields at fault, each once"
    )


def problem(status_code: int, detail: str, *, errors: Sequence[FieldError] | None = None,
            headers: Mapping[str, str] | None = None) -> JSONResponse:  # fmt: skip
    body: dict[str, Any] = {"type": "about:blank", "title": HTTPStatus(status_code).phrase,
                            "status": status_code, "detail": detail}  # fmt: skip
    if errors is not None:
        body["errors"] = list(errors)
    return JSONResponse(body, status_code=status_code, headers=headers, media_type=MEDIA_TYPE)


def field_error(field: str, message: str, error_type: str) -> FieldError:
    return {"field": field, "message": message, "type": error_type}


def unprocessable(errors: Sequence[FieldError]) -> JSONResponse:
    count = len(errors)
    detail = f"{count} field{'s' if count != 1 else ''} at fault: see errors"
    return problem(status.HTTP_422_UNPROCESSABLE_CONTENT, detail, errors=errors)


def detail(status_code: int, message: str) -> JSONResponse:
    return problem(status_code, message)


# A Python enum's repr (pydantic's message for a Literal of enum members) shows as its value.
_ENUM_REPR = re.compile(r"<[A-Za-z_][\w.]*: ('[^']*'|\d+)>")


def plain_message(error: Mapping[str, Any]) -> str:
    """A validator's message with nothing of the input: the tag a union did not know is the
    one message pydantic writes with the value sent, so it is said without it."""
    if error["type"] == "union_tag_invalid":
        return f"should be one of: {error.get('ctx', {}).get('expected_tags', '')}"
    return _ENUM_REPR.sub(r"\1", str(error["msg"]))


def validation_errors(errors: Sequence[Mapping[str, Any]], *prefix: str) -> list[FieldError]:
    """pydantic's errors as field, message and type: their ``input`` and ``ctx`` left out."""
    return [
        field_error(".".join([*prefix, *map(str, e["loc"])]), plain_message(e), e["type"])
        for e in errors
    ]


async def field_errors(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """The handler for FastAPI's request validation: location, message and type only."""
    return unprocessable(validation_errors(exc.errors()))


async def http_exception(_request: Request, exc: HTTPException) -> JSONResponse:
    """Starlette's own refusals (no such route: 404, a method it does not take: 405) and a
    route's HTTPException, as problems. Their detail is the broker's or Starlette's text."""
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem(exc.status_code, message, headers=exc.headers)


async def unsupported_media_type(_request: Request, _exc: Exception) -> JSONResponse:
    return problem(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "send the body as application/json")


async def unrecordable(_request: Request, _exc: Exception) -> JSONResponse:
    """A value the database refuses as it stands (too long for its column, a character its
    text cannot hold) that no check before it caught: the caller's to correct, never a 500."""
    message = "a value in this request cannot be stored as it stands (too long, or a "
    message += "character that is not allowed)"
    return unprocessable([field_error("request", message, "unrecordable")])


# --------------------------------------------------------------------------- OpenAPI
PROBLEM_REF: Final = {"$ref": "#/components/schemas/Problem"}
# What each status means when the broker answers it, for the document.
MEANINGS: Final[Mapping[int, str]] = {
    400: "the body cannot be read (it is not UTF-8 text)",
    401: "no access token, or one that does not hold (or, on an event, no valid signature)",
    403: "the token's organisation may not do this",
    404: "no such record here (or not this caller's to see)",
    409: "a conflict with what is on record",
    410: "the record's data was deleted",
    413: "the body is larger than the API takes",
    415: "the body is not application/json",
    422: "a field at fault: each is named in errors, never with the value sent",
    429: "too many requests: slow down (Retry-After)",
    503: "a service the broker depends on did not answer: nothing was done, retry",
}
_EXAMPLES: Final[Mapping[int, dict[str, Any]]] = {
    422: {"type": "about:blank", "title": HTTPStatus(422).phrase, "status": 422,
          "detail": "1 field at fault: see errors",
          "errors": [{"field": "body.subject.nhs_number", "message": "Field required",
                      "type": "missing"}]},
}  # fmt: skip


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses=``: each status's problem, described."""
    return {code: problem_response(code) for code in codes}


def problem_response(code: int, description: str | None = None) -> dict[str, Any]:
    meaning = description or MEANINGS.get(code) or HTTPStatus(code).phrase
    example = _EXAMPLES.get(code) or {"type": "about:blank", "title": HTTPStatus(code).phrase,
                                      "status": code, "detail": meaning}  # fmt: skip
    return {"description": meaning,
            "content": {MEDIA_TYPE: {"schema": PROBLEM_REF, "example": example}}}  # fmt: skip
