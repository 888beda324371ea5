"""A route's JSON body read as its published JSON Schema says, once its caller is known.

FastAPI validates a body in pydantic's lax Python mode: an integer passes as a datetime (a
Unix time), ``"12"`` as an integer, ``1`` as a boolean; and a body of another media type
is read as bytes and refused field by field. The published schemas say otherwise, so each
route's body is first validated as JSON in strict mode (a datetime is RFC 3339 text, a number
is a number), and a body that is not ``application/json`` is a 415. ``check`` runs inside
``auth.requires``, after the token holds: an unauthenticated caller is a 401, as before,
whatever its body.
"""

from email.message import Message
from typing import Annotated, Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.params import Form
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError

MEDIA_TYPE = "application/json"


class UnsupportedMediaType(Exception):
    """A JSON route's body sent as something else: a 415."""


async def check(request: Request) -> None:
    """Raises UnsupportedMediaType, or RequestValidationError naming the fields (with the
    same locations as FastAPI's own: ``body.<path>``), for a body the route would not take."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is None:
        return
    if isinstance(route.body_field.field_info, Form):
        return
    body = await request.body()  # already read by FastAPI: Starlette keeps it
    if not body:
        return  # FastAPI's own 422 names the missing body
    if not is_json(request.headers.get("content-type")):
        raise UnsupportedMediaType
    try:
        _adapter(route).validate_json(body, strict=True)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


def is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    message = Message()
    message["content-type"] = content_type
    return message.get_content_type() == MEDIA_TYPE


def _adapter(route: APIRoute) -> TypeAdapter[Any]:
    """The adapter FastAPI built for the route's body (its discriminators, its constraints),
    which its ModelField keeps; failing that, one from the field as it stands."""
    adapter: TypeAdapter[Any] | None = getattr(route.body_field, "_type_adapter", None)
    if adapter is None:
        field: Any = route.body_field.field_info if route.body_field else None
        adapter = TypeAdapter(Annotated[field.annotation, field])
    return adapter
