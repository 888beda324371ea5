"""The HTTP contract every API shares (issue 18 section 3), through the directory admin API:
refusals as RFC 9457 problem details, JSON bodies read as strictly as their published JSON
Schemas, 415 for another media type, and an OpenAPI document that carries the OAuth2 client
credentials scheme, each operation's scope and the problem each of its statuses answers."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from broker.entrypoints import openapi
from broker.rules.scopes import ADMIN as ADMIN_SCOPE
from tests.integration import test_admin_api as admin_tests

INVALID_NHS, organisation, person = (
    admin_tests.INVALID_NHS,
    admin_tests.organisation,
    admin_tests.person,
)
# The admin API's own fixtures: the app started on its own database, and a client for it.
admin_settings, app, api = admin_tests.admin_settings, admin_tests.app, admin_tests.api

pytestmark = pytest.mark.integration
PROBLEM = "application/problem+json"


def unauthenticated(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


class TestProblemDetails:
    async def test_a_refusal_is_a_problem(self, api: httpx.AsyncClient) -> None:
        """A missing record's 404: type, title, status and the broker's detail."""
        answer = await api.delete("/v1/admin/registrations/p-nobody/school")
        assert answer.status_code == 404
        assert answer.headers["content-type"] == PROBLEM
        body = answer.json()
        assert (body["type"], body["title"], body["status"]) == ("about:blank", "Not Found", 404)
        assert isinstance(body["detail"], str)

    async def test_a_422_names_each_field_in_errors_never_the_value(
        self, api: httpx.AsyncClient
    ) -> None:
        """The fields at fault are in ``errors`` (field, message, type); the detail is text."""
        answer = await api.put("/v1/admin/people/p-1", json=person("p-1", INVALID_NHS))
        assert (answer.status_code, answer.headers["content-type"]) == (422, PROBLEM)
        body = answer.json()
        assert [e["field"] for e in body["errors"]] == ["body.nhs_number"]
        assert set(body["errors"][0]) == {"field", "message", "type"}
        assert isinstance(body["detail"], str)
        assert INVALID_NHS not in answer.text

    async def test_no_such_route_is_a_problem(self, api: httpx.AsyncClient) -> None:
        """Starlette's own refusals answer in the same shape."""
        answer = await api.get("/v1/admin/nothing-here")
        assert (answer.status_code, answer.headers["content-type"]) == (404, PROBLEM)

    async def test_no_token_is_a_problem_with_its_challenge(self, app: FastAPI) -> None:
        """A 401 names the scheme to use, as a problem."""
        async with unauthenticated(app) as client:
            answer = await client.get("/v1/admin/changes")
        assert (answer.status_code, answer.headers["content-type"]) == (401, PROBLEM)
        assert answer.headers["www-authenticate"] == "Bearer"

    async def test_a_literal_of_enums_is_named_by_its_values(self, api: httpx.AsyncClient) -> None:
        """pydantic writes a Literal of enum members as their reprs; the answer says values."""
        answer = await api.put("/v1/admin/organisations/school-a",
                               json=organisation("school-a", kind="castle"))  # fmt: skip
        assert answer.status_code == 422
        assert "<" not in answer.json()["errors"][0]["message"]
        assert "castle" not in answer.text


class TestJsonBodies:
    async def test_another_media_type_is_a_415(self, api: httpx.AsyncClient) -> None:
        """JSON text sent as text/plain is refused as such, not field by field."""
        answer = await api.put("/v1/admin/organisations/school-a",
                               content=b'{"id": "school-a"}',
                               headers={"content-type": "text/plain"})  # fmt: skip
        assert (answer.status_code, answer.headers["content-type"]) == (415, PROBLEM)

    async def test_an_integer_is_not_a_datetime(self, api: httpx.AsyncClient) -> None:
        """The published schema says RFC 3339 text: a Unix time is a 422 naming the field."""
        key = {"key_id": "k1", "public_key": "A" * 43 + "=", "valid_from": 1_764_000_000}
        answer = await api.put("/v1/admin/organisations/school-a",
                               json=organisation("school-a", signing_keys=[key]))  # fmt: skip
        assert answer.status_code == 422
        fields = [e["field"] for e in answer.json()["errors"]]
        assert "body.signing_keys.0.valid_from" in fields
        assert "1764000000" not in answer.text

    async def test_text_is_not_a_date(self, api: httpx.AsyncClient) -> None:
        """Nor is a number a date of birth, nor any other date."""
        answer = await api.put("/v1/admin/people/p-1",
                               json=person("p-1", "9990000018",
                                           date_of_birth=19900401))  # fmt: skip
        assert answer.status_code == 422
        assert [e["field"] for e in answer.json()["errors"]] == ["body.date_of_birth"]

    async def test_the_caller_is_known_before_its_body_is_judged(self, app: FastAPI) -> None:
        """Without a token, a body of any type is a 401 (audited), as before: never a 415
        or a 422 telling a stranger about the body."""
        async with unauthenticated(app) as client:
            answer = await client.put("/v1/admin/organisations/school-a", content=b"x",
                                      headers={"content-type": "text/plain"})  # fmt: skip
        assert answer.status_code == 401


class TestOpenApiDocument:
    @pytest.fixture
    def document(self, app: FastAPI) -> dict[str, Any]:
        return app.openapi()

    def test_the_client_credentials_scheme_is_declared(self, document: dict[str, Any]) -> None:
        """The OAuth2 scheme: the token endpoint and every scope, described."""
        flow = document["components"]["securitySchemes"]["OAuth2"]["flows"]["clientCredentials"]
        assert flow["tokenUrl"] == "/v1/oauth/token"
        assert ADMIN_SCOPE in flow["scopes"]

    def test_each_operation_names_its_scope(self, document: dict[str, Any]) -> None:
        """Every admin route needs the admin scope, and says so."""
        put_org = document["paths"]["/v1/admin/organisations/{org_id}"]["put"]
        assert put_org["security"] == [{"OAuth2": [ADMIN_SCOPE]}]

    def test_every_refusal_is_documented_as_a_problem(self, document: dict[str, Any]) -> None:
        """No operation keeps FastAPI's own 422; each 4xx of a secured one is a problem."""
        assert "HTTPValidationError" not in document["components"]["schemas"]
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                if not operation.get("security"):
                    continue
                responses = operation["responses"]
                assert {"401", "403", "429"} <= set(responses), (method, path)
                for code, response in responses.items():
                    if code.startswith("4"):
                        assert PROBLEM in response["content"], (method, path, code)

    def test_the_token_endpoint_takes_its_form(self, document: dict[str, Any]) -> None:
        """The client assertion's form fields, and the OAuth 2 error body."""
        token = document["paths"]["/v1/oauth/token"]["post"]
        form = token["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
        assert set(form["required"]) == {"grant_type", "client_assertion_type",
                                         "client_assertion"}  # fmt: skip
        refused = token["responses"]["401"]["content"]["application/json"]["schema"]
        assert "error" in refused["properties"]

    def test_the_document_has_no_fault(self, document: dict[str, Any]) -> None:
        """The check make lint runs on each API's document finds nothing here."""
        assert openapi.faults(document) == []

    def test_operations_are_tagged(self, document: dict[str, Any]) -> None:
        """Every operation has a tag, and every tag a description."""
        for operations in document["paths"].values():
            assert all(op.get("tags") for op in operations.values())
        assert all(tag["description"] for tag in document["tags"])
