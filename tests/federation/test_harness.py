"""The federation harness itself: two brokers that share one Kafka and one machine and nothing
else. No federation here: each broker routes only its own partnership's events, with its own
keys, into its own inboxes and chronology, and both stop leaving nothing running."""

from datetime import date

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from support import fetch_sealed

from broker.errors import DecryptionFailed, SignatureInvalid
from producers.auth import token_request
from producers.receiver import NoticeReceiver
from schemas.events import EventType

from .conftest import Federation
from .harness import Broker
from .partnerships import BRISTOL, ENGLAND, NEWPORT, WALES, crisis, move

pytestmark = pytest.mark.federation


def school_key_adult(broker: Broker) -> str:
    child = broker.partnership.member("child")
    assert child.school is not None
    return f"{child.school}:key_adult"


def duty_manager(broker: Broker) -> str:
    return f"{broker.partnership.front_door}:duty_manager"


async def published_crisis(broker: Broker) -> str:
    """A crisis of the broker's own family's parent, published through its gateway."""
    event = crisis(broker.partnership)
    answer = await broker.publish(event)
    assert answer.json()["status"] == "accepted"
    return str(event.event_id)


async def everything_in_inboxes(broker: Broker) -> set[str]:
    """The event id of every notice in every one of the broker's recipients' inboxes."""
    ids: set[str] = set()
    for contact_id, _, _ in broker.partnership.contacts():
        ids |= {item["header"]["event_id"] for item in await broker.notices(contact_id)}
    return ids


class TestEachBrokerRoutesOnlyItsOwn:
    @pytest.mark.parametrize(("here", "there"), [("a", "b"), ("b", "a")])
    async def test_an_event_reaches_its_own_school_readable_with_its_own_keys(
        self, federation: Federation, here: str, there: str
    ) -> None:
        """A crisis published to one broker reaches that partnership's school, which opens
        it with its own key; the other partnership's school key and broker key cannot."""
        home, other = getattr(federation, here), getattr(federation, there)
        event_id = await published_crisis(home)
        school = school_key_adult(home)
        listed = await home.wait_for_notice(school, event_id)

        header, body = await home.open(school, listed["notice_id"])
        assert str(header.event_id) == event_id
        assert header.recipient_id == school
        assert [p.given_name for p in body.about] == [home.partnership.member("child").given_name]
        sealed_elsewhere = NoticeReceiver(other.keys.recipients[school_key_adult(other)],
                                          home.public_keys)  # fmt: skip
        with pytest.raises(DecryptionFailed):
            sealed_elsewhere.open(await fetch_sealed(home.inbox, school, listed["notice_id"]))
        signed_elsewhere = NoticeReceiver(home.keys.recipients[school], other.public_keys)
        with pytest.raises(SignatureInvalid):
            signed_elsewhere.open(await fetch_sealed(home.inbox, school, listed["notice_id"]))

    @pytest.mark.parametrize(("here", "there"), [("a", "b"), ("b", "a")])
    async def test_an_event_never_reaches_the_other_broker(
        self, federation: Federation, here: str, there: str
    ) -> None:
        """Once the event has reached its own front door, it is on no topic, in no inbox and
        in no chronology of the other broker."""
        home, other = getattr(federation, here), getattr(federation, there)
        event_id = await published_crisis(home)
        await home.wait_for_notice(duty_manager(home), event_id)

        assert event_id in await home.event_ids_on_topic()
        assert event_id not in await other.event_ids_on_topic()
        assert event_id not in await everything_in_inboxes(other)
        assert event_id not in {line["event_id"] for line in await other.chronology()}

    @pytest.mark.parametrize(("here", "there"), [("a", "b"), ("b", "a")])
    async def test_one_partnerships_agency_is_refused_at_the_others_gateway(
        self, federation: Federation, here: str, there: str
    ) -> None:
        """An agency of one partnership has no token at the other's gateway: the broker
        does not know its key."""
        home, other = getattr(federation, here), getattr(federation, there)
        agency = home.partnership.mental_health
        async with httpx.AsyncClient(base_url=other.gateway_url) as client:
            request = token_request(httpx.URL(f"{other.gateway_url}/v1/oauth/token"), agency,
                                    home.keys.producers[agency])  # fmt: skip
            answer = await client.send(request)
        assert answer.status_code == 401
        assert answer.json()["error"] == "invalid_client"


class TestEachBrokersChronology:
    async def test_a_holds_the_morgans_history_and_b_none_of_it(
        self, federation: Federation
    ) -> None:
        """A's chronology of the Morgans holds the history published at set-up; B has no
        household of that name to show its front door, and its own family's chronology holds
        none of A's events."""
        a_events = {line["event_id"] for line in await federation.a.chronology()}
        assert set(federation.history) <= a_events
        b_events = {line["event_id"] for line in await federation.b.chronology()}
        assert not set(federation.history) & b_events
        unknown = await federation.b.inbox.get(
            f"/v1/households/{federation.a.partnership.household_id}/chronology"
        )
        assert unknown.status_code == 403

    async def test_each_chronology_holds_only_its_own_sources(self, federation: Federation) -> None:
        """Every event in each broker's chronology came from one of its own agencies."""
        for broker in (federation.a, federation.b):
            await broker.wait_for_notice(duty_manager(broker), await published_crisis(broker))
        for broker in (federation.a, federation.b):
            own = {org for org, _, _ in broker.partnership.organisations}
            sources = {line["source_org"] for line in await broker.chronology()}
            assert sources <= own

    async def test_a_recipients_acknowledgement_shows_in_its_own_chronology(
        self, federation: Federation
    ) -> None:
        """The front door acknowledges a notice: the receipt is in that broker's chronology."""
        a = federation.a
        event_id = await published_crisis(a)
        listed = await a.wait_for_notice(duty_manager(a), event_id)
        assert (await a.acknowledge(duty_manager(a), listed["notice_id"]))["first_acknowledgement"]
        lines = await a.chronology()
        kinds = [line["kind"] for line in lines if line["notice_id"] == listed["notice_id"]]
        assert "acknowledged" in kinds


class TestEachBrokersKeysAndAdministration:
    def test_the_two_brokers_share_no_key(self, federation: Federation) -> None:
        """Broker, agency and recipient keys are each broker's own: no public key of one is
        a key of the other."""
        a, b = federation.a, federation.b
        assert a.hpke_public_key != b.hpke_public_key
        assert a.signing_public_key != b.signing_public_key
        assert not {_public(k) for k in a.keys.producers.values()} & {
            _public(k) for k in b.keys.producers.values()
        }
        assert not {_public(k) for k in a.keys.recipients.values()} & {
            _public(k) for k in b.keys.recipients.values()
        }

    def test_each_broker_describes_itself_as_a_peer_with_its_own_gateway_and_keys(
        self, federation: Federation
    ) -> None:
        """What the other registers: the broker's area, gateway and keys, and the name it
        knows the other by."""
        b_there = federation.b.as_peer(known_there_as="peer-a")
        assert b_there["areas"] == [BRISTOL]
        assert b_there["gateway_url"] == federation.b.gateway_url
        assert b_there["broker_key"] == federation.b.hpke_public_key
        assert b_there["signing_keys"] == [{"public_key": federation.b.signing_public_key}]
        assert b_there["known_there_as"] == "peer-a"

    @pytest.mark.parametrize(("here", "there"), [("a", "b"), ("b", "a")])
    async def test_each_admin_api_answers_its_own_administrator_only(
        self, federation: Federation, here: str, there: str
    ) -> None:
        """The front door administers its own broker's directory, and is unknown at the
        other's admin API."""
        home, other = getattr(federation, here), getattr(federation, there)
        assert (await home.admin.get("/v1/admin/changes")).status_code == 200
        front_door = home.partnership.front_door
        request = token_request(httpx.URL(f"{other.admin_url}/v1/oauth/token"), front_door,
                                home.keys.producers[front_door])  # fmt: skip
        async with httpx.AsyncClient() as client:
            assert (await client.send(request)).status_code in (400, 401)


class TestTheMorgansMove:
    def test_the_move_names_bs_area_school_and_gp_and_owens_plan(self) -> None:
        """The move A's front door reports: from Newport to Bristol, the whole household,
        Owen's child protection plan, the school he leaves and the ones he joins."""
        event = move(WALES, ENGLAND, date(2027, 1, 11))
        assert event.event_type == EventType.FAMILY_MOVING_AREA
        assert (event.from_authority, event.to_authority) == (NEWPORT, BRISTOL)
        assert {m.nhs_number for m in event.members} == {m.nhs_number for m in WALES.members}
        [plan] = event.plans
        assert plan.child.nhs_number == WALES.member("child").nhs_number
        assert (event.previous_school, event.new_school, event.new_gp) == (
            "school-glan-yr-afon", "school-avonside", "gp-harbourside",
        )  # fmt: skip


def _public(key: Ed25519PrivateKey | X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes_raw()
