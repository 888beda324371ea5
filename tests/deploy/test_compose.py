"""deploy/docker-compose.yml: a valid Compose file whose services start in the right order.

No Docker engine (nor the `docker compose` plugin) runs here, so the file is checked the way
`docker compose config` would read it: YAML merge keys resolved, ``${VAR:-default}``
interpolated with the defaults, then parsed by the compose-spec package (the Rust
``compose_spec`` parser, strict: an unknown key, a bad duration or an unknown ``depends_on``
condition is refused).
"""

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from compose_spec import PyCompose

from broker.entrypoints.cli import app

DEPLOY = Path(__file__).parents[2] / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
ONE_SHOTS = ("keys-init", "db-upgrade", "directory-bootstrap")
BROKER_SERVICES = ("gateway", "inbox", "admin", "router", "delivery")
_DEFAULTED = re.compile(r"\$\{(\w+):-([^}]*)\}")


def interpolated(text: str) -> str:
    """What Compose reads with none of the variables set: every ``${VAR:-default}``'s default."""
    return _DEFAULTED.sub(lambda m: m.group(2), text)


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(interpolated(COMPOSE_FILE.read_text()))
    return loaded


def services() -> dict[str, Any]:
    found: dict[str, Any] = compose()["services"]
    return found


def after(name: str) -> dict[str, str]:
    """The services ``name`` waits for, with the condition it waits on."""
    depends = services()[name].get("depends_on", {})
    return {other: spec["condition"] for other, spec in depends.items()}


class TestComposeFile:
    def test_file_is_valid_compose(self) -> None:
        """The compose-spec parser accepts the whole file."""
        parsed = PyCompose.from_json(json.dumps(compose()))
        assert set(parsed.service_names()) >= {*ONE_SHOTS, *BROKER_SERVICES, "kafka", "postgres"}

    def test_the_parser_refuses_what_compose_refuses(self) -> None:
        """The check has teeth: an unknown depends_on condition is refused."""
        broken = compose()
        broken["services"]["gateway"]["depends_on"]["keys-init"]["condition"] = "service_done"
        with pytest.raises(ValueError, match="service_done"):
            PyCompose.from_json(json.dumps(broken))

    def test_every_dependency_is_a_service(self) -> None:
        """A depends_on naming no service would stop the whole stack from starting."""
        names = set(services())
        for name in names:
            assert set(after(name)) <= names, name


class TestStartOrder:
    @pytest.mark.parametrize("name", BROKER_SERVICES)
    def test_services_wait_for_every_one_shot(self, name: str) -> None:
        """Keys, schema and directory are in place before any service starts: none races."""
        waits = after(name)
        for one_shot in ONE_SHOTS:
            assert waits[one_shot] == "service_completed_successfully"
        assert waits["kafka"] == "service_healthy"

    def test_only_keys_init_makes_keys(self) -> None:
        """One service runs `sgb keys-init`, and only when no keys exist yet."""
        makers = [n for n, s in services().items() if "keys-init" in (s.get("command") or [])]
        assert makers == ["keys-init"]
        assert services()["keys-init"]["command"] == ["keys-init", "--if-missing"]

    def test_schema_upgrade_waits_for_a_healthy_postgres(self) -> None:
        """db-upgrade runs once PostgreSQL accepts connections, after the keys."""
        assert after("db-upgrade") == {
            "postgres": "service_healthy",
            "keys-init": "service_completed_successfully",
        }

    def test_directory_loads_after_the_schema(self) -> None:
        """The directory import needs the upgraded schema."""
        assert after("directory-bootstrap") == {"db-upgrade": "service_completed_successfully"}

    def test_commands_are_sgb_commands(self) -> None:
        """Every command the stack runs is one the image's `sgb` has."""
        known = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
        for name in (*BROKER_SERVICES, "keys-init", "db-upgrade"):
            assert services()[name]["command"][0] in known, name
        assert "directory-import" in known


class TestServicesConfiguration:
    @pytest.mark.parametrize("name", [*BROKER_SERVICES, *ONE_SHOTS])
    def test_broker_runs_on_postgresql_with_shared_keys(self, name: str) -> None:
        """Every broker container reads the same database and the keys keys-init made."""
        env = services()[name]["environment"]
        assert env["SGB_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert env["SGB_KEYS_DIR"] == "/data/keys"
        assert "broker-data:/data" in services()[name]["volumes"]

    def test_image_has_the_postgres_extra(self) -> None:
        """asyncpg is in the image: the Dockerfile installs the postgres extra."""
        assert 'pip install ".[postgres]"' in (DEPLOY / "Dockerfile").read_text()

    @pytest.mark.parametrize("name", BROKER_SERVICES)
    def test_healthcheck_asks_ready_on_the_ops_port(self, name: str) -> None:
        """Healthy means /ready answers 200 on the ops port the service serves."""
        service = services()[name]
        port = service["environment"]["SGB_OPS_PORT"]
        assert service["environment"]["SGB_OPS_HOST"] == "0.0.0.0"  # noqa: S104  inside a container
        probe = service["healthcheck"]["test"]
        assert probe[:3] == ["CMD", "python", "-c"]
        assert f"http://127.0.0.1:{port}/ready" in probe[3]
        compile(probe[3], "healthcheck", "exec")

    def test_directory_bootstrap_mounts_the_example_directory(self) -> None:
        """By default the sample directory is loaded; SGB_DIRECTORY names another folder."""
        service = services()["directory-bootstrap"]
        mount = next(v for v in service["volumes"] if v.endswith(":/directory:ro"))
        folder = DEPLOY / mount.removesuffix(":/directory:ro")
        assert (folder / "organisations.csv").is_file()
        assert "${SGB_DIRECTORY:-../examples/directory}" in COMPOSE_FILE.read_text()
        assert "sgb directory-import /directory" in service["command"][0]
