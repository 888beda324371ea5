"""The OpenAPI document of each HTTP API: what every operation shares, added in one place.

A route declares what is its own (``responses=http_errors.responses(404, 409)``, a 200
beside its 202, a docstring for its description). What every route of a kind answers is
added here, from what the route is: each operation may be refused 429 (the rate limits);
one with a body 413 (too large); one with a token 401 and 403 (auth.py); one taking JSON
415 and 422 (json_bodies.py); one with parameters 422, and 404 when they are in its path
(an id that names nothing, or a path that names no route). FastAPI's own 422 schema gives way
to the problem details (http_errors.py), and each operation gets its tag from ``TAGS``.
"""

import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from broker.entrypoints import auth, fhir_http, http_errors, request_examples
from broker.entrypoints.http_errors import FieldProblem, Problem

# The first pattern a path matches names its tag.
TAGS: Sequence[tuple[str, str, str]] = (
    (r"^/v1/oauth/", "Authentication", "An access token for a private_key_jwt assertion"),
    (r"^/v1/events", "Events", "Signed events from agencies without a Kafka client"),
    (r"^/fhir/R4/", "FHIR R4", "UK Core Encounters and Appointments, answered in FHIR"),
    (r"^/v1/peers/", "Peer brokers", "Transfers pushed by a peer broker"),
    (r"^/v1/recipients/", "Notices", "A recipient's sealed notices and its receipts"),
    (r"^/v1/(front-doors|households)/", "Front door",
     "A front door's matching queue, chronologies, proposals and decisions"),
    (r"^/v1/organisations/.*/key-changes", "Key changes",
     "Changes to an organisation's own keys, as it sees them"),
    (r"^/v1/admin/key-changes", "Key changes", "Key changes held for a second administrator"),
    (r"^/v1/admin/peers/", "Peer brokers", "Registering peer brokers"),
    (r"^/v1/admin/(alerts/|contacts/[^/]+/alert-channels)", "Alerts",
     "A contact's alert channels, and the alerts that keep failing"),
    (r"^/v1/admin/contacts/[^/]+/sign-in-links", "Web inbox", "One-time sign-in links"),
    (r"^/v1/admin/", "Directory", "The directory's records, a whole import, the change log"),
    (r"^/health$", "Health", "For the load balancer"),
)  # fmt: skip
_BODY_METHODS = frozenset({"post", "put", "patch"})
SHARED = """
## Shared by every operation

**Authentication.** OAuth 2 client credentials with a `private_key_jwt` client assertion
(RFC 7523): post the form to `/v1/oauth/token`, send the access token as
`Authorization: Bearer <token>`. Each operation names the scope it needs.

**Errors.** Every refusal is `application/problem+json` (RFC 9457): `type`, `title`,
`status`, `detail`; a 422 adds `errors`, one `{field, message, type}` per field at fault.
No error quotes a value sent. The token endpoint alone answers as OAuth 2 does
(`{"error": ...}`).

**Bodies.** JSON bodies are `application/json` (415 otherwise) and are read as strictly as
their schemas: a date-time is RFC 3339 text, never a number.
"""


def install(app: FastAPI) -> None:
    """``app.openapi`` builds the document once, with what every operation shares."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            plain = get_openapi(title=app.title, version=app.version,
                                description=app.description, routes=app.routes)  # fmt: skip
            app.openapi_schema = complete(plain)
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def complete(spec: dict[str, Any]) -> dict[str, Any]:
    used: dict[str, str] = {}
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            tag = _tag(path, operation)
            if tag:
                used[tag[0]] = tag[1]
            _add_problems(method, operation)
            _add_examples(method, path, operation)
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas["Problem"].pop("$defs", None)
    schemas["FieldProblem"] = FieldProblem.model_json_schema()
    info = spec.setdefault("info", {})
    info["description"] = (info.get("description") or "") + SHARED
    spec["tags"] = [{"name": name, "description": about} for name, about in used.items()]
    return spec


def _tag(path: str, operation: dict[str, Any]) -> tuple[str, str] | None:
    for pattern, name, about in TAGS:
        if re.search(pattern, path):
            operation.setdefault("tags", [name])
            return (operation["tags"][0], about)
    return None


def _add_examples(method: str, path: str, operation: dict[str, Any]) -> None:
    """Each body's example (request_examples.py), where the route gave none of its own."""
    examples = request_examples.for_operation(method, path)
    for media in operation.get("requestBody", {}).get("content", {}).values():
        if examples and not ({"example", "examples"} & set(media)):
            media["examples"] = examples


def _add_problems(method: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    parameters = operation.get("parameters", [])
    body = operation.get("requestBody", {}).get("content", {})
    codes = set() if operation.get("tags") == ["Health"] else {429}
    if method in _BODY_METHODS:
        codes.add(413)
    if operation.get("security"):
        codes |= {401, 403}
    if "application/json" in body:
        codes |= {400, 415, 422}  # 400: not even UTF-8 (FastAPI's)
    if parameters:
        codes.add(422)
    if any(p.get("in") == "path" for p in parameters):
        codes.add(404)
    for code in sorted(codes):
        _declare(responses, code)


def _declare(responses: dict[str, Any], code: int) -> None:
    """The problem a status carries, beside what the route declared for it itself (a FHIR
    route's OperationOutcome); FastAPI's own 422 gives way."""
    declared = responses.get(str(code))
    problem = http_errors.problem_response(code)
    if declared is None or _is_fastapis_422(declared):
        responses[str(code)] = problem
        return
    content = declared.setdefault("content", {})
    content.setdefault(http_errors.MEDIA_TYPE, problem["content"][http_errors.MEDIA_TYPE])


def _is_fastapis_422(declared: dict[str, Any]) -> bool:
    schema = declared.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref", "").endswith("/HTTPValidationError"))


# A refusal's body: a problem, or a FHIR route's OperationOutcome (the token endpoint's are
# OAuth 2's own error bodies).
_REFUSAL_TYPES = frozenset({http_errors.MEDIA_TYPE, fhir_http.MEDIA_TYPE})


def faults(spec: dict[str, Any]) -> list[str]:
    """What the document of an API lacks, by this module's own rules: an untagged operation,
    a secured one without its 401, 403 and 429, a refusal that is not a problem, a request
    body without an example."""
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            responses = operation.get("responses", {})
            if not operation.get("tags"):
                found.append(f"{where}: no tag")
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                if not ({"example", "examples"} & set(content)):
                    found.append(f"{where}: its {media} body has no example")
            if operation.get("security") and not {"401", "403", "429"} <= set(responses):
                found.append(f"{where}: secured, without 401, 403 and 429")
            for code, response in responses.items():
                told = set(response.get("content", {})) & _REFUSAL_TYPES
                if code.startswith("4") and not told and path != auth.GRANT_PATH:
                    found.append(f"{where}: its {code} is not a problem")
    return found


def main() -> int:
    """``python -m broker.entrypoints.openapi --check`` (make lint): each API's document
    builds and has no fault."""
    from broker.config import Settings
    from broker.entrypoints.admin_api import create_admin_api
    from broker.entrypoints.gateway import create_gateway
    from broker.entrypoints.inbox_api import create_inbox_api

    settings = Settings(api_docs=True)
    found = [f"{make.__name__}: {fault}"
             for make in (create_gateway, create_inbox_api, create_admin_api)
             for fault in faults(make(settings).openapi())]  # fmt: skip
    print("\n".join(found) or "OpenAPI documents: no fault")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
