"""What becomes of a next step owed: met once (a decision then waiting to be told to the
referrer, taken by one timer), escalated once when overdue in an acknowledged chain; and the
two reads the referrer's outcome needs: when the chain was first acknowledged, and which
agency the event came from."""

from dataclasses import replace
from datetime import timedelta

from broker.ports import ChronologyLine, NoticeRecordView, StepOwed, StepState
from tests.contracts.conftest import UnitsOfWork
from tests.contracts.test_notice_records import AT, record

HOUR = timedelta(hours=1)


def owed(n: int, step: str = "decision", due_in: timedelta = -HOUR) -> StepOwed:
    """The step owed on notice ``n`` (the first of its chain, as ``record(n)`` is)."""
    notice = record(n)
    return StepOwed(notice.notice_id, step, notice.chain_id, AT + due_in)


def state(step: StepOwed, **changes: object) -> StepState:
    return replace(StepState(step.notice_id, step.step, step.chain_id, step.due_at), **changes)


def acknowledged(n: int) -> NoticeRecordView:
    return replace(record(n), acknowledged_at=AT - 2 * HOUR)


class TestMeetingAStep:
    async def test_the_chains_step_is_found_by_kind(self, unit_of_work: UnitsOfWork) -> None:
        """The step of that kind in the chain, as owed; none of another kind or chain."""
        async with unit_of_work() as uow:
            await uow.steps_owed.add([owed(1), owed(1, "conference")])
        async with unit_of_work() as uow:
            assert await uow.steps_owed.in_chain(record(1).chain_id, "decision") == state(owed(1))
            assert await uow.steps_owed.in_chain(record(1).chain_id, "written_information") is None
            assert await uow.steps_owed.in_chain(record(2).chain_id, "decision") is None

    async def test_a_step_met_is_read_back_met(self, unit_of_work: UnitsOfWork) -> None:
        """Met by its reader, with the outcome; a decision waits to be told from then."""
        async with unit_of_work() as uow:
            await uow.steps_owed.add([owed(3), owed(3, "conference")])
        async with unit_of_work() as uow:
            await uow.steps_owed.meet(record(3).notice_id, "decision", "la-1:fd", "assessment",
                                      AT, tell=True)  # fmt: skip
            await uow.steps_owed.meet(record(3).notice_id, "conference", "la-1:fd", None, AT,
                                      tell=False)  # fmt: skip
        async with unit_of_work() as uow:
            decision = await uow.steps_owed.in_chain(record(3).chain_id, "decision")
            conference = await uow.steps_owed.in_chain(record(3).chain_id, "conference")
        assert decision == state(owed(3), met_at=AT, met_by="la-1:fd", outcome="assessment",
                                 tell_pending_since=AT)  # fmt: skip
        assert conference == state(owed(3, "conference"), met_at=AT, met_by="la-1:fd")

    async def test_a_failed_unit_meets_nothing(self, unit_of_work: UnitsOfWork) -> None:
        """An exception inside the unit of work leaves the step unmet."""
        async with unit_of_work() as uow:
            await uow.steps_owed.add([owed(4)])
        try:
            async with unit_of_work() as uow:
                await uow.steps_owed.meet(record(4).notice_id, "decision", "x", "nfa", AT,
                                          tell=True)  # fmt: skip
                raise RuntimeError("the unit of work fails")
        except RuntimeError:
            pass
        async with unit_of_work() as uow:
            assert await uow.steps_owed.in_chain(record(4).chain_id, "decision") == state(owed(4))


class TestTellingTheReferrer:
    async def test_decisions_wait_oldest_first(self, unit_of_work: UnitsOfWork) -> None:
        """Decisions met wait to be told by the time they were met; a step not told waits
        for nobody."""
        async with unit_of_work() as uow:
            await uow.steps_owed.add([owed(5), owed(6), owed(7, "conference")])
        async with unit_of_work() as uow:
            await uow.steps_owed.meet(record(5).notice_id, "decision", "x", "nfa", AT, tell=True)
            await uow.steps_owed.meet(record(6).notice_id, "decision", "x", "nfa", AT - HOUR,
                                      tell=True)  # fmt: skip
            await uow.steps_owed.meet(record(7).notice_id, "conference", "x", None, AT,
                                      tell=False)  # fmt: skip
        async with unit_of_work() as uow:
            assert await uow.steps_owed.awaiting_telling(10) == [
                (record(6).notice_id, "decision"), (record(5).notice_id, "decision")]  # fmt: skip
            assert await uow.steps_owed.awaiting_telling(1) == [(record(6).notice_id, "decision")]

    async def test_a_decision_is_taken_once(self, unit_of_work: UnitsOfWork) -> None:
        """Taking it answers the step as it waited and clears the wait, once."""
        async with unit_of_work() as uow:
            await uow.steps_owed.add([owed(8)])
        async with unit_of_work() as uow:
            await uow.steps_owed.meet(record(8).notice_id, "decision", "x", "nfa", AT, tell=True)
        waited = state(owed(8), met_at=AT, met_by="x", outcome="nfa", tell_pending_since=AT)
        async with unit_of_work() as uow:
            assert await uow.steps_owed.take_telling(record(8).notice_id, "decision") == waited
        async with unit_of_work() as uow:
            assert await uow.steps_owed.take_telling(record(8).notice_id, "decision") is None
            assert await uow.steps_owed.take_telling("nothing", "decision") is None
            assert await uow.steps_owed.awaiting_telling(10) == []


class TestOverdueSteps:
    async def test_unmet_steps_of_acknowledged_chains_soonest_first(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """Past due, unmet, in a chain acknowledged: overdue, soonest due first; a chain
        nobody acknowledged, a step met or not yet due, is not."""
        async with unit_of_work() as uow:
            await uow.notice_records.add([acknowledged(n) for n in (9, 10, 11, 12)] + [record(13)])
            await uow.steps_owed.add([owed(9), owed(10, due_in=-2 * HOUR), owed(11, due_in=HOUR),
                                      owed(12), owed(13)])  # fmt: skip
            await uow.steps_owed.meet(record(12).notice_id, "decision", "x", "nfa", AT, tell=True)
        async with unit_of_work() as uow:
            assert await uow.steps_owed.overdue(AT, 10) == [
                (record(10).notice_id, "decision"), (record(9).notice_id, "decision")]  # fmt: skip
            assert await uow.steps_owed.overdue(AT, 1) == [(record(10).notice_id, "decision")]

    async def test_an_overdue_step_is_claimed_once(self, unit_of_work: UnitsOfWork) -> None:
        """The first claim answers the step as it was and marks it escalated; a second, or
        one of a step not due, answers None."""
        async with unit_of_work() as uow:
            await uow.notice_records.add([acknowledged(14), acknowledged(15)])
            await uow.steps_owed.add([owed(14), owed(15, due_in=HOUR)])
        async with unit_of_work() as uow:
            assert await uow.steps_owed.claim_overdue(record(14).notice_id, "decision", AT) == (
                state(owed(14)))  # fmt: skip
            assert await uow.steps_owed.claim_overdue(record(15).notice_id, "decision", AT) is None
        async with unit_of_work() as uow:
            assert await uow.steps_owed.claim_overdue(record(14).notice_id, "decision", AT) is None
            assert await uow.steps_owed.in_chain(record(14).chain_id, "decision") == state(
                owed(14), escalated_at=AT)  # fmt: skip
            assert await uow.steps_owed.overdue(AT, 10) == []


class TestWhatTheOutcomeReads:
    async def test_a_chain_is_first_acknowledged_at_its_earliest(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """The earliest acknowledgement of any notice in the chain; None before any."""
        async with unit_of_work() as uow:
            await uow.notice_records.add([
                replace(record(16), acknowledged_at=AT),
                replace(record(17, chain=16), acknowledged_at=AT - HOUR), record(18),
            ])  # fmt: skip
        async with unit_of_work() as uow:
            assert await uow.notice_records.first_acknowledged(record(16).chain_id) == AT - HOUR
            assert await uow.notice_records.first_acknowledged(record(18).chain_id) is None

    async def test_an_events_source_as_its_chronology_has_it(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """The source agency of the event's chronology lines; None for an event no
        chronology holds."""
        line = ChronologyLine(AT, "event", "e-19", "parent_crisis", "police-1")
        async with unit_of_work() as uow:
            await uow.chronologies.add([("h-1", line)])
        async with unit_of_work() as uow:
            assert await uow.chronologies.source_of_event("e-19") == "police-1"
            assert await uow.chronologies.source_of_event("e-20") is None


class TestStepsOfManyChains:
    async def test_each_listed_chains_steps_with_their_state(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """Every listed chain's steps as they stand, soonest first; unlisted chains left out."""
        decision, conference = owed(21), owed(21, "conference", due_in=HOUR)
        async with unit_of_work() as uow:
            await uow.steps_owed.add([conference, decision, owed(22), owed(23)])
        async with unit_of_work() as uow:
            await uow.steps_owed.meet(decision.notice_id, "decision", "la-1:fd", "assessment",
                                      AT, tell=False)  # fmt: skip
        async with unit_of_work() as uow:
            found = await uow.steps_owed.of_chains([record(21).chain_id, record(22).chain_id])
        met = state(decision, met_at=AT, met_by="la-1:fd", outcome="assessment")
        assert found == {record(21).chain_id: [met, state(conference)],
                         record(22).chain_id: [state(owed(22))]}  # fmt: skip

    async def test_no_chains_and_chains_owing_nothing(self, unit_of_work: UnitsOfWork) -> None:
        """No chains asked for, or none owing a step: nothing, and no error."""
        async with unit_of_work() as uow:
            assert await uow.steps_owed.of_chains([]) == {}
            assert await uow.steps_owed.of_chains([record(24).chain_id]) == {}
