"""schemas/asyncapi.json: valid AsyncAPI 3.0, and agreeing with what the broker really writes
(its topics, the dead-letter headers, record keys and the plain JSON records)."""

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import jsonschema_rs
import pytest

from broker.adapters import dead_letter_topic
from broker.adapters.audit import Anchor
from broker.adapters.kafka import ROLES, Topics
from broker.config import Settings
from broker.entrypoints.inbox_api import _receipt_message
from broker.services import receipts
from broker.services.inbox_delivery import _delivered
from broker.services.sealing import EventNotices
from producers import kafka
from producers.pseudonyms import pseudonym
from schemas import asyncapi, generate
from schemas.notices import NoticeHeader, NoticeType, Receipt, Severity
from schemas.topic_records import AuditAnchor, NoticeDelivered, NoticeProduced, ReceiptRecord

SCHEMAS = Path(generate.__file__).parent
ASYNCAPI_SCHEMA = SCHEMAS / "vendor" / "asyncapi" / "3.0.0.schema.json"
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
SECRET = b"a pseudonym secret for the test"


def validator() -> Any:
    return jsonschema_rs.validator_for(json.loads(ASYNCAPI_SCHEMA.read_text()))


def published() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(generate.ASYNCAPI.read_text())
    return document


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [
            r for v in node.values() for r in refs(v)
        ]
    return [r for v in node for r in refs(v)] if isinstance(node, list) else []


def header() -> NoticeHeader:
    return NoticeHeader.model_validate({
        "notice_id": uuid4(), "event_id": uuid4(), "household": "h-1",
        "recipient_id": "school-1:key_adult", "recipient_org": "school-1",
        "notice_type": NoticeType.SCHOOL_SUPPORT, "severity": Severity.HIGH,
        "created_at": NOW, "deadline": NOW, "recipient_key_id": "k", "signing_key_id": "s",
    })  # fmt: skip


class TestDocument:
    def test_is_valid_asyncapi_3(self) -> None:
        """The published document validates against the AsyncAPI 3.0.0 JSON Schema (from the
        AsyncAPI Initiative's @asyncapi/specs package, kept in schemas/vendor/asyncapi)."""
        assert [e.message for e in validator().iter_errors(published())] == []

    def test_validation_would_catch_a_v2_operation(self) -> None:
        """The schema check is a real one: a version 2 'publish' operation is refused."""
        broken = published()
        broken["operations"]["sendEvents"]["action"] = "publish"
        assert not validator().is_valid(broken)

    def test_every_reference_resolves(self) -> None:
        """Every message's payload schema is a file in schemas/json, every internal reference
        names something in the document."""
        document = published()
        for ref in refs(document):
            if ref.startswith("#/"):
                node: Any = document
                for part in ref[2:].split("/"):
                    node = node[part]
            else:
                assert (SCHEMAS / ref).is_file(), ref


class TestAgreesWithTheBroker:
    def test_a_channel_for_every_topic_the_broker_creates(self) -> None:
        """One channel per topic of broker.adapters.kafka.Topics, by the same name."""
        made = set(vars(Topics.with_prefix("")).values())
        assert {t.role for t in asyncapi.TOPICS} == made == set(ROLES)

    def test_default_prefix_is_the_settings_default(self) -> None:
        """The address's prefix defaults to the broker's topic_prefix default."""
        assert Settings.model_fields["topic_prefix"].default == asyncapi.TOPIC_PREFIX

    def test_dead_letter_headers_are_those_the_broker_writes(self) -> None:
        """The documented headers are exactly those of a dead letter sealed under data keys."""
        source = dead_letter_topic.Source("sgb.events", 1, 7)
        letter = dead_letter_topic.dead_letter("sgb.dead-letters", "k", b"v", {"reason": "x"},
                                               source, NOW, sealed_under="dk1")  # fmt: skip
        assert {name for name, _ in letter.headers} == set(asyncapi.LETTER_HEADERS)

    def test_the_acceptance_header_is_the_one_the_sdk_writes(self) -> None:
        """Documented on events and notices by the name and form producers/kafka.py writes."""
        name, value = kafka.accepted_at_header(NOW)
        assert name == asyncapi.ACCEPTED_AT
        for message in (asyncapi.SEALED_EVENT, asyncapi.SEALED_NOTICE):
            assert jsonschema_rs.is_valid(message.headers[name], value.decode())

    def test_record_keys_match_the_documented_form(self) -> None:
        """A pseudonym is 32 lower-case hex digits, as the key schemas say."""
        key = pseudonym(SECRET, "person", "nhs:9990000018")
        assert jsonschema_rs.is_valid(asyncapi.HEX32, key)


class TestPlainRecords:
    def test_a_receipt_record_is_a_receipt_record(self) -> None:
        """The inbox's receipt record on the acknowledgements topic fits its schema."""
        topics = SimpleNamespace(acknowledgements="sgb.acknowledgements")
        rt = SimpleNamespace(keys=SimpleNamespace(pseudonym_secret=SECRET), topics=topics)
        done = receipts.Recorded(str(uuid4()), Receipt.ACKNOWLEDGED, NOW, first=True)
        message = _receipt_message(rt, "school-1:key_adult", done)  # type: ignore[arg-type]
        ReceiptRecord.model_validate_json(message.value)

    def test_audit_records_fit_their_schemas(self) -> None:
        """The router's notice_produced, the delivery worker's notice_delivered and the audit
        chain's anchor each fit their schema."""
        deps = SimpleNamespace(keys=SimpleNamespace(pseudonym_secret=SECRET), clock=lambda: NOW,
                               topics=SimpleNamespace(audit="sgb.audit"))  # fmt: skip
        produced = EventNotices._audit(SimpleNamespace(deps=deps), header())  # type: ignore[arg-type]
        NoticeProduced.model_validate_json(produced.value)
        record = SimpleNamespace(key="k")
        delivered = _delivered(deps, record, header(), NOW)  # type: ignore[arg-type]
        NoticeDelivered.model_validate_json(delivered.value)
        AuditAnchor.model_validate_json(Anchor(3, "ab" * 32, NOW).to_json(b"audit key"))

    @pytest.mark.parametrize("name", sorted(generate.CONTRACTS))
    def test_each_schema_is_named(self, name: str) -> None:
        """Each published JSON Schema names its dialect and has an $id of its own."""
        schema = json.loads((generate.OUT / f"{name}.schema.json").read_text())
        assert schema["$schema"] == generate.DIALECT
        assert schema["$id"] == f"{generate.ID_PREFIX}{name}"

    @pytest.mark.parametrize("name", sorted(generate.EVENT_EXAMPLES_BY_NAME))
    def test_each_event_example_fits_its_published_schema(self, name: str) -> None:
        """The example in an event's JSON Schema validates against that schema."""
        schema = json.loads((generate.OUT / f"{name}.schema.json").read_text())
        [example] = schema["examples"]
        assert jsonschema_rs.validator_for(schema).is_valid(example)
