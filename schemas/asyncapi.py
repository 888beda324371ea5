"""The AsyncAPI 3.0 document of the broker's Kafka topics, made from the contracts here.

``python -m schemas.generate`` writes it to ``schemas/asyncapi.json`` beside the JSON Schemas
its messages reference, and ``--check`` fails when it is out of date. Topic names, header
names and record keys are the broker's (``broker/adapters/kafka.py``, ``dead_letter_topic.py``,
``producers/pseudonyms.py``); this package imports nothing from the broker, so
``tests/unit/test_asyncapi.py`` checks the two agree and validates the document against the
AsyncAPI 3.0.0 JSON Schema (``schemas/vendor``).
"""

from dataclasses import dataclass, field
from typing import Any

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING = "0.5.0"
TOPIC_PREFIX = "sgb."  # the default of the broker's topic_prefix setting

PSEUDONYM = (
    "A pseudonym, never an identifier: the first 32 hex digits of HMAC-SHA256(secret, "
    "'<kind>:<identifier>') (producers/pseudonyms.py). The same {what} always has the same key, "
    "so its records keep their order on one partition; without the secret nobody can go back "
    "from a key to the {what}."
)
HEX32 = {"type": "string", "pattern": "^[0-9a-f]{32}$"}


@dataclass(frozen=True)
class Message:
    name: str  # its id in components.messages
    title: str
    summary: str
    payload: dict[str, Any]
    key: dict[str, Any]
    headers: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Topic:
    role: str  # the topic's name after the prefix
    description: str
    messages: tuple[Message, ...]
    sent_by: str  # which broker processes write it
    received_by: str | None  # which read it, None for readers outside the broker


def schema_ref(name: str) -> dict[str, str]:
    return {"$ref": f"json/{name}.schema.json"}


def pseudonym_key(what: str, kind: str, identifier: str) -> dict[str, Any]:
    text = PSEUDONYM.format(what=what) + f" Here kind is '{kind}' and identifier {identifier}."
    return HEX32 | {"description": text}


PERSON_KEY = pseudonym_key(
    "person", "person",
    "the first person the event names, as 'nhs:<NHS number>', 'upn:<UPN>' or "
    "'local:<source_org>:<local id>', in that order of preference. The secret is the broker's "
    "pseudonym secret for events the gateway or the front door publishes, or an agency's own "
    "(HMAC-SHA256 of its raw Ed25519 private key over 'sgb producer kafka record keys v1') "
    "when it publishes with the agency package",
)  # fmt: skip
RECIPIENT_KEY = pseudonym_key("recipient", "recipient", "the recipient's contact id; the "
                              "secret is the broker's pseudonym secret")  # fmt: skip
TEXT = {"type": "string"}

ACCEPTED_AT = "sgb-accepted-at"  # producers/kafka.py's ACCEPTED_AT
ACCEPTED_AT_HEADER = TEXT | {"format": "date-time", "description": (
    "when the event was accepted, ISO 8601 in UTC: the gateway's clock as it publishes an event "
    "it accepted, or the agency's as it publishes straight to Kafka with the agency package. "
    "Copied by the router onto each of the event's notices (Kafka's append time when the event "
    "has none), for the sgb_event_to_inbox_seconds histogram alone: nothing recorded or "
    "decided reads it")}  # fmt: skip

SEALED_EVENT = Message(
    "sealedEvent", "A sealed event",
    "An event, signed by its producer (docs/event-signature.md) and sealed to the broker's "
    "HPKE key: 'header' is an event_header JSON text bound into the encryption, 'ciphertext' "
    "the base64 HPKE ciphertext of a signed event (event_json, signature, signing_key_id).",
    schema_ref("sealed_event"), PERSON_KEY,
    {"event_id": TEXT | {"format": "uuid", "description": "the event's id, as in its header; "
                         "set by the agency package and the gateway, absent on an event the "
                         "front door publishes again once matched"},
     ACCEPTED_AT: ACCEPTED_AT_HEADER},
)  # fmt: skip
SEALED_NOTICE = Message(
    "sealedNotice", "A sealed notice",
    "A notice sealed to its recipient's key and signed by the broker: 'header' is a "
    "notice_header JSON text, 'ciphertext' the base64 HPKE ciphertext of a notice_body, "
    "'signature' the broker's Ed25519 signature over both.",
    schema_ref("sealed_notice"), RECIPIENT_KEY, {ACCEPTED_AT: ACCEPTED_AT_HEADER},
)  # fmt: skip
RECEIPT = Message(
    "receipt", "A receipt", "A recipient's receipt for a notice: delivered, viewed, "
    "acknowledged or rejected.", schema_ref("receipt_record"), RECIPIENT_KEY,
)  # fmt: skip
AUDIT_MESSAGES = (
    Message("noticeProduced", "Notice produced", "The router made a notice.",
            schema_ref("notice_produced"), RECIPIENT_KEY),
    Message("noticeDelivered", "Notice delivered", "A notice reached its recipient's inbox.",
            schema_ref("notice_delivered"), RECIPIENT_KEY),
    Message("auditAnchor", "Audit anchor", "The audit chain's head, anchored outside the "
            "database.", schema_ref("audit_anchor"),
            TEXT | {"const": "audit-anchor", "description": "one key for every anchor, so "
                    "anchors keep their order on one partition"}),
)  # fmt: skip
LETTER_HEADERS: dict[str, dict[str, Any]] = {
    "sgb-reason": TEXT | {"contentMediaType": "application/json",
                          "description": "JSON: a dead_letter_reason"},
    "sgb-source-topic": TEXT | {"description": "the topic the original record was read from"},
    "sgb-source-partition": TEXT | {"pattern": "^[0-9]+$", "description": "its partition"},
    "sgb-source-offset": TEXT | {"pattern": "^[0-9]+$", "description": "its offset"},
    "sgb-first-failed-at": TEXT | {"format": "date-time",
                                   "description": "when processing it first failed (UTC)"},
    "sgb-sealed-under": TEXT | {"description": "only on an event the router could open: the "
                                "data keys its value is sealed under (shredding any of them "
                                "makes the letter unreadable); replaying opens it first"},
}  # fmt: skip
DEAD_LETTERS = (
    Message(
        "deadLetter", "A dead letter",
        "The original record, replayable: its key and value byte for byte (a sealed event or "
        "a sealed notice), or, with sgb-sealed-under, that value sealed again under the data "
        "keys named; its reason and origin in headers (all UTF-8 text). Replayed with "
        "'sgb dead-letters replay'.",
        {"oneOf": [schema_ref("sealed_event"), schema_ref("sealed_notice"),
                   TEXT | {"contentEncoding": "binary",
                           "description": "sealed under the data keys in sgb-sealed-under"}]},
        TEXT | {"description": "the original record's key (a pseudonym)"}, LETTER_HEADERS,
    ),
    Message(
        "undeliverableNotice", "An undeliverable notice",
        "A notice no contact can take, parked with no original record: its reason as the value "
        "and no headers; listed by 'sgb dead-letters', not replayable.",
        schema_ref("dead_letter_reason"),
        pseudonym_key("organisation", "organisation", "the organisation's id"),
    ),
)  # fmt: skip

TOPICS = (
    Topic("events", "Events from agencies (the agency package, the HTTP gateway, the front "
          "door's matching queue), sealed to the broker. Kafka's log-append time is the time "
          "an event was received.", (SEALED_EVENT,), "the gateway and the front door "
          "(agencies with the agency package publish here too)", "the router"),
    Topic("notices", "Notices for recipients, sealed to each recipient.", (SEALED_NOTICE,),
          "the router (through its outbox)", "the delivery worker"),
    Topic("acknowledgements", "Recipients' receipts for their notices.", (RECEIPT,),
          "the inbox API and the web inbox", None),
    Topic("audit", "What happened to each notice, by id, and anchors of the audit chain; kept "
          "forever.", AUDIT_MESSAGES, "the router, the delivery worker and the follow-up "
          "timer", None),
    Topic("dead-letters", "Records the broker could not process, kept to be replayed, and "
          "notices nobody could take.", DEAD_LETTERS, "the router, the delivery worker, the "
          "webhook and MESH senders and the escalator", None),
)  # fmt: skip


def document() -> dict[str, Any]:
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:safeguarding-broker:kafka",
        "info": {"title": TITLE, "version": "1", "description": DESCRIPTION},
        "defaultContentType": "application/json",
        "channels": {t.role: _channel(t) for t in TOPICS},
        "operations": _operations(),
        "components": {"messages": {m.name: _message(m) for t in TOPICS for m in t.messages}},
    }


TITLE = "Safeguarding broker: Kafka topics"
DESCRIPTION = (
    "The broker's Kafka topics. Every topic name starts with the partnership's topic prefix "
    f"(the broker's topic_prefix setting, '{TOPIC_PREFIX}' by default). Personal data never "
    "travels in clear: keys are pseudonyms, headers carry ids, and events and notices are "
    "sealed (HPKE, RFC 9180). Payload schemas are the JSON Schemas in schemas/json."
)


def _channel(topic: Topic) -> dict[str, Any]:
    return {
        "address": "{prefix}" + topic.role,
        "title": topic.role,
        "description": topic.description,
        "parameters": {"prefix": {"default": TOPIC_PREFIX,
                                  "description": "the partnership's topic prefix"}},
        "messages": {m.name: {"$ref": f"#/components/messages/{m.name}"} for m in topic.messages},
    }  # fmt: skip


def _operations() -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for topic in TOPICS:
        name = topic.role.replace("-", " ").title().replace(" ", "")
        readers = [("send", f"send{name}", topic.sent_by)]
        if topic.received_by:
            readers.append(("receive", f"receive{name}", topic.received_by))
        for action, op_id, who in readers:
            operations[op_id] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{topic.role}"},
                "summary": f"{'Written' if action == 'send' else 'Read'} by {who}.",
                "messages": [{"$ref": f"#/channels/{topic.role}/messages/{m.name}"}
                             for m in topic.messages],
            }  # fmt: skip
    return operations


def _message(message: Message) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": message.name,
        "title": message.title,
        "summary": message.summary,
        "contentType": "application/json",
        "payload": message.payload,
        "bindings": {"kafka": {"key": message.key, "bindingVersion": KAFKA_BINDING}},
    }
    if message.headers:
        body["headers"] = {"type": "object", "properties": message.headers}
    return body
