"""The sample directory in examples/directory: ``sgb directory-import`` loads it into a real
database, and the routing service tells whom the domain brief says of one event in it."""

import asyncio
import json
from pathlib import Path

import pytest
from conftest import Databases
from typer.testing import CliRunner

from broker.adapters.csv_import import read_directory
from broker.entrypoints.cli import app
from broker.keys import KeyStore
from broker.services.scenario import Scenario, run_scenario

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).parents[2] / "examples" / "directory"


class TestExampleDirectory:
    async def test_directory_import_loads_every_file(
        self, tmp_path: Path, databases: Databases
    ) -> None:
        """Every organisation, contact, person and household created; each organisation's
        first signing key set at once (new organisations: nothing held for approval). On
        SQLite and on PostgreSQL."""
        KeyStore.create(tmp_path / "keys")
        env = {"SGB_DATABASE_URL": await databases.new(), "SGB_KEYS_DIR": str(tmp_path / "keys")}
        done = await asyncio.to_thread(CliRunner().invoke, app,
                                       ["directory-import", str(EXAMPLE), "--operator", "ops-1"],
                                       env=env)  # fmt: skip
        assert done.exit_code == 0, done.output
        assert "organisations: 9 created" in done.output
        assert "contacts: 13 created" in done.output
        assert "people: 6 created" in done.output
        assert "key_changes" not in done.output
        listed = await asyncio.to_thread(CliRunner().invoke, app,
                                         ["org", "key", "list", "mh-fernley"], env=env)  # fmt: skip
        assert "no signing keys" not in listed.output

    async def test_a_parent_s_crisis_is_routed_as_the_brief_says(self) -> None:
        """Grace Okafor admitted in crisis, no high-risk signal (Samuel, the other parent,
        lives with Daniel, 11): Daniel's school key adult, and Grace's, Samuel's and Daniel's
        GPs are told; the front door is not (domain brief, parent mental health crisis)."""
        directory = json.loads(read_directory(EXAMPLE).model_dump_json(exclude_unset=True))
        scenario = Scenario.model_validate({
            "name": "example-directory-crisis", "start": "2027-01-12T10:00:00+00:00",
            "directory": directory,
            "steps": [{"event": {"event_type": "parent_mental_health_crisis",
                                 "source_org": "mh-fernley",
                                 "subject": {"nhs_number": "9990001006"}, "admitted": True},
                       "expect": [
                           {"recipient": "school-castlegate:key_adult", "rule": "crisis.child",
                            "notice_type": "school_support"},
                           {"recipient": "gp-elmfield:safeguarding_lead", "rule": "crisis.gp"},
                           {"recipient": "gp-quayside:safeguarding_lead", "rule": "crisis.gp"},
                           {"recipient": "gp-harbour:safeguarding_lead", "rule": "crisis.gp"}],
                       "must_not": ["fd-fernley", "school-willowbank", "hv-fernley"]}],
        })  # fmt: skip
        [result] = await run_scenario(scenario)
        assert result.passed, result.verdict.failures()
