"""The broker's own records on Kafka that are plain JSON rather than sealed envelopes: receipts
on the acknowledgements topic, the audit topic's entries, a dead letter's reason.

These are what the broker writes (``broker/entrypoints/inbox_api.py``, ``services/sealing.py``,
``services/inbox_delivery.py``, ``adapters/audit.py``, ``adapters/dead_letter_topic.py``); they
are published as JSON Schemas for readers outside the broker, and
``tests/unit/test_asyncapi.py`` checks the broker's records against them. Ids and times only:
none of them names a person or what happened.
"""

from typing import Literal

from pydantic import AwareDatetime, ConfigDict, Field

from schemas.common import ContactId, Contract, OrgId
from schemas.notices import Receipt


class ReceiptRecord(Contract):
    """A recipient's receipt for a notice, on the acknowledgements topic."""

    notice_id: str = Field(description="the notice's id (a UUID)")
    recipient_id: ContactId = Field(description="the recipient (a contact id)")
    receipt: Receipt
    at: AwareDatetime = Field(description="when the broker recorded the receipt")


class NoticeProduced(Contract):
    """The router made a notice for a recipient (the rule that fired is kept in the database's
    audit log only: its name would say what happened)."""

    action: Literal["notice_produced"]
    at: AwareDatetime
    notice_id: str
    event_id: str
    recipient_id: ContactId


class NoticeDelivered(Contract):
    """The delivery worker put a notice in its recipient's inbox."""

    action: Literal["notice_delivered"]
    at: AwareDatetime
    notice_id: str
    recipient_id: ContactId


class AuditAnchor(Contract):
    """The head of the database's hash-chained audit log, anchored outside it: ``sgb
    audit-verify`` compares the chain with the newest anchor whose tag holds."""

    action: Literal["audit_anchor"]
    seq: int = Field(description="the number of the audit entry anchored")
    hash: str = Field(description="that entry's chain hash (hex SHA-256)")
    at: AwareDatetime
    tag: str = Field(description="HMAC over the anchor with the broker's audit key: a record "
                                 "without a valid tag is not an anchor")  # fmt: skip


REASON = (
    "the class of failure: SignatureInvalid, no_recipient_contact, household_data_key_unusable..."
)


class DeadLetterReason(Contract):
    """Why a record was dead-lettered: the ``sgb-reason`` header's JSON (or, for a letter with
    no original record, such as a notice no contact can take, the record's value). Only
    ``reason`` is always present; the rest where useful. Never personal data."""

    model_config = ConfigDict(extra="allow")

    reason: str = Field(description=REASON)
    fields: list[str] | None = Field(None, description="the fields at fault, by name")
    channel: str | None = Field(None, description="the delivery channel: webhook, mesh")
    attempts: int | None = Field(None, description="delivery attempts made")
    status: int | None = Field(None, description="the last HTTP status the endpoint answered")
    error: str | None = Field(None, description="the class of the last error")
    event_id: str | None = None
    notice_id: str | None = None
    org_id: OrgId | None = None
    recipient_id: ContactId | None = None
    role: str | None = None
    notice_type: str | None = None


AUDIT_RECORDS = (NoticeProduced, NoticeDelivered, AuditAnchor)
