"""The next steps a notice owes, recorded on the fakes: a front door referral owes its
decision, in its own chain; most notices owe nothing."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from broker.rules.next_steps import steps_owed as rules_steps_owed
from broker.services import steps_owed
from schemas.notices import NoticeHeader, NoticeType, Severity
from tests.fakes import FakeUnitOfWork

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # a Tuesday morning


def header(notice_type: NoticeType) -> NoticeHeader:
    return NoticeHeader(
        notice_id=uuid4(), event_id=uuid4(), household="h-1", recipient_id="la-1:fd",
        recipient_org="la-1", notice_type=notice_type, severity=Severity.HIGH, created_at=AT,
        deadline=AT + timedelta(days=1), recipient_key_id="k", signing_key_id="s",
    )  # fmt: skip


class TestOwe:
    async def test_a_referral_owes_its_decision_as_the_rules_say(self) -> None:
        """The steps and their times are the rules'; the chain is the notice's own."""
        uow, referral = FakeUnitOfWork(), header(NoticeType.FRONT_DOOR_REFERRAL)
        async with uow:
            await steps_owed.owe(uow, referral, {})
        owed = await uow.steps_owed.of_chain(str(referral.notice_id))
        expected = rules_steps_owed(referral.notice_type, AT, {})
        assert {(s.step, s.due_at) for s in owed} == {(k.value, v) for k, v in expected.items()}
        assert [s.step for s in owed] == ["decision"]

    async def test_most_notices_owe_nothing(self) -> None:
        """A GP's information notice owes no next step."""
        uow, told = FakeUnitOfWork(), header(NoticeType.GP_INFORMATION)
        async with uow:
            await steps_owed.owe(uow, told, {})
        assert await uow.steps_owed.of_chain(str(told.notice_id)) == []
