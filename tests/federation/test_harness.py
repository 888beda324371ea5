"""The federation harness itself: two brokers that share one Kafka and one machine and nothing
else. No federation here: each broker routes only its own partnership's events, with its own
keys, into its own inboxes and chronology, and both stop leaving nothing running."""

import httpx
import pytest
from support import fetch_sealed, token_request

from broker.errors import DecryptionFailed, SignatureInvalid
from producers.receiver import NoticeReceiver

from .conftest import Federation
from .harness import Broker
from .partnerships import crisis

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
        assert answer.status_code in (400, 401)


class TestEachBrokersChronology:
    async def test_a_holds_the_morgans_history_and_b_none_of_it(
        self, federation: Federation
    ) -> None:
        """A's chronology of the Morgans holds the history published at set-up; B has no
        household of that name, and its own family's chronology holds none of A's events."""
        a_events = {line["event_id"] for line in await federation.a.chronology()}
        assert set(federation.history) <= a_events
        b_events = {line["event_id"] for line in await federation.b.chronology()}
        assert not set(federation.history) & b_events
        unknown = await federation.b.inbox.get(
            f"/v1/households/{federation.a.partnership.household_id}/chronology"
        )
        assert unknown.status_code in (403, 404)

    async def test_each_chronology_holds_only_its_own_sources(self, federation: Federation) -> None:
        """Every event in each broker's chronology came from one of its own agencies."""
        for broker in (federation.a, federation.b):
            await published_crisis(broker)
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
        receipts = [line for line in lines if line["notice_id"] == listed["notice_id"]
                    and line["kind"] != "notice"]  # fmt: skip
        assert receipts, "the acknowledgement is not in the chronology"
