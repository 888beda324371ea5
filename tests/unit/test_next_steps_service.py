"""Next steps on the fakes: a front door's decision is recorded once and acknowledges its
notice, the referring agency is told of it once, and a step overdue in an acknowledged chain
is escalated once to whoever must chase it."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from broker.adapters.directory import ContactRecord, OrgRecord
from broker.keys import KeyStore
from broker.ports import ChronologyLine, StepOwed
from broker.rules.family import Addressee, ContactRole
from broker.services import next_steps, notice_records
from broker.services.follow_ups import FollowUpDeps
from broker.services.inbox import NoticeNotFound
from producers import crypto
from schemas.notices import (
    FollowUp,
    NextStep,
    NoticeBody,
    NoticeHeader,
    NoticeType,
    ReferralOutcome,
    SealedNotice,
    Severity,
)
from tests.fakes import FakeDataKeys, FakeUnitOfWork

AT = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)  # a Monday, in the front door's hours
LATER = AT + timedelta(days=3)
DECISION = NextStep.DECISION.value
BODY = NoticeBody(summary="s", event_type="parent_crisis", occurred_at=AT, source_org="police-1")
DOOR_LEAD = Addressee("la-1", ContactRole.SAFEGUARDING_LEAD)
POLICE_LEAD = Addressee("police-1", ContactRole.SAFEGUARDING_LEAD)


def contact(contact_id: str, org_id: str) -> ContactRecord:
    public = crypto.encode_public(X25519PrivateKey.generate().public_key())
    return ContactRecord(contact_id, org_id, public, "k")


DOOR = contact("la-1:fd", "la-1")
LA_LEAD = contact("la-1:lead", "la-1")
POLICE = contact("police-1:lead", "police-1")


@pytest.fixture(scope="module")
def deps(tmp_path_factory: pytest.TempPathFactory) -> FollowUpDeps:
    return FollowUpDeps(KeyStore.create(Path(tmp_path_factory.mktemp("keys"))), FakeDataKeys())


def a_partnership(with_referrer: bool = True) -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    people = [(DOOR_LEAD, LA_LEAD)] + ([(POLICE_LEAD, POLICE)] if with_referrer else [])
    uow.recipients.contacts |= {a: c.contact_id for a, c in people}
    uow.recipients.records |= {c.contact_id: c for _, c in people}
    for org_id, kind in [("la-1", "front_door"), ("police-1", "police")]:
        uow.recipients.organisations[org_id] = OrgRecord(org_id, org_id.upper(), kind,
                                                         "E09000001", "01632 960000", None,
                                                         "09:00", "17:00")  # fmt: skip
    return uow


async def a_referral(uow: FakeUnitOfWork, deps: FollowUpDeps) -> str:
    """A referral to the front door, in the family's chronology, owing a decision by AT."""
    told = NoticeHeader(
        notice_id=uuid4(), event_id=uuid4(), household="h-1", recipient_id=DOOR.contact_id,
        recipient_org=DOOR.org_id, notice_type=NoticeType.FRONT_DOOR_REFERRAL,
        severity=Severity.HIGH, created_at=AT - timedelta(days=1), deadline=AT,
        recipient_key_id="k", signing_key_id=deps.keys.public.signing_key_id,
    )  # fmt: skip
    notice_id = str(told.notice_id)
    async with uow:
        await notice_records.add(uow, told, BODY, DOOR, deps.keys, deps.data_keys,
                                 rule_id="crisis.front_door", escalate_to=[],
                                 reroute_to=DOOR_LEAD)  # fmt: skip
        await uow.steps_owed.add([StepOwed(notice_id, DECISION, notice_id, AT)])
    uow.chronologies.lines["h-1"] = [
        ChronologyLine(AT, "event", str(told.event_id), "parent_crisis", "police-1")
    ]
    return notice_id


async def decided(uow: FakeUnitOfWork, notice_id: str, deps: FollowUpDeps) -> None:
    async with uow:
        await next_steps.record_step(uow, "la-1", notice_id, NextStep.DECISION,
                                     ReferralOutcome.ASSESSMENT, AT, deps)  # fmt: skip


class TestRecordStep:
    async def test_a_decision_acknowledges_the_notice_and_waits_to_be_told(
        self, deps: FollowUpDeps
    ) -> None:
        """The decision is met by the front door, acknowledges its notice, is audited, and
        waits for the timer to tell the referrer."""
        uow = a_partnership()
        notice_id = await a_referral(uow, deps)
        await decided(uow, notice_id, deps)
        record = await uow.notice_records.get(notice_id)
        assert record is not None
        assert record.acknowledged_at == AT
        async with uow:
            assert await next_steps.due_for_telling(uow) == [(notice_id, DECISION)]
        actions = [e.action for e in await uow.audit.entries_for(notice_id)]
        assert "next_step_recorded" in actions

    async def test_the_same_decision_again_is_answered_as_before(self, deps: FollowUpDeps) -> None:
        """Recorded once: the same decision again is not the first, at its first time."""
        uow = a_partnership()
        notice_id = await a_referral(uow, deps)
        await decided(uow, notice_id, deps)
        async with uow:
            again = await next_steps.record_step(
                uow, "la-1", notice_id, NextStep.DECISION, ReferralOutcome.ASSESSMENT, LATER, deps
            )
        assert (again.first, again.at) == (False, AT)

    async def test_a_different_decision_is_refused(self, deps: FollowUpDeps) -> None:
        """A decision contradicting the one recorded is refused."""
        uow = a_partnership()
        notice_id = await a_referral(uow, deps)
        await decided(uow, notice_id, deps)
        with pytest.raises(next_steps.StepRefused):
            async with uow:
                await next_steps.record_step(uow, "la-1", notice_id, NextStep.DECISION,
                                             ReferralOutcome.EARLY_HELP, LATER, deps)  # fmt: skip

    @pytest.mark.parametrize(
        ("step", "outcome"),
        [(NextStep.TRANSFER_IN_CONFERENCE, None), (NextStep.DECISION, None),
         (NextStep.TRANSFER_IN_CONFERENCE, ReferralOutcome.ASSESSMENT)],
    )  # fmt: skip
    async def test_a_step_not_owed_or_malformed_is_refused(
        self, deps: FollowUpDeps, step: NextStep, outcome: ReferralOutcome | None
    ) -> None:
        """A step the notice does not owe, or an outcome on anything but a decision (or none
        on a decision), is refused and records nothing."""
        uow = a_partnership()
        notice_id = await a_referral(uow, deps)
        with pytest.raises(next_steps.StepRefused):
            async with uow:
                await next_steps.record_step(uow, "la-1", notice_id, step, outcome, AT, deps)
        async with uow:
            assert await next_steps.due_for_telling(uow) == []

    async def test_another_front_doors_notice_is_not_found(self, deps: FollowUpDeps) -> None:
        """A front door records steps only on its own notices."""
        uow = a_partnership()
        notice_id = await a_referral(uow, deps)
        with pytest.raises(NoticeNotFound):
            async with uow:
                await next_steps.record_step(uow, "la-2", notice_id, NextStep.DECISION,
                                             ReferralOutcome.ASSESSMENT, AT, deps)  # fmt: skip


class TestTellReferrer:
    async def test_the_referrer_is_told_the_decision_once(self, deps: FollowUpDeps) -> None:
        """The referring agency's safeguarding lead gets an outcome notice following the
        referral, once however often the timer asks."""
        uow = a_partnership()
        notice_id = await a_referral(uow, deps)
        await decided(uow, notice_id, deps)
        async with uow:
            told = await next_steps.tell_referrer(uow, notice_id, DECISION, deps, LATER)
        async with uow:
            again = await next_steps.tell_referrer(uow, notice_id, DECISION, deps, LATER)
        assert again is None
        record = await uow.notice_records.get(str(told))
        assert record is not None
        assert (record.recipient_id, record.notice_type, record.follows) == (
            POLICE.contact_id, NoticeType.OUTCOME.value, notice_id)  # fmt: skip

    async def test_the_outcome_says_the_decision_and_when_it_was_acknowledged(
        self, deps: FollowUpDeps
    ) -> None:
        """The outcome's body carries the decision, the front door, and the acknowledgement."""
        uow = a_partnership()
        notice_id = await a_referral(uow, deps)
        await decided(uow, notice_id, deps)
        async with uow:
            told = await next_steps.tell_referrer(uow, notice_id, DECISION, deps, LATER)
        record = await uow.notice_records.get(str(told))
        assert record is not None
        facts = notice_records.body_of(record, deps.data_keys).facts
        assert (facts["outcome"], facts["decided_by"], facts["acknowledged_at"]) == (
            "assessment", "LA-1", AT.isoformat())  # fmt: skip

    async def test_a_referrer_with_no_contact_is_not_told_and_that_is_audited(
        self, deps: FollowUpDeps
    ) -> None:
        """No contact for the referring agency: nothing is sent, the audit log says why, and
        the decision is not told again."""
        uow = a_partnership(with_referrer=False)
        notice_id = await a_referral(uow, deps)
        await decided(uow, notice_id, deps)
        async with uow:
            assert await next_steps.tell_referrer(uow, notice_id, DECISION, deps, LATER) is None
            assert await next_steps.due_for_telling(uow) == []
        actions = [e.action for e in await uow.audit.entries_for(notice_id)]
        assert "outcome_not_told" in actions


class TestOverdue:
    async def test_an_unacknowledged_referral_is_chased_by_its_own_escalation(
        self, deps: FollowUpDeps
    ) -> None:
        """Until someone acknowledges it, the notice's own escalation chases it: its step is
        not overdue."""
        uow = a_partnership()
        await a_referral(uow, deps)
        async with uow:
            assert await next_steps.due_overdue(uow, LATER) == []

    async def test_an_overdue_decision_escalates_once_to_the_safeguarding_lead(
        self, deps: FollowUpDeps
    ) -> None:
        """Acknowledged but undecided past its time: escalated once to the notice's re-route
        target, as an escalation following the referral, and audited."""
        uow = a_partnership()
        notice_id = await a_referral(uow, deps)
        async with uow:
            assert await uow.notice_records.mark_acknowledged(notice_id, AT)
        async with uow:
            assert await next_steps.due_overdue(uow, LATER) == [(notice_id, DECISION)]
            chase = await next_steps.escalate_overdue(uow, notice_id, DECISION, deps, LATER)
        async with uow:
            again = await next_steps.escalate_overdue(uow, notice_id, DECISION, deps, LATER)
        assert again is None
        record = await uow.notice_records.get(str(chase))
        assert record is not None
        assert (record.recipient_id, record.follows, record.level) == (
            LA_LEAD.contact_id, notice_id, 1)  # fmt: skip
        [waiting] = await uow.outbox.unpublished_of([str(chase)])
        sealed = SealedNotice.model_validate_json(waiting.sealed)
        assert NoticeHeader.model_validate_json(sealed.header).follow_up == FollowUp.ESCALATION
        actions = [e.action for e in await uow.audit.entries_for(notice_id)]
        assert "next_step_overdue" in actions
