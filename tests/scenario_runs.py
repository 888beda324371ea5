"""Each scenario file replayed once per test process, through the real routing service: the
scenario tests and the alert content test read the same runs (tests/conftest.py keeps their
files on one xdist worker), rather than each replaying all of them."""

from pathlib import Path

from broker.services.scenario import Scenario, StepResult, run_scenario

SCENARIO_DIR = Path(__file__).parent / "scenarios"
SCENARIOS = sorted(SCENARIO_DIR.glob("*.json"))

_results: dict[Path, list[StepResult]] = {}


async def results_of(path: Path) -> list[StepResult]:
    """The scenario's step results, replayed on first asking; the callers only read them."""
    if path not in _results:
        _results[path] = await run_scenario(Scenario.load(path))
    return _results[path]
