"""The step-down plans the broker told, read back from their notices, on the fakes: the
step-down's own first notice that carries the plan; nothing when it no longer opens."""

from datetime import UTC, datetime, timedelta

from broker.ports import NoticeRecordView
from broker.rules.step_down import RULE as STEP_DOWN_RULE
from broker.services import notice_records
from broker.services.plan_details import told_step_downs
from schemas.notices import NoticeBody, StepDownView
from tests.fakes import FakeDataKeys, FakeUnitOfWork
from tests.unit.builders import plan_view

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
EVENT = "e0000000-0000-4000-8000-000000000001"
PLAN = plan_view(plan_id=f"step-down:{EVENT}:kid")
TOLD = StepDownView(to_level="universal", if_concerns_return="call the front door")


def record(n: int, keys: FakeDataKeys, rule: str, step_down: StepDownView | None,
           follows: str | None = None) -> NoticeRecordView:  # fmt: skip
    notice_id = f"00000000-0000-4000-8000-{n:012d}"
    body = NoticeBody(summary="s", event_type="service_withdrawal", occurred_at=AT,
                      source_org="la-1", step_down=step_down)  # fmt: skip
    return NoticeRecordView(
        notice_id=notice_id, chain_id=follows or notice_id, event_id=EVENT, household="h-1",
        recipient_id="school-1:dsl", recipient_org="school-1", notice_type="school_information",
        severity="low", rule_id=rule, created_at=AT + timedelta(minutes=n), deadline=AT,
        escalate_to="[]", reroute_to=None, follows=follows,
        body=notice_records.wrap(keys, "h-1", notice_id, "body", body.model_dump_json()),
    )  # fmt: skip


async def told(keys: FakeDataKeys, *records: NoticeRecordView) -> dict[str, StepDownView]:
    uow = FakeUnitOfWork()
    async with uow:
        await uow.notice_records.add(records)
        return await told_step_downs(uow, [PLAN, plan_view(plan_id="plan-2")], keys)


class TestToldStepDowns:
    async def test_the_plan_as_its_step_down_notice_told_it(self) -> None:
        """The first notice of the step-down's own rule that carries the plan; another rule's
        notice and a follow-up are passed over; a plan no step-down made is not looked for."""
        keys = FakeDataKeys()
        other = StepDownView(to_level="other")
        found = await told(keys, record(1, keys, "withdrawal", other),
                           record(2, keys, f"x+{STEP_DOWN_RULE}", TOLD),
                           record(3, keys, STEP_DOWN_RULE, other, follows="n-0"))  # fmt: skip
        assert found == {PLAN.plan_id: TOLD}

    async def test_a_shredded_plan_is_not_told(self) -> None:
        """Once the household's key is gone the plan cannot be read: it is left out."""
        keys = FakeDataKeys()
        first = record(1, keys, STEP_DOWN_RULE, TOLD)
        keys.shred("h-1")
        assert await told(keys, first) == {}
