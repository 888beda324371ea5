"""Every request body the HTTP APIs take has an example in their OpenAPI documents, and each
example is one the API would take: valid against the body's schema in the document, read by
the route's own model, and a FHIR example mapped to events by the real FHIR mapping."""

import json
from functools import cache
from typing import Any

import jsonschema_rs
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import TypeAdapter

from broker.config import Settings
from broker.entrypoints import openapi, request_examples
from broker.entrypoints.admin_api import create_admin_api
from broker.entrypoints.auth import ClientAssertionForm
from broker.entrypoints.gateway import create_gateway
from broker.entrypoints.inbox_api import create_inbox_api
from broker.rules.fhir_mapping import events_from_fhir

MAKERS = {"gateway": create_gateway, "inbox": create_inbox_api, "admin": create_admin_api}


@cache
def app(name: str) -> FastAPI:
    return MAKERS[name](Settings(api_docs=True))


def bodies() -> list[tuple[str, str, str, str, dict[str, Any]]]:
    """(api, method, path, media type, its content) for every request body documented."""
    found = []
    for name in MAKERS:
        for path, operations in app(name).openapi()["paths"].items():
            for method, operation in operations.items():
                for media, content in operation.get("requestBody", {}).get("content", {}).items():
                    found.append((name, method, path, media, content))
    return found


def examples() -> list[Any]:
    return [
        pytest.param(name, method, path, media, content["schema"], example["value"],
                     id=f"{name} {method.upper()} {path} {key}")
        for name, method, path, media, content in bodies()
        for key, example in content.get("examples", {}).items()
    ]  # fmt: skip


def api_routes(routes: Any, prefix: str = "") -> list[tuple[str, APIRoute]]:
    """Every APIRoute with its full path, routers included (FastAPI includes them lazily)."""
    found: list[tuple[str, APIRoute]] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append((prefix + route.path, route))
        elif hasattr(route, "original_router"):  # an included router
            more = prefix + getattr(route.include_context, "prefix", "")
            found += api_routes(route.original_router.routes, more)
    return found


def body_model(name: str, method: str, path: str) -> Any:
    """The annotation the route reads its JSON body as."""
    for full_path, route in api_routes(app(name).routes):
        if full_path == path and method.upper() in route.methods:
            assert route.body_field is not None, path
            return route.body_field.field_info.annotation
    raise AssertionError(f"no route {method} {path}")


class TestEveryBodyHasAnExample:
    def test_there_are_bodies_to_check(self) -> None:
        """The three APIs take bodies at token, events, FHIR, receipts, directory routes."""
        assert len(bodies()) >= 20

    @pytest.mark.parametrize(("name", "method", "path", "media", "content"), bodies())
    def test_the_body_has_an_example(
        self, name: str, method: str, path: str, media: str, content: dict[str, Any]
    ) -> None:
        """At least one named example, beside the schema."""
        assert content.get("examples"), f"{name}: {method.upper()} {path} {media}"

    @pytest.mark.parametrize("name", list(MAKERS))
    def test_the_check_finds_no_fault(self, name: str) -> None:
        """``python -m broker.entrypoints.openapi --check`` would pass: no body without one."""
        assert openapi.faults(app(name).openapi()) == []

    def test_a_body_without_an_example_is_a_fault(self) -> None:
        """The check names an operation whose body lacks one."""
        body = {"content": {"application/json": {"schema": {"type": "object"}}}}
        spec = {"paths": {"/v1/x": {"post": {"tags": ["X"], "requestBody": body}}}}
        assert openapi.faults(spec) == ["POST /v1/x: its application/json body has no example"]

    def test_every_example_is_for_a_real_operation(self) -> None:
        """No example waits for an operation that is not there (a path renamed)."""
        documented = {f"{method.upper()} {path}" for _, method, path, _, _ in bodies()}
        assert set(request_examples.EXAMPLES) <= documented


class TestEachExampleIsTaken:
    @pytest.mark.parametrize(("name", "method", "path", "media", "schema", "value"), examples())
    def test_valid_against_its_schema(
        self, name: str, method: str, path: str, media: str, schema: dict[str, Any], value: Any
    ) -> None:
        """As the document states the body (references resolved in its components)."""
        components = app(name).openapi()["components"]
        validator = jsonschema_rs.validator_for(schema | {"components": components})
        errors = [e.message for e in validator.iter_errors(value)]
        assert errors == []

    @pytest.mark.parametrize(("name", "method", "path", "media", "schema", "value"), examples())
    def test_read_by_the_route_s_own_model(
        self, name: str, method: str, path: str, media: str, schema: dict[str, Any], value: Any
    ) -> None:
        """The JSON the route reads, the form the token endpoint reads, the FHIR resources
        the mapping turns into events: none refused."""
        if media == "application/x-www-form-urlencoded":
            ClientAssertionForm.model_validate(value)
        elif path.startswith("/fhir/R4/"):
            events = events_from_fhir(json.dumps(value).encode(), path.rsplit("/", 1)[1], "ed-demo")
            assert events
        else:
            TypeAdapter(body_model(name, method, path)).validate_json(json.dumps(value))
