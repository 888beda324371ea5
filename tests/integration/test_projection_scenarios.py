"""The scenarios whose routing writes to the directory (moves applied or confirmed, step-down
plans, plans a move lists, identifiers learnt at the front door's match), replayed with a
projection that checks itself: after every refresh that applied changes, it must equal the
directory loaded afresh. A write that skipped the change log would leave it behind."""

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters.directory import read_organisations
from broker.adapters.directory_projection import DirectoryProjection, read_state
from broker.services import scenario
from broker.services.scenario import Scenario, run_scenario

pytestmark = pytest.mark.integration

SCENARIO_DIR = Path(__file__).parents[1] / "scenarios"
# Those with a step after the one that writes (a move alone in its scenario is checked in
# test_directory_projection.py).
WRITING = [
    "family_non_resident_parent_moves", "history_move_plans_stay_known",
    "step_down_concern_returns", "step_down_proposed_by_agency",
]  # fmt: skip


class SelfCheckingProjection(DirectoryProjection):
    """Compares itself with a fresh load after each refresh that moved it on."""

    def __init__(self) -> None:
        super().__init__()
        self.applied: list[bool] = []  # one per refresh that applied changes: equal afresh?

    async def refresh(self, session: AsyncSession) -> None:
        seen = self.seen if self.loaded else None
        await super().refresh(session)
        if seen is not None and self.seen != seen:
            fresh = await read_state(session), await read_organisations(session)
            self.applied.append((self.state, self.organisations) == fresh)


class TestScenariosKeepTheProjectionCurrent:
    @pytest.mark.parametrize("name", WRITING)
    async def test_routing_writes_reach_the_projection(
        self, name: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The scenario passes with the projection on, every change routing made reached it
        record by record, and it then equalled the directory loaded afresh."""
        made: list[SelfCheckingProjection] = []

        def projection() -> SelfCheckingProjection:
            made.append(SelfCheckingProjection())
            return made[-1]

        monkeypatch.setattr(scenario, "DirectoryProjection", projection)
        results = await run_scenario(Scenario.load(SCENARIO_DIR / f"{name}.json"))
        assert all(r.passed for r in results)
        [checked] = made
        assert checked.applied, "no step changed the directory"
        assert all(checked.applied)
