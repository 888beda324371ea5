"""Escalation and re-routing on the fakes: a notice past its deadline escalates once, to the
next step of its chain, into its households' chronologies and the audit log; a chain with
nobody left alerts the authority's lead and shows in the data-quality report; a rejected
notice is sent on to the front door once."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from broker.adapters.data_quality import Gap
from broker.adapters.directory import ContactRecord, OrgRecord
from broker.keys import KeyStore
from broker.ports import ChronologyLine
from broker.rules.family import Addressee, ContactRole
from broker.services import follow_ups, notice_records
from producers import crypto
from schemas.notices import NoticeBody, NoticeHeader, NoticeType, Severity
from tests.fakes import FakeDataKeys, FakeUnitOfWork

AT = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)  # a Monday, in the front door's hours
LATER = AT + timedelta(days=2)
LEAD = Addressee("la-1", ContactRole.SAFEGUARDING_LEAD)
DUTY = Addressee("la-1", ContactRole.DUTY_MANAGER)
BODY = NoticeBody(summary="s", event_type="ed_attendance", occurred_at=AT, source_org="a-1")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    return KeyStore.create(Path(tmp_path_factory.mktemp("keys")))


def contact(contact_id: str, org_id: str) -> ContactRecord:
    public = crypto.encode_public(X25519PrivateKey.generate().public_key())
    return ContactRecord(contact_id, org_id, public, "k")


GP = contact("gp-1:lead", "gp-1")
LA_LEAD = contact("la-1:lead", "la-1")
LA_DUTY = contact("la-1:duty", "la-1")


def a_partnership(with_duty: bool = True) -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    people = [(LEAD, LA_LEAD)] + ([(DUTY, LA_DUTY)] if with_duty else [])
    uow.recipients.contacts |= {a: c.contact_id for a, c in people}
    uow.recipients.records |= {c.contact_id: c for _, c in people}
    uow.recipients.front_doors["la-1"] = "E09000001"
    uow.recipients.organisations["la-1"] = OrgRecord("la-1", "LA", "front_door", "E09000001",
                                                     None, None, "09:00", "17:00")  # fmt: skip
    return uow


async def a_first_notice(
    uow: FakeUnitOfWork, deps: follow_ups.FollowUpDeps, escalate_to: list[Addressee]
) -> NoticeHeader:
    keys = deps.keys
    told = NoticeHeader(
        notice_id=uuid4(), event_id=uuid4(), household="h-1", recipient_id=GP.contact_id,
        recipient_org=GP.org_id, notice_type=NoticeType.GP_INFORMATION, severity=Severity.HIGH,
        created_at=AT, deadline=AT + timedelta(days=1), recipient_key_id="k",
        signing_key_id=keys.public.signing_key_id,
    )  # fmt: skip
    async with uow:
        await notice_records.add(uow, told, BODY, GP, keys, deps.data_keys, rule_id="ed.gp",
                                 escalate_to=escalate_to, reroute_to=DUTY)  # fmt: skip
    uow.chronologies.lines["h-1"] = [ChronologyLine(AT, "notice", str(told.event_id),
                                                    "ed_attendance", "a-1",
                                                    notice_id=str(told.notice_id))]  # fmt: skip
    return told


class TestEscalate:
    async def test_a_lapsed_notice_escalates_once_to_the_next_step(self, keys: KeyStore) -> None:
        """Past its deadline, the notice goes to the first step of its chain, once."""
        uow, deps = a_partnership(), follow_ups.FollowUpDeps(keys, FakeDataKeys())
        told = await a_first_notice(uow, deps, [LEAD])
        async with uow:
            assert await follow_ups.due_for_escalation(uow, LATER) == [str(told.notice_id)]
            escalation = await follow_ups.escalate(uow, str(told.notice_id), deps, LATER)
        async with uow:
            again = await follow_ups.escalate(uow, str(told.notice_id), deps, LATER)
        assert escalation is not None
        assert again is None
        record = await uow.notice_records.get(escalation)
        assert record is not None
        assert (record.recipient_id, record.level, record.follows) == (
            LA_LEAD.contact_id, 1, str(told.notice_id))  # fmt: skip

    async def test_the_escalation_is_chronicled_and_audited(self, keys: KeyStore) -> None:
        """The escalation joins the first notice's household chronology, and the audit log
        records it as produced and as the notice's escalation."""
        uow, deps = a_partnership(), follow_ups.FollowUpDeps(keys, FakeDataKeys())
        told = await a_first_notice(uow, deps, [LEAD])
        async with uow:
            escalation = await follow_ups.escalate(uow, str(told.notice_id), deps, LATER)
        [line] = await uow.chronologies.of_notice(str(escalation))
        assert line[0] == "h-1"
        assert (line[1].recipient_id, line[1].facts) == (
            LA_LEAD.contact_id,
            {"follows": str(told.notice_id), "follow_up": "escalation", "escalation_level": 1},
        )
        assert [e.action for e in await uow.audit.entries_for(str(told.notice_id))] == [
            "notice_escalated"]  # fmt: skip
        assert [e.action for e in await uow.audit.entries_for(str(escalation))] == [
            "notice_produced"]  # fmt: skip

    async def test_a_chain_with_nobody_left_alerts_the_lead(self, keys: KeyStore) -> None:
        """Nobody left to escalate to: the authority's safeguarding lead is alerted (in its
        hours) and the data-quality report shows the exhausted chain."""
        uow, deps = a_partnership(), follow_ups.FollowUpDeps(keys, FakeDataKeys())
        told = await a_first_notice(uow, deps, [])
        async with uow:
            alert = await follow_ups.escalate(uow, str(told.notice_id), deps, LATER)
        record = await uow.notice_records.get(str(alert))
        assert record is not None
        assert (record.recipient_id, record.notice_type) == (
            LA_LEAD.contact_id, NoticeType.FRONT_DOOR_REFERRAL.value)  # fmt: skip
        assert [i.gap for i, _ in uow.data_quality.committed] == [Gap.ESCALATION_EXHAUSTED]

    async def test_a_failed_round_leaves_the_notice_due(self, keys: KeyStore) -> None:
        """An escalation whose unit of work fails keeps nothing: the notice is due again."""
        uow, deps = a_partnership(), follow_ups.FollowUpDeps(keys, FakeDataKeys())
        told = await a_first_notice(uow, deps, [LEAD])
        try:
            async with uow:
                await follow_ups.escalate(uow, str(told.notice_id), deps, LATER)
                raise RuntimeError("the commit fails")
        except RuntimeError:
            pass
        async with uow:
            assert await follow_ups.due_for_escalation(uow, LATER) == [str(told.notice_id)]


class TestReroute:
    async def test_a_rejected_notice_goes_to_the_front_door_once(self, keys: KeyStore) -> None:
        """Sent on to its front door contact with the reason, once however often asked."""
        uow, deps = a_partnership(), follow_ups.FollowUpDeps(keys, FakeDataKeys())
        told = await a_first_notice(uow, deps, [LEAD])
        notice_id = str(told.notice_id)
        reason = notice_records.wrap(deps.data_keys, "h-1", notice_id, "rejection_reason", "no")
        async with uow:
            assert await uow.notice_records.mark_rejected(notice_id, AT, reason)
        async with uow:
            assert await follow_ups.due_for_reroute(uow) == [notice_id]
            rerouted = await follow_ups.reroute_pending(uow, notice_id, deps)
        async with uow:
            assert await follow_ups.reroute_pending(uow, notice_id, deps) is None
        assert rerouted == follow_ups.reroute_id(notice_id)
        record = await uow.notice_records.get(rerouted)
        assert record is not None
        assert (record.recipient_id, record.notice_type) == (
            LA_DUTY.contact_id, NoticeType.FRONT_DOOR_REFERRAL.value)  # fmt: skip
