"""A contact's alert channels, set and read as directory records are: each change logged
in the directory's change log and audited, naming the field (``alert_channels``), never an
address. Set through the admin API, ``sgb contact alerts`` or a CSV file of them."""

from collections.abc import Mapping
from datetime import datetime

from broker.ports import UnitOfWork
from broker.rules.alerts import ChannelKind
from broker.services.directory_changes import Outcome, record
from broker.services.directory_writes import require
from schemas.alerts import AlertChannelsSpec

ENTITY, FIELD = "contact", "alert_channels"


async def set_channels(
    uow: UnitOfWork, contact_id: str, spec: AlertChannelsSpec, actor: str, now: datetime
) -> Outcome:
    """Makes ``spec`` the contact's channels; ``MissingReference`` for a contact the
    directory lacks."""
    await require(uow, "contacts", "contact", contact_id)
    pairs = [(ChannelKind.EMAIL.value, email) for email in spec.emails]
    if spec.mobile:
        pairs.append((ChannelKind.SMS.value, spec.mobile))
    if not await uow.alert_channels.replace(contact_id, pairs):
        return "unchanged"
    await record(uow, actor, ENTITY, contact_id, "updated", [FIELD], at=now)
    return "updated"


async def set_many(
    uow: UnitOfWork, specs: Mapping[str, AlertChannelsSpec], actor: str, now: datetime
) -> dict[str, int]:
    """Each contact's channels set in one transaction (a CSV file's); answers the counts of
    each outcome. Contacts the file leaves out keep theirs."""
    counts: dict[str, int] = {}
    for contact_id, spec in specs.items():
        outcome = await set_channels(uow, contact_id, spec, actor, now)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


async def channels_of(uow: UnitOfWork, contact_id: str) -> AlertChannelsSpec:
    """The contact's channels as a spec (``MissingReference`` for an unknown contact)."""
    await require(uow, "contacts", "contact", contact_id)
    rows = await uow.alert_channels.of_contacts([contact_id])
    emails = tuple(r.address for r in rows if r.kind == ChannelKind.EMAIL)
    mobile = next((r.address for r in rows if r.kind == ChannelKind.SMS), None)
    return AlertChannelsSpec(emails=emails, mobile=mobile)
