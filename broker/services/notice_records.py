"""A notice sealed for its recipient and recorded for the broker, in the caller's transaction.

The record keeps what the broker needs later without the recipient's key: the body sealed
under the household's data key (for escalation and re-routing), the deadline, who is next
in the escalation chain, and where a rejection goes. The notice as sent waits in the outbox
until Kafka has it.
"""

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol
from uuid import UUID

from broker.adapters.directory import ContactRecord
from broker.errors import DataKeyUnusable, KeyFileError, RecipientKeyUnusable
from broker.keys import KeyStore
from broker.ports import DataKeyStore, NoticeRecordView, OutboxEntry, UnitOfWork
from broker.rules.family import Addressee, ContactRole
from producers import crypto, recipient_keys
from producers.envelopes import seal_notice
from schemas.notices import NoticeBody, NoticeHeader


async def add(
    uow: UnitOfWork,
    header: NoticeHeader,
    body: NoticeBody,
    contact: ContactRecord,
    keys: KeyStore,
    data_keys: DataKeyStore,
    *,
    rule_id: str,
    escalate_to: Sequence[Addressee],
    reroute_to: Addressee | None,
    chain_id: UUID | None = None,
    companion: bool = False,
) -> str:
    """Seals the notice to the contact's key and adds its record, with the rule that decided
    it (kept there, inside the broker, never in the header); returns the sealed notice as
    its outbox entry keeps it and Kafka carries it (SealedNotice's JSON, made once). A
    ``companion`` (a school deputy's copy) joins ``chain_id``'s chain but never escalates
    itself: the chain's own notice does. Raises RecipientKeyUnusable or DataKeyUnusable,
    having added nothing, when a bad record stops this one notice."""
    body_json = body.model_dump_json()  # once: sealed to the recipient and kept wrapped
    try:
        recipient_key = _recipient_key(contact.hpke_public_key)
        sealed = seal_notice(header, body, recipient_key, keys.signing, body_json)
    except ValueError as exc:  # not a key, or one no shared secret can be made with
        raise RecipientKeyUnusable("the recipient's key cannot be sealed to") from exc
    sealed_json = sealed.model_dump_json()
    notice_id = str(header.notice_id)
    try:
        kept = wrap(data_keys, header.household, notice_id, "body", body_json)
    except (ValueError, OSError, KeyFileError) as exc:
        raise DataKeyUnusable("the household's data key cannot be used") from exc
    record = NoticeRecordView(
        notice_id=notice_id,
        chain_id=str(chain_id or header.notice_id),
        follows=str(header.follows) if header.follows else None,
        level=header.escalation_level,
        event_id=str(header.event_id),
        household=header.household,
        recipient_id=header.recipient_id,
        recipient_org=header.recipient_org,
        notice_type=header.notice_type.value,
        severity=header.severity.value,
        rule_id=rule_id,
        created_at=header.created_at,
        deadline=header.deadline,
        escalate_to=json.dumps([[a.org_id, a.role.value] for a in escalate_to]),
        reroute_to=json.dumps([reroute_to.org_id, reroute_to.role.value]) if reroute_to else None,
        body=kept,
        closed_at=header.created_at if companion else None,
    )  # fmt: skip
    await uow.notice_records.add([record])
    await uow.outbox.add([OutboxEntry(notice_id, header.recipient_id, header.created_at,
                                      sealed_json)])  # fmt: skip
    return sealed_json


@lru_cache(maxsize=4096)
def _recipient_key(text: str) -> crypto.RecipientPublicKey:
    """A recipient's key as parsed once: the directory's contacts are few, their notices many
    (a key that does not parse raises each time: lru_cache keeps no exception)."""
    return recipient_keys.public_from_text(text)


class Kept(Protocol):
    """What the helpers below read of a notice's record: the ORM row or the port's view
    (``broker.ports.NoticeRecordView``) alike."""

    @property
    def notice_id(self) -> str: ...

    @property
    def household(self) -> str: ...

    @property
    def body(self) -> str: ...

    @property
    def escalate_to(self) -> str: ...

    @property
    def reroute_to(self) -> str | None: ...


def escalation_steps(record: Kept) -> list[Addressee]:
    return [Addressee(org, ContactRole(role)) for org, role in json.loads(record.escalate_to)]


def reroute_target(record: Kept) -> Addressee | None:
    if record.reroute_to is None:
        return None
    org, role = json.loads(record.reroute_to)
    return Addressee(org, ContactRole(role))


def body_of(record: Kept, data_keys: DataKeyStore) -> NoticeBody:
    """The body as sent; ``DataKeyShredded`` once the household's key is gone,
    ``DataKeyUnusable`` when it does not open."""
    text = unwrap(data_keys, record.household, record.notice_id, "body", record.body)
    return NoticeBody.model_validate_json(text)


def wrap(data_keys: DataKeyStore, household: str, notice_id: str, part: str, text: str) -> str:
    stored = data_keys.wrap(household, text.encode(), _context(notice_id, part))
    return crypto.b64encode(stored)


def unwrap(data_keys: DataKeyStore, household: str, notice_id: str, part: str, text: str) -> str:
    stored = crypto.b64decode(text)
    return data_keys.unwrap(household, stored, _context(notice_id, part)).decode()


def _context(notice_id: str, part: str) -> bytes:
    # Binds what is kept to its notice and its part, so rows and columns cannot be swapped.
    return f"sgb/notice-record/v1/{notice_id}/{part}".encode()
