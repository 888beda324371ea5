"""The ports' parts the router's timer uses for follow-ups: which notices are due to
escalate or be sent on, each claimed once; a contact with its key and an organisation's
record; a notice's chronology lines copied to a follow-up; data-quality gaps kept on commit."""

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from broker.adapters import db
from broker.adapters.data_quality import Gap, Issue, ReportLine
from broker.adapters.directory import ContactRecord, OrgRecord
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.ports import ChronologyLine, NoticeRecordView, UnitOfWork
from broker.rules.family import Addressee, ContactRole
from tests.contracts.conftest import UnitsOfWork
from tests.contracts.test_notice_records import AT, record
from tests.fakes import FakeUnitOfWork

DAY = timedelta(days=1)
NO_LEAD = timedelta(0)


def due(n: int, deadline_in: timedelta, **changes: Any) -> NoticeRecordView:
    return replace(record(n), deadline=AT + deadline_in, **changes)


class TestEscalationsDue:
    async def test_open_notices_past_deadline_oldest_first(self, unit_of_work: UnitsOfWork) -> None:
        """Past its deadline and open: due, oldest deadline first; not yet due, not listed."""
        async with unit_of_work() as uow:
            await uow.notice_records.add([due(1, -DAY), due(2, -2 * DAY), due(3, DAY)])
        async with unit_of_work() as uow:
            listed = await uow.notice_records.due_for_escalation(AT, NO_LEAD, 10)
        assert listed == [record(2).notice_id, record(1).notice_id]

    async def test_settled_notices_are_not_due(self, unit_of_work: UnitsOfWork) -> None:
        """Rejected, closed or escalated notices, and any in an acknowledged chain, wait for
        nobody."""
        async with unit_of_work() as uow:
            await uow.notice_records.add([
                due(4, -DAY, rejected_at=AT), due(5, -DAY, closed_at=AT),
                due(6, -DAY, escalated_at=AT), due(7, -DAY),
                replace(record(8, chain=7), acknowledged_at=AT),
            ])  # fmt: skip
        async with unit_of_work() as uow:
            assert await uow.notice_records.due_for_escalation(AT, NO_LEAD, 10) == []

    async def test_a_schools_first_notice_is_due_its_lead_early(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """A school's own notice escalates ``school_lead`` before its deadline; an escalation
        of one, and any other kind of notice, at its deadline."""
        school = {"notice_type": "school_support"}
        async with unit_of_work() as uow:
            await uow.notice_records.add([
                due(9, timedelta(hours=1), **school), due(10, timedelta(hours=1)),
                replace(record(11, chain=9), deadline=AT + timedelta(hours=1), **school),
            ])  # fmt: skip
        async with unit_of_work() as uow:
            listed = await uow.notice_records.due_for_escalation(AT, timedelta(hours=2), 10)
        assert listed == [record(9).notice_id]

    async def test_at_most_the_limit(self, unit_of_work: UnitsOfWork) -> None:
        """A round takes no more than its batch."""
        async with unit_of_work() as uow:
            await uow.notice_records.add([due(n, -n * DAY) for n in range(12, 15)])
        async with unit_of_work() as uow:
            listed = await uow.notice_records.due_for_escalation(AT, NO_LEAD, 2)
        assert listed == [record(14).notice_id, record(13).notice_id]

    async def test_a_notice_is_claimed_once(self, unit_of_work: UnitsOfWork) -> None:
        """The first claim marks it escalated; a second, or one of a notice not due, fails."""
        async with unit_of_work() as uow:
            await uow.notice_records.add([due(15, -DAY), due(16, DAY)])
        async with unit_of_work() as uow:
            assert await uow.notice_records.claim_escalation(record(15).notice_id, AT, NO_LEAD)
            assert not await uow.notice_records.claim_escalation(record(16).notice_id, AT, NO_LEAD)
        async with unit_of_work() as uow:
            assert not await uow.notice_records.claim_escalation(record(15).notice_id, AT, NO_LEAD)
            kept = await uow.notice_records.get(record(15).notice_id)
        assert kept is not None
        assert kept.escalated_at == AT


class TestReroutesDue:
    async def test_rejected_notices_wait_oldest_first(self, unit_of_work: UnitsOfWork) -> None:
        """Notices waiting to be sent on, by the time of their rejection."""
        async with unit_of_work() as uow:
            await uow.notice_records.add([
                replace(record(17), reroute_pending_since=AT),
                replace(record(18), reroute_pending_since=AT - DAY), record(19),
            ])  # fmt: skip
        async with unit_of_work() as uow:
            listed = await uow.notice_records.due_for_reroute(10)
        assert listed == [record(18).notice_id, record(17).notice_id]

    async def test_a_rejected_notice_is_taken_once(self, unit_of_work: UnitsOfWork) -> None:
        """Taking it answers the record as it waited and clears the wait, once."""
        waiting = replace(record(20), reroute_pending_since=AT)
        async with unit_of_work() as uow:
            await uow.notice_records.add([waiting])
        async with unit_of_work() as uow:
            assert await uow.notice_records.take_reroute(waiting.notice_id) == waiting
        async with unit_of_work() as uow:
            assert await uow.notice_records.take_reroute(waiting.notice_id) is None
            assert await uow.notice_records.take_reroute("nothing") is None
            assert await uow.notice_records.due_for_reroute(10) == []


LEAD = Addressee("la-1", ContactRole.SAFEGUARDING_LEAD)
LA = OrgRecord("la-1", "la-1", "front_door", "E09000001", None, None, "09:00", "17:00")
CONTACT = ContactRecord("la-1:lead", "la-1", "key text", "key-1", daily_digest=True)


async def given_directory(uow: UnitOfWork) -> None:
    if isinstance(uow, FakeUnitOfWork):
        uow.recipients.organisations[LA.id] = LA
        uow.recipients.contacts[LEAD] = CONTACT.contact_id
        uow.recipients.records[CONTACT.contact_id] = CONTACT
        return
    assert isinstance(uow, SqlUnitOfWork)
    uow.session.add(db.Organisation(id=LA.id, name=LA.name, kind=LA.kind, area=LA.area,
                                    opens_at=LA.opens_at, closes_at=LA.closes_at))  # fmt: skip
    await uow.session.flush()
    uow.session.add(db.Contact(id=CONTACT.contact_id, org_id=LA.id, role=LEAD.role.value,
                               hpke_public_key=CONTACT.hpke_public_key,
                               key_id=CONTACT.key_id, daily_digest=True))  # fmt: skip


class TestFollowUpDirectory:
    async def test_a_contact_with_its_key(self, unit_of_work: UnitsOfWork) -> None:
        """The addressee's contact record; none for an organisation the directory lacks."""
        async with unit_of_work() as uow:
            await given_directory(uow)
        async with unit_of_work() as uow:
            assert await uow.recipients.contact_record(LEAD) == CONTACT
            assert await uow.recipients.contact_record(Addressee("x", LEAD.role)) is None

    async def test_an_organisations_record(self, unit_of_work: UnitsOfWork) -> None:
        """The organisation as the directory holds it, with its hours."""
        async with unit_of_work() as uow:
            await given_directory(uow)
        async with unit_of_work() as uow:
            assert await uow.recipients.organisation(LA.id) == LA
            assert await uow.recipients.organisation("x") is None


NOTICE = "00000000-0000-4000-8000-000000000021"
FOLLOW_UP = "00000000-0000-4000-8000-000000000022"


def line(notice_id: str, facts: dict[str, object] | None = None) -> ChronologyLine:
    return ChronologyLine(AT, "notice", "e-1", "missing_child", "police-1", notice_id=notice_id,
                          recipient_id="la-1:lead", notice_type="front_door_referral",
                          severity="high", rule_id="r-1", facts=facts)  # fmt: skip


class TestChronologyLines:
    async def test_lines_added_are_read_back_by_notice(self, unit_of_work: UnitsOfWork) -> None:
        """Each line goes to its household; a notice's lines come back with theirs."""
        facts: dict[str, object] = {"follows": NOTICE, "escalation_level": 1}
        async with unit_of_work() as uow:
            await uow.chronologies.add([("h-1", line(NOTICE)), ("h-2", line(NOTICE))])
            await uow.chronologies.add([("h-1", line(FOLLOW_UP, facts))])
        async with unit_of_work() as uow:
            lines = await uow.chronologies.of_notice(NOTICE)
            follow_up = await uow.chronologies.of_notice(FOLLOW_UP)
        assert sorted(lines, key=lambda pair: pair[0]) == [("h-1", line(NOTICE)),
                                                           ("h-2", line(NOTICE))]  # fmt: skip
        assert follow_up == [("h-1", line(FOLLOW_UP, facts))]

    async def test_lines_of_a_failed_unit_are_not_kept(self, unit_of_work: UnitsOfWork) -> None:
        """A unit of work that fails adds no line."""
        try:
            async with unit_of_work() as uow:
                await uow.chronologies.add([("h-3", line(FOLLOW_UP))])
                raise RuntimeError("the unit of work fails")
        except RuntimeError:
            pass
        async with unit_of_work() as uow:
            assert await uow.chronologies.of_notice(FOLLOW_UP) == []


async def recorded(uow: UnitOfWork) -> list[tuple[Gap, str | None, str | None]]:
    return [(r.gap, r.front_door, r.org_id) for r in await uow.data_quality.report()]


class TestDataQualityLog:
    async def test_the_report_counts_each_gap_per_door_organisation_and_role(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """One line per gap, front door, organisation and role, with how often and when it
        was first and last seen, the latest first; for one front door, since a time, or
        only the lines no front door's report shows."""
        school = Issue(Gap.STALE_TERM_DATES, "la-1", "school-1", "key_adult")
        nobody = Issue(Gap.NO_FRONT_DOOR, None, "E09000001")
        other = Issue(Gap.RECIPIENT_NOT_ONBOARDED, "la-2", "gp-9")
        later = AT + timedelta(hours=2)
        async with unit_of_work() as uow:
            await uow.data_quality.record([school, nobody], AT)
            await uow.data_quality.record([school, other], later)
        async with unit_of_work() as uow:
            lines = await uow.data_quality.report()
            door = await uow.data_quality.report("la-1")
            recent = await uow.data_quality.report(since=later)
            untold = await uow.data_quality.report(no_front_door=True)

        def counted(found: list[ReportLine]) -> list[tuple[Gap, int, datetime, datetime]]:
            return [(line.gap, line.occurrences, line.first_seen, line.last_seen)
                    for line in found]  # fmt: skip

        assert sorted(counted(lines)) == sorted([
            (Gap.STALE_TERM_DATES, 2, AT, later), (Gap.NO_FRONT_DOOR, 1, AT, AT),
            (Gap.RECIPIENT_NOT_ONBOARDED, 1, later, later)])  # fmt: skip
        assert lines[-1].gap is Gap.NO_FRONT_DOOR  # the one seen longest ago
        assert counted(door) == [(Gap.STALE_TERM_DATES, 2, AT, later)]
        assert (door[0].org_id, door[0].role) == ("school-1", "key_adult")
        assert sorted(counted(recent)) == sorted([
            (Gap.STALE_TERM_DATES, 1, later, later),
            (Gap.RECIPIENT_NOT_ONBOARDED, 1, later, later)])  # fmt: skip
        assert counted(untold) == [(Gap.NO_FRONT_DOOR, 1, AT, AT)]

    async def test_gaps_are_kept_only_on_commit(self, unit_of_work: UnitsOfWork) -> None:
        """A committed unit's gaps are in the report; a failed one's are not."""
        kept = Issue(Gap.ESCALATION_EXHAUSTED, "la-1", "gp-1", notice_id=NOTICE)
        lost = Issue(Gap.UNSEALABLE_RECIPIENT_KEY, "la-1", "gp-2")
        async with unit_of_work() as uow:
            await uow.data_quality.record([kept], AT)
        try:
            async with unit_of_work() as uow:
                await uow.data_quality.record([lost], AT)
                raise RuntimeError("the unit of work fails")
        except RuntimeError:
            pass
        async with unit_of_work() as uow:
            assert await recorded(uow) == [(Gap.ESCALATION_EXHAUSTED, "la-1", "gp-1")]
