"""Writes the JSON Schema of every wire contract into ``schemas/json``, and the AsyncAPI
document of the Kafka topics (``schemas/asyncapi.py``) into ``schemas/asyncapi.json``.

``python -m schemas.generate`` rewrites them; ``--check`` fails when any is out of date, so CI
catches a model changed without its published schema.

Each schema names its dialect (``$schema``) and has an ``$id``, so that a validator resolves
it by name, and each event schema carries the event's worked example (``schemas.examples``).
"""

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from schemas import asyncapi
from schemas.events import EVENT_MODELS
from schemas.examples import EVENT_EXAMPLES
from schemas.notices import NoticeBody, NoticeHeader, SealedNotice
from schemas.peers import PeerSpec
from schemas.topic_records import (
    AuditAnchor,
    DeadLetterReason,
    NoticeDelivered,
    NoticeProduced,
    ReceiptRecord,
)
from schemas.transport import EventHeader, SealedEvent
from schemas.web_passkeys import CeremonyFailure, EnrolmentAnswer

OUT = Path(__file__).parent / "json"
ASYNCAPI = Path(__file__).parent / "asyncapi.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
# A name, not an address: the broker has no public home for its schemas. A URN never sends a
# validator to the network; a partnership that publishes them may map these names to its URLs.
ID_PREFIX = "urn:safeguarding-broker:schema:"

CONTRACTS: dict[str, type[BaseModel]] = {
    **{event_type.value: model for event_type, model in EVENT_MODELS.items()},
    "event_header": EventHeader,
    "sealed_event": SealedEvent,
    "notice_header": NoticeHeader,
    "notice_body": NoticeBody,
    "sealed_notice": SealedNotice,
    "peer": PeerSpec,  # a peer broker as registered (issue 16)
    # The broker's plain JSON records on Kafka (issue 18: the AsyncAPI document's payloads).
    "receipt_record": ReceiptRecord,
    "notice_produced": NoticeProduced,
    "notice_delivered": NoticeDelivered,
    "audit_anchor": AuditAnchor,
    "dead_letter_reason": DeadLetterReason,
    "web_passkey_enrolment": EnrolmentAnswer,  # the web inbox's passkey.js (issue 17)
    "web_passkey_ceremony_failure": CeremonyFailure,  # ... its report of a failed ceremony
}


EVENT_EXAMPLES_BY_NAME = {event_type.value: example
                          for event_type, (_, _, example) in EVENT_EXAMPLES.items()}  # fmt: skip


def schema_of(name: str, model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema, named, with its example when it is an event's."""
    schema = {"$schema": DIALECT, "$id": f"{ID_PREFIX}{name}", **model.model_json_schema()}
    if name in EVENT_EXAMPLES_BY_NAME:
        schema["examples"] = [EVENT_EXAMPLES_BY_NAME[name]]
    return schema


def rendered() -> dict[Path, str]:
    files = {
        OUT / f"{name}.schema.json": json.dumps(schema_of(name, model), indent=2) + "\n"
        for name, model in CONTRACTS.items()
    }
    files[ASYNCAPI] = json.dumps(asyncapi.document(), indent=2) + "\n"
    return files


def stale(files: dict[Path, str]) -> list[Path]:
    expected = set(files)
    extra = [path for path in OUT.glob("*.schema.json") if path not in expected]
    changed = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
    return sorted(changed + extra)


def main(argv: list[str]) -> int:
    files = rendered()
    if "--check" in argv:
        out_of_date = stale(files)
        for path in out_of_date:
            print(f"out of date: {path.name} (run: python -m schemas.generate)", file=sys.stderr)
        return 1 if out_of_date else 0
    OUT.mkdir(exist_ok=True)
    for path in OUT.glob("*.schema.json"):
        path.unlink()
    for path, text in files.items():
        path.write_text(text)
    print(f"wrote {len(files) - 1} schemas to {OUT} and the AsyncAPI document to {ASYNCAPI}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
