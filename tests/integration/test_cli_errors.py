"""``sgb`` through its real commands (typer's CliRunner): expected conditions are one line
and a non-zero exit, never a traceback or a crash report (issue 18, section 4)."""

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from broker.config import Settings
from broker.entrypoints.cli import app
from broker.keys import KeyStore
from deploy.localkafka import bootstrap_lines

pytestmark = pytest.mark.integration


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    KeyStore.create(tmp_path / "keys")
    return {"SGB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'var' / 'broker.db'}",
            "SGB_KEYS_DIR": str(tmp_path / "keys")}  # fmt: skip


async def sgb(env: dict[str, str], *args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


def one_line(result: Result) -> str:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert "crashed" not in result.output
    assert result.output.count("\n") == 1, result.output
    return result.output


class TestVersion:
    async def test_version_is_printed(self, env: dict[str, str]) -> None:
        """``sgb --version``: the installed package's version, exit 0."""
        done = await sgb(env, "--version")
        assert done.exit_code == 0
        assert done.output.startswith("sgb ")


class TestExpectedConditions:
    async def test_a_missing_folder_is_one_line(self, env: dict[str, str]) -> None:
        """directory-import of a folder that is not there."""
        done = await sgb(env, "directory-import", "/no/such/folder", "--operator", "ops-1")
        assert done.exit_code == 1
        assert "no folder" in one_line(done)

    async def test_existing_keys_are_one_line(self, env: dict[str, str]) -> None:
        """keys-init where the keys are already: refused, never overwritten."""
        done = await sgb(env, "keys-init", "--directory", env["SGB_KEYS_DIR"])
        assert done.exit_code == 1
        assert "already exist" in one_line(done)

    @pytest.mark.parametrize("command", [
        ["scenario", "/no/such/file.json"],
        ["peer", "add", "/no/such/file.json", "--operator", "ops-1"],
        ["contact", "alerts-import", "/no/such/file.csv", "--operator", "ops-1"],
    ])  # fmt: skip
    async def test_a_missing_file_is_one_line(
        self, env: dict[str, str], command: list[str]
    ) -> None:
        """Whatever command is given it, the file named, exit 1."""
        done = await sgb(env, *command)
        assert done.exit_code == 1
        assert "file." in one_line(done)

    async def test_a_bad_csv_is_one_line_naming_file_row_and_field(
        self, env: dict[str, str], tmp_path: Path
    ) -> None:
        """An unknown column: the file, the row and the column named; nothing imported."""
        folder = tmp_path / "directory"
        folder.mkdir()
        (folder / "organisations.csv").write_text("id,name,kind,area,colour\n")
        done = await sgb(env, "directory-import", str(folder), "--operator", "ops-1")
        assert done.exit_code == 1
        assert "organisations.csv, row 1, field colour" in one_line(done)

    async def test_an_invalid_setting_is_one_line_naming_it(self, env: dict[str, str]) -> None:
        """Exit 2 before any command runs; the value is not echoed."""
        done = await sgb(env | {"SGB_OPS_PORT": "not-a-port-XYZ"}, "key-changes", "list")
        assert done.exit_code == 2
        assert "SGB_OPS_PORT" in one_line(done)
        assert "XYZ" not in done.output


class TestFirstUse:
    async def test_the_sqlite_folder_is_made_on_first_use(self, env: dict[str, str]) -> None:
        """var/ need not exist: the first command makes it, for its owner alone."""
        done = await sgb(env, "key-changes", "list")
        assert done.exit_code == 0, done.output
        folder = Path(env["SGB_DATABASE_URL"].split("///", 1)[1]).parent
        assert folder.is_dir()
        assert folder.stat().st_mode & 0o077 == 0


class TestLocalKafkaLines:
    def test_the_broker_s_own_variable_is_printed(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The line the broker reads, exported as printed, reaches its Settings."""
        [broker_line, _] = bootstrap_lines("127.0.0.1:1234")
        name, value = broker_line.split("=", 1)
        monkeypatch.setenv(name, value)
        assert Settings().kafka_bootstrap_servers == "127.0.0.1:1234"

    def test_the_tests_variable_is_printed_too(self) -> None:
        """The suite reads KAFKA_BOOTSTRAP_SERVERS (tests/conftest.py)."""
        assert "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:1234" in bootstrap_lines("127.0.0.1:1234")


class TestImportOutput:
    async def test_no_progress_bar_off_a_terminal(self, env: dict[str, str]) -> None:
        """Piped or captured, the import prints its summary lines alone (the bar is drawn
        only on a terminal)."""
        folder = str(Path(__file__).parents[2] / "examples" / "directory")
        done = await sgb(env, "directory-import", folder, "--operator", "ops-1")
        assert done.exit_code == 0, done.output
        assert all(line.split(":")[0].isidentifier() for line in done.output.splitlines())
        assert "records" not in done.output
