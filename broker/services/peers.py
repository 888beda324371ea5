"""Registering a peer broker: its organisation, the contact its transfers go to, its gateway
and the areas it serves, each write in the directory's change log and audited.

A peer new to the directory is applied at once, as an import applies a new organisation. A
peer on record whose signing keys or broker key change is held for an administrator's
approval, as any organisation's key change is (``key_changes``): its keys rotate the same way.
The areas and the gateway are logged as a change of the organisation, so that every router's
copy of the directory reads the front-door map again (an area a peer serves is reached through
the peer, unless the partnership has its own front door there).

The peer's gateway (transfers and tokens go there) and its recipient API (receipts) pass the
webhook address check (``broker.delivery.webhook_targets``): an address in the broker's own
machine or network is refused at registration, unless ``webhook_networks`` allows it (loopback,
in tests and local development); a name is judged once resolved, at each request
(``broker.adapters.peer_tokens``).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from broker.delivery.webhook_targets import Network, refused_host
from broker.errors import DirectoryError
from broker.ports import UnitOfWork
from broker.rules.actors import Actor
from broker.services import directory_admin as admin
from broker.services import key_changes
from broker.services.directory_changes import Delta, Outcome
from broker.services.directory_writes import find, log, put_row, replace_rows
from schemas.directory import ContactSpec, OrganisationSpec
from schemas.peers import PEER_CONTACT_ROLE, PeerSpec, peer_contact_id

PEER_KIND = "peer_broker"


class AreaServed(DirectoryError):
    """An area another peer serves already: a move there could go to only one of them."""

    field = "areas"

    def __init__(self, area: str, peer: str) -> None:
        super().__init__(f"area {area} is served by peer {peer!r} already")


class NotAPeer(DirectoryError):
    """The id names an organisation of another kind."""

    field = "id"

    def __init__(self, org_id: str) -> None:
        super().__init__(f"organisation {org_id!r} is not a peer broker")


class UnsafePeerUrl(DirectoryError):
    """A peer's URL pointing where the broker may not send: named by field, never quoted."""

    def __init__(self, org_id: str, field: str) -> None:
        self.field = field
        super().__init__(
            f"peer {org_id!r}: this {field} points at a loopback, private, link-local or "
            "reserved address; give a public https endpoint"
        )


@dataclass(frozen=True)
class Registered:
    """What registering did: each record's outcome, and the key changes held for approval."""

    outcome: Outcome
    pending: list[str] = field(default_factory=list)  # key change ids


async def register_peer(
    uow: UnitOfWork, spec: PeerSpec, actor: Actor, now: datetime,
    webhook_networks: Sequence[Network] = (),
) -> Registered:  # fmt: skip
    """Creates the peer or brings it up to ``spec``; its areas and gateway are applied at
    once, its keys at once when it is new and after approval when they change."""
    existing = await find(uow, "organisations", {"id": spec.id})
    if existing is not None and existing["kind"] != PEER_KIND:
        raise NotAPeer(spec.id)
    check_addresses(spec, webhook_networks)
    await _check_areas(uow, spec)
    organisation, contact = _records(spec)
    outcomes: list[Outcome | key_changes.Pending]
    if existing is None:
        name = actor.name  # the directory's log names the actor as before; keys are held typed
        outcomes = [await admin.put_organisation(uow, organisation, name),
                    await admin.put_contact(uow, contact, name, webhook_networks)]  # fmt: skip
    else:
        outcomes = [await key_changes.put_organisation(uow, organisation, actor, now),
                    await key_changes.put_contact(uow, contact, actor, now,
                                                  webhook_networks)]  # fmt: skip
    pending = [o.change_id for o in outcomes if isinstance(o, key_changes.Pending)]
    delta = await _put_gateway_and_areas(uow, spec)
    peer_outcome = await log(uow, actor.name, "organisation", spec.id, delta)
    done = [o for o in outcomes if not isinstance(o, key_changes.Pending)] + [peer_outcome]

    return Registered(_overall(done, created=existing is None), pending)


def check_addresses(spec: PeerSpec, webhook_networks: Sequence[Network] = ()) -> None:
    """Raises ``UnsafePeerUrl`` for the first of the peer's URLs whose host is an address the
    broker may not reach (a name passes here: it is judged at each request, once resolved)."""
    for name, url in (("gateway_url", spec.gateway_url), ("api_url", spec.recipients_api_url)):
        host = urlsplit(url).hostname
        if host and refused_host(host, webhook_networks):
            raise UnsafePeerUrl(spec.id, name)


def _records(spec: PeerSpec) -> tuple[OrganisationSpec, ContactSpec]:
    """The peer as an organisation (its first area its own) and its one contact."""
    organisation = OrganisationSpec(id=spec.id, name=spec.name, kind=PEER_KIND,
                                    area=spec.areas[0], phone=spec.phone,
                                    signing_keys=spec.signing_keys)  # fmt: skip
    contact = ContactSpec(id=peer_contact_id(spec.id), org_id=spec.id, role=PEER_CONTACT_ROLE,
                          hpke_public_key=spec.broker_key,
                          webhook_url=spec.transfers_url)  # fmt: skip
    return organisation, contact


async def _check_areas(uow: UnitOfWork, spec: PeerSpec) -> None:
    served = await uow.directory_rows.select_in("peer_areas", "area", spec.areas)
    for row in served:
        if row["org_id"] != spec.id:
            raise AreaServed(row["area"], row["org_id"])


async def _put_gateway_and_areas(uow: UnitOfWork, spec: PeerSpec) -> Delta:
    values = {"gateway_url": spec.gateway_url, "api_url": spec.recipients_api_url,
              "known_there_as": spec.known_there_as}  # fmt: skip
    delta = await put_row(uow, "peers", {"org_id": spec.id}, values)
    areas = [{"org_id": spec.id, "area": area} for area in sorted(spec.areas)]
    if await replace_rows(uow, "peer_areas", "org_id", spec.id, areas):
        delta.fields.append("peer_areas")
    delta.fields[:] = [f"peer_{name}" if name in values else name for name in delta.fields]
    delta.created = False  # the organisation's own change records its creation
    return delta


def _overall(outcomes: list[Outcome], created: bool) -> Outcome:
    if created:
        return "created"
    return "updated" if any(o != "unchanged" for o in outcomes) else "unchanged"
