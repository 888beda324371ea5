"""The problem details every HTTP API answers (broker/entrypoints/http_errors.py): their shape,
and a validator's errors told without the value sent or a Python enum's repr."""

import json
from enum import StrEnum
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from broker.entrypoints import http_errors


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class Cat(BaseModel):
    kind: Literal["cat"]
    age: int


class Dog(BaseModel):
    kind: Literal["dog"]
    age: int


class Sent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    colour: Literal[Colour.RED, Colour.BLUE]
    count: int
    pet: Cat | Dog = Field(discriminator="kind")


def errors_of(data: object) -> list[http_errors.FieldError]:
    with pytest.raises(ValidationError) as caught:
        Sent.model_validate(data)
    return http_errors.validation_errors(caught.value.errors(), "body")


class TestProblem:
    def test_a_problem_has_the_rfc_9457_members(self) -> None:
        """type, title (the status's phrase), status and detail, as problem+json."""
        answer = http_errors.detail(404, "no such notice")
        assert answer.media_type == "application/problem+json"
        assert json.loads(answer.body) == {"type": "about:blank", "title": "Not Found",
                                           "status": 404, "detail": "no such notice"}  # fmt: skip

    def test_a_422_carries_its_fields_in_errors(self) -> None:
        """The fields at fault go in errors; the detail says how many."""
        fault = http_errors.field_error("body.id", "does not match the path", "path_mismatch")
        body = json.loads(http_errors.unprocessable([fault]).body)
        assert (body["status"], body["errors"]) == (422, [fault])
        assert body["detail"] == "1 field at fault: see errors"

    def test_the_document_describes_each_status(self) -> None:
        """A route's declared responses carry the Problem schema under problem+json."""
        declared = http_errors.responses(404, 409)
        assert set(declared) == {404, 409}
        assert declared[409]["content"]["application/problem+json"]["schema"] == (
            http_errors.PROBLEM_REF
        )


class TestValidationErrors:
    def test_a_literal_of_enum_members_is_named_by_its_values(self) -> None:
        """pydantic writes ``<Colour.RED: 'red'>``; the answer says ``'red'``."""
        [error] = errors_of({"colour": "green", "count": 1, "pet": {"kind": "cat", "age": 1}})
        assert error["field"] == "body.colour"
        assert "<" not in error["message"]
        assert "'red'" in error["message"]

    def test_an_unknown_union_tag_is_not_quoted(self) -> None:
        """The one message pydantic writes with the value sent is said without it."""
        [error] = errors_of({"colour": "red", "count": 1, "pet": {"kind": "ferret9431"}})
        assert error["type"] == "union_tag_invalid"
        assert "ferret9431" not in error["message"]
        assert "'cat'" in error["message"]

    @given(st.text(min_size=4).map(lambda text: f"Q7{text}"))
    def test_no_value_sent_comes_back(self, sent: str) -> None:
        """Whatever text is sent in any field, no error repeats it."""
        data = {"colour": sent, "count": sent, "pet": {"kind": sent}, "extra": sent}
        told = json.dumps(errors_of(data), ensure_ascii=False)
        assert sent not in told
