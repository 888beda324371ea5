"""Step-down review reminders on the fakes: scheduled for a lead professional's step-down
notice only, at the review date's working day; sent once to the lead as a notice following
the step-down, chronicled and audited; reminded to nobody when the lead or the household's
key is gone."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from broker.adapters.directory import ContactRecord, OrgRecord, working_hours_of
from broker.keys import KeyStore
from broker.ports import ChronologyLine
from broker.rules.family import Addressee, ContactRole, Decision
from broker.rules.step_down import LEAD, OWNER, REMINDER_RULE, RULE, reminder_at
from broker.services import notice_records, reminders
from broker.services.follow_ups import FollowUpDeps
from producers import crypto
from schemas.notices import FollowUp, NoticeBody, NoticeHeader, NoticeType, Severity
from tests.fakes import FakeDataKeys, FakeUnitOfWork

AT = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
REVIEW_BY = date(2027, 1, 9)  # a Saturday: reminded on the Friday before
BODY = NoticeBody(summary="plan", event_type="service_withdrawal", occurred_at=AT,
                  source_org="la-1")  # fmt: skip
HV_LEAD = Addressee("hv-1", ContactRole.SAFEGUARDING_LEAD)
HV = OrgRecord("hv-1", "Health visiting", "health_visiting", "E09000001", None, None,
               "08:00", "16:00")  # fmt: skip


def contact(contact_id: str, org_id: str) -> ContactRecord:
    public = crypto.encode_public(X25519PrivateKey.generate().public_key())
    return ContactRecord(contact_id, org_id, public, "k")


LEAD_CONTACT = contact("hv-1:lead", "hv-1")


@pytest.fixture(scope="module")
def deps(tmp_path_factory: pytest.TempPathFactory) -> FollowUpDeps:
    return FollowUpDeps(KeyStore.create(Path(tmp_path_factory.mktemp("keys"))), FakeDataKeys())


def a_partnership(with_lead: bool = True) -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    if with_lead:
        uow.recipients.contacts[HV_LEAD] = LEAD_CONTACT.contact_id
        uow.recipients.records[LEAD_CONTACT.contact_id] = LEAD_CONTACT
    uow.recipients.organisations[HV.id] = HV
    return uow


def step_down(role: str, rule_id: str = RULE) -> Decision:
    return Decision(HV_LEAD, NoticeType.PLAN_OWNER, Severity.MEDIUM, rule_id, ("p-1",),
                    {"review_by": REVIEW_BY.isoformat(), "step_down_role": role})  # fmt: skip


def plan_notice(deps: FollowUpDeps) -> NoticeHeader:
    return NoticeHeader(
        notice_id=uuid4(), event_id=uuid4(), household="h-1",
        recipient_id=LEAD_CONTACT.contact_id, recipient_org=HV.id,
        notice_type=NoticeType.PLAN_OWNER, severity=Severity.MEDIUM, created_at=AT,
        deadline=AT + timedelta(days=1), recipient_key_id="k",
        signing_key_id=deps.keys.public.signing_key_id,
    )  # fmt: skip


async def a_step_down(uow: FakeUnitOfWork, deps: FollowUpDeps) -> str:
    """The lead's step-down notice, sealed with its reminder scheduled, in the chronology."""
    notice = plan_notice(deps)
    async with uow:
        front_door = Addressee("la-1", ContactRole.DUTY_MANAGER)
        await notice_records.add(uow, notice, BODY, LEAD_CONTACT, deps.keys, deps.data_keys,
                                 rule_id=RULE, escalate_to=[], reroute_to=front_door)  # fmt: skip
        await reminders.schedule(uow, notice, step_down(LEAD), HV)
    line = ChronologyLine(AT, "notice", str(notice.event_id), "service_withdrawal", "la-1",
                          notice_id=str(notice.notice_id))  # fmt: skip
    uow.chronologies.lines["h-1"] = [line]
    return str(notice.notice_id)


def review_time() -> datetime:
    return reminder_at(REVIEW_BY, working_hours_of(HV), "ENG")


class TestSchedule:
    async def test_the_leads_notice_is_reminded_at_the_review_dates_working_day(
        self, deps: FollowUpDeps
    ) -> None:
        """The lead professional's reminder falls when the rule says, in the lead's hours."""
        uow = a_partnership()
        notice_id = await a_step_down(uow, deps)
        reminder = await uow.plan_reminders.get(notice_id)
        assert reminder is not None
        assert reminder.due_at == review_time()

    @pytest.mark.parametrize(
        "decision",
        [step_down(OWNER), step_down(LEAD, rule_id="withdrawal.gp"),
         Decision(HV_LEAD, NoticeType.PLAN_OWNER, Severity.MEDIUM, RULE, ("p-1",),
                  {"step_down_role": LEAD})],
    )  # fmt: skip
    async def test_nobody_else_is_reminded(self, deps: FollowUpDeps, decision: Decision) -> None:
        """An action owner's notice, another rule's, or a plan with no review date: none."""
        uow, notice = a_partnership(), plan_notice(deps)
        async with uow:
            await reminders.schedule(uow, notice, decision, HV)
        assert await uow.plan_reminders.get(str(notice.notice_id)) is None


class TestSend:
    async def test_the_lead_is_reminded_once_at_review(self, deps: FollowUpDeps) -> None:
        """Due at its time, sent once as a reminder following the step-down notice to the
        lead, with its id kept with the reminder."""
        uow = a_partnership()
        notice_id = await a_step_down(uow, deps)
        async with uow:
            assert await reminders.due(uow, review_time() - timedelta(minutes=1)) == []
            assert await reminders.due(uow, review_time()) == [notice_id]
            sent = await reminders.send(uow, notice_id, deps, review_time())
        async with uow:
            assert await reminders.send(uow, notice_id, deps, review_time()) is None
            assert await reminders.due(uow, review_time()) == []
        record = await uow.notice_records.get(str(sent))
        reminder = await uow.plan_reminders.get(notice_id)
        assert record is not None
        assert reminder is not None
        assert (record.recipient_id, record.follows, record.rule_id) == (
            LEAD_CONTACT.contact_id, notice_id, REMINDER_RULE)  # fmt: skip
        assert reminder.reminder_id == sent

    async def test_the_reminder_is_worded_as_the_plans_review(self, deps: FollowUpDeps) -> None:
        """The plan as the lead received it, worded as its review."""
        uow = a_partnership()
        notice_id = await a_step_down(uow, deps)
        async with uow:
            sent = await reminders.send(uow, notice_id, deps, review_time())
        record = await uow.notice_records.get(str(sent))
        assert record is not None
        body = notice_records.body_of(record, deps.data_keys)
        assert body.summary != BODY.summary
        assert len(body.wording) == len(BODY.wording) + 1

    async def test_the_reminder_is_chronicled_and_audited(self, deps: FollowUpDeps) -> None:
        """It joins the household's chronology as a reminder, and is audited as produced."""
        uow = a_partnership()
        notice_id = await a_step_down(uow, deps)
        async with uow:
            sent = await reminders.send(uow, notice_id, deps, review_time())
        [(household, line)] = await uow.chronologies.of_notice(str(sent))
        assert (household, line.facts) == (
            "h-1", {"follows": notice_id, "follow_up": FollowUp.REMINDER.value,
                    "escalation_level": 0})  # fmt: skip
        assert [e.action for e in await uow.audit.entries_for(str(sent))] == ["notice_produced"]

    async def test_a_lead_who_cannot_be_reached_is_reminded_to_nobody(
        self, deps: FollowUpDeps
    ) -> None:
        """No contact for the lead: nothing is sent, and the reminder is not due again."""
        uow = a_partnership(with_lead=False)
        notice_id = await a_step_down(uow, deps)
        async with uow:
            assert await reminders.send(uow, notice_id, deps, review_time()) is None
        async with uow:
            assert await reminders.due(uow, review_time()) == []

    async def test_a_shredded_household_is_reminded_to_nobody(self, deps: FollowUpDeps) -> None:
        """The household's key is gone: nothing is sent, and the reminder is not due again."""
        uow, data_keys = a_partnership(), FakeDataKeys()
        shredding = FollowUpDeps(deps.keys, data_keys)
        notice_id = await a_step_down(uow, shredding)
        data_keys.shred("h-1")
        async with uow:
            assert await reminders.send(uow, notice_id, shredding, review_time()) is None
        async with uow:
            assert await reminders.due(uow, review_time()) == []
