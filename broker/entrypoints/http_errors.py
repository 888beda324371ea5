"""Error answers shared by the broker's HTTP APIs.

A 422 names each field at fault and what is wrong with it, never the value sent: the value
may be an NHS number or a name. Other errors answer ``{"detail": message}``, where the message
is the broker's own text, never a database's or a validator's (those can quote values).
"""

from collections.abc import Sequence

from fastapi import Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

FieldError = dict[str, str]


def field_error(field: str, message: str, error_type: str) -> FieldError:
    return {"field": field, "message": message, "type": error_type}


def unprocessable(errors: Sequence[FieldError]) -> JSONResponse:
    return JSONResponse({"detail": list(errors)}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def field_errors(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """The handler for FastAPI's request validation: location, message and type only."""
    return unprocessable(
        [
            field_error(".".join(str(p) for p in err["loc"]), err["msg"], err["type"])
            for err in exc.errors()
        ]
    )


def detail(status_code: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status_code)


async def unrecordable(_request: Request, _exc: Exception) -> JSONResponse:
    """A value the database refuses as it stands (too long for its column, a character its
    text cannot hold) that no check before it caught: the caller's to correct, never a 500."""
    message = "a value in this request cannot be stored as it stands (too long, or a "
    message += "character that is not allowed)"
    return unprocessable([field_error("request", message, "unrecordable")])
