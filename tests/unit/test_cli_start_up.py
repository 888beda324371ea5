"""``sgb``'s start-up: its help and a simple command import no web framework, no database
engine, no FHIR models (each ``sgb`` command, and each process a test starts, paid about two
seconds of CPU for them), and its command groups still work when loaded on demand."""

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from broker.entrypoints.cli import app
from broker.entrypoints.cli_groups import GROUPS, loaded

HEAVY = ("fastapi", "sqlalchemy", "fhir.resources", "broker.bootstrap", "aiokafka")

# Runs ``sgb`` in a fresh interpreter, then reports which of HEAVY it imported.
PROBE = """
import json, sys
from broker.entrypoints.cli import app
try:
    app(sys.argv[1:], prog_name="sgb")
except SystemExit:
    pass
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def imported_by(*args: str) -> list[str]:
    code = PROBE.format(heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                          text=True, check=True, timeout=60)  # fmt: skip
    result: list[str] = json.loads(done.stdout.splitlines()[-1])
    return result


class TestStartUp:
    @pytest.mark.parametrize(
        "args",
        [("--help",), ("keys-init", "--help"), ("--version",)],
    )
    def test_light_commands_import_nothing_heavy(self, args: tuple[str, ...]) -> None:
        """Help, a command's help and the version import none of FastAPI,
        SQLAlchemy, fhir.resources, the composition root or aiokafka."""
        assert imported_by(*args) == []


class TestCommandGroups:
    @pytest.mark.parametrize("name", sorted(GROUPS))
    def test_the_help_line_is_the_groups_own(self, name: str) -> None:
        """The line ``sgb --help`` shows for a group, held without importing it, is the one
        its own Typer gives."""
        assert loaded(name).help == GROUPS[name].help

    @pytest.mark.parametrize("name", sorted(GROUPS))
    def test_each_group_is_listed_and_runs(self, name: str) -> None:
        """``sgb --help`` lists every group, and ``sgb <group> --help`` reaches its
        commands."""
        runner = CliRunner()
        assert name in runner.invoke(app, ["--help"]).output
        shown = runner.invoke(app, [name, "--help"])
        assert shown.exit_code == 0
        assert all(command in shown.output for command in loaded(name).commands)


class TestCrashes:
    def test_a_crash_is_logged_by_type_never_by_message(self) -> None:
        """The crash hook ``sgb`` installs imports the logging only when something crashes,
        and still logs the exception's type and where, never its message."""
        code = ("import sys\nfrom broker.entrypoints import cli\n"
                "sys.excepthook = cli._crash_through_the_logger\n"
                "raise ValueError('Jane Doe, 12 High Street')")  # fmt: skip
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env={**os.environ, "SGB_LOG_JSON": "true"}, timeout=60,
                              check=False)  # fmt: skip
        assert done.returncode == 1
        [line] = [json.loads(x) for x in (done.stdout + done.stderr).splitlines() if x]
        assert (line["event"], line["exception"]["type"]) == ("crashed", "ValueError")
        assert "Jane Doe" not in done.stdout + done.stderr
