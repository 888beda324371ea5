"""The demo partnership's neighbour: Newport, in Wales, with a broker of its own. The Carters
move there at the end of the demo's timeline; the two brokers know each other as peers.

Data only, every name invented; Newport's area code is its real ONS code, so that the move
names an authority the table of authorities knows, and the transfer follows Welsh procedure.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from broker.demo import family
from producers import crypto
from producers.broker_keys import BrokerPublicKeys
from schemas.directory import (
    ContactSpec,
    DirectorySpec,
    HouseholdMemberSpec,
    HouseholdSpec,
    OrganisationSpec,
    PersonSpec,
    RegistrationSpec,
    SigningKeySpec,
)
from schemas.peers import PeerSpec

AREA = family.NEIGHBOUR_AREA  # Newport
TITLE = "Newport Safeguarding Children Partnership"
FRONT_DOOR = "newport-front-door"
DUTY_MANAGER = f"{FRONT_DOOR}:duty_manager"
ORGANISATIONS = (
    (FRONT_DOOR, "Newport Children's Services Front Door", "front_door"),
    ("school-glan-yr-afon", "Ysgol Gynradd Glan-yr-Afon", "school"),
    ("gp-usk-vale", "Usk Vale Surgery", "gp_practice"),
)
CONTACTS = (
    (DUTY_MANAGER, FRONT_DOOR, "duty_manager"),
    ("school-glan-yr-afon:key_adult", "school-glan-yr-afon", "key_adult"),
    ("gp-usk-vale:safeguarding_lead", "gp-usk-vale", "safeguarding_lead"),
)
HOUSEHOLD = "h-carter-newport"
# (record id here, NHS number, given name, role, age in days): the demo's Carters.
CARTERS = (
    ("nc-jess", family.MOTHER, "Jess", "parent_or_carer", 31 * 365),
    ("nc-dan", family.FATHER, "Dan", "parent_or_carer", 34 * 365),
    ("nc-leo", family.CHILD_B, "Leo", "child", 5 * 365 + 90),
    ("nc-mia", family.TWIN_1, "Mia", "child", 150),
    ("nc-noah", family.TWIN_2, "Noah", "child", 150),
)
# How each broker is known in the other's directory: the id it signs in as there.
DEMO_AS_PEER = "peer-demo-partnership"
NEIGHBOUR_AS_PEER = "peer-newport"


@dataclass(frozen=True)
class NeighbourKeys:
    """Newport's organisations' signing keys and its recipients' own keys: the neighbour's
    broker holds the public halves only."""

    organisations: dict[str, Ed25519PrivateKey]
    recipients: dict[str, X25519PrivateKey]

    @classmethod
    def made(cls) -> "NeighbourKeys":
        return cls({org: Ed25519PrivateKey.generate() for org, _, _ in ORGANISATIONS},
                   {cid: X25519PrivateKey.generate() for cid, _, _ in CONTACTS})  # fmt: skip


def directory(keys: NeighbourKeys, today: date) -> DirectorySpec:
    """Newport's organisations and recipients, and the Carters as they registered with
    Newport's school and GP before the move: a household in Newport. (A family Newport did
    not know would wait in its front door's matching queue instead.)"""

    def signing(org: str) -> tuple[SigningKeySpec, ...]:
        public = crypto.encode_public(keys.organisations[org].public_key())
        return (SigningKeySpec(public_key=public),)

    return DirectorySpec(
        organisations=tuple(
            OrganisationSpec(id=org, name=name, kind=kind, area=AREA,
                             phone=f"01633 960{i:03d}", signing_keys=signing(org))
            for i, (org, name, kind) in enumerate(ORGANISATIONS)
        ),
        contacts=tuple(
            ContactSpec(id=cid, org_id=org, role=role,
                        hpke_public_key=crypto.encode_public(keys.recipients[cid].public_key()))
            for cid, org, role in CONTACTS
        ),
        people=tuple(
            PersonSpec(id=pid, nhs_number=nhs, given_name=given, family_name="Carter",
                       date_of_birth=today - timedelta(days=days))
            for pid, nhs, given, _, days in CARTERS
        ),
        households=(HouseholdSpec(id=HOUSEHOLD, area=AREA, members=tuple(
            HouseholdMemberSpec(person_id=pid, role=role) for pid, _, _, role, _ in CARTERS
        )),),
        registrations=(
            *(RegistrationSpec(person_id=pid, kind="gp", org_id="gp-usk-vale")
              for pid, *_ in CARTERS),
            RegistrationSpec(person_id="nc-leo", kind="school", org_id="school-glan-yr-afon"),
        ),
    )  # fmt: skip


def peer(name: str, areas: tuple[str, ...], url: str, broker: BrokerPublicKeys,
         peer_id: str, known_there_as: str) -> PeerSpec:  # fmt: skip
    """A broker as the other registers it: what ``sgb peer card`` prints on its side."""
    return PeerSpec(id=peer_id, name=name, areas=areas, gateway_url=url,
                    broker_key=crypto.encode_public(broker.hpke),
                    signing_keys=(SigningKeySpec(public_key=crypto.encode_public(broker.signing)),),
                    known_there_as=known_there_as)  # fmt: skip
