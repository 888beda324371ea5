"""The step-down plans the broker told, as their owners read them, for the owners' notices
when concerns return.

The directory keeps a step-down plan's organisations only: who leads it and how to reach them,
each owner's action and what to do if concerns return are personal data, kept only in the
step-down's sealed notices (under the household's data key, so shredding the household
deletes them). A returning concern's notice reads the plan back from there; when it can no
longer be read, the notice names the plan's organisations instead (plan_bodies.from_plan).
"""

from collections.abc import Iterable

import structlog
from cryptography.exceptions import InvalidTag

from broker.adapters.directory import step_down_event_of
from broker.errors import DataKeyShredded, DataKeyUnusable, KeyFileError
from broker.ports import DataKeyStore, UnitOfWork
from broker.rules.family import PlanView
from broker.rules.step_down import RULE as STEP_DOWN_RULE
from broker.services import notice_records
from schemas.notices import StepDownView

log = structlog.get_logger(__name__)
UNREADABLE = (DataKeyShredded, DataKeyUnusable, KeyFileError, InvalidTag, ValueError)


async def told_step_downs(
    uow: UnitOfWork, plans: Iterable[PlanView], data_keys: DataKeyStore
) -> dict[str, StepDownView]:
    """Each step-down plan (by plan id) as its step-down's notices told it."""
    found: dict[str, StepDownView] = {}
    for plan in plans:
        event_id = step_down_event_of(plan.plan_id)
        if event_id is None:
            continue
        if told := await _told(uow, event_id, data_keys):
            found[plan.plan_id] = told
    return found


async def _told(uow: UnitOfWork, event_id: str, data_keys: DataKeyStore) -> StepDownView | None:
    for record in await uow.notice_records.firsts_of_event(event_id):
        if STEP_DOWN_RULE not in record.rule_id.split("+"):
            continue
        try:
            body = notice_records.body_of(record, data_keys)
        except UNREADABLE as exc:
            log.info("step_down_plan_unreadable", notice_id=record.notice_id,
                     error=type(exc).__name__)  # fmt: skip
            return None
        if body.step_down is not None:
            return body.step_down
    return None
