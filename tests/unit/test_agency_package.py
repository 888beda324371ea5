"""The agency package (producers/ and schemas/) stands apart from the broker: an agency's
system installs it alone, so nothing in it may reach for the broker or its dependencies."""

import ast
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from producers import crypto
from producers.auth import assertion

ROOT = Path(__file__).resolve().parents[2]
AGENCY_DIRS = ("producers", "schemas")
BROKER_ONLY = ("broker", "sqlalchemy", "holidays", "prometheus_client", "fastapi")
ALLOWED_DEPENDENCIES = {"cryptography", "pydantic", "aiokafka", "httpx"}


def imported_top_levels(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


class TestAgencyImports:
    def test_helpers_import_without_the_broker(self) -> None:
        """A fresh interpreter importing the SDK, the receivers and the credentials loads
        neither the broker nor its database, holiday, metrics or web dependencies."""
        program = (
            "import json, sys\n"
            "import producers.sdk, producers.receiver, producers.webhook_receiver, producers.auth\n"
            f"print(json.dumps(sorted(set({list(BROKER_ONLY)!r}) & set(sys.modules))))\n"
        )
        done = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True,
                              text=True, check=True)  # fmt: skip
        assert json.loads(done.stdout) == []

    def test_no_module_names_the_broker(self) -> None:
        """No module of the package imports ``broker``, even one the helpers do not load."""
        offenders = [
            str(path.relative_to(ROOT))
            for folder in AGENCY_DIRS
            for path in sorted((ROOT / folder).glob("*.py"))
            if "broker" in imported_top_levels(path)
        ]
        assert offenders == []


class TestAgencyPackaging:
    def test_declares_only_its_own_dependencies(self) -> None:
        """The package's own pyproject asks for cryptography, pydantic, aiokafka and httpx."""
        project = tomllib.loads((ROOT / "producers" / "pyproject.toml").read_text())["project"]
        names = {d.split(">")[0].split("<")[0].split("=")[0] for d in project["dependencies"]}
        assert names == ALLOWED_DEPENDENCIES

    def test_ships_the_schemas_with_it(self) -> None:
        """The wire contracts travel in the same package as the helpers that use them."""
        project = tomllib.loads((ROOT / "producers" / "pyproject.toml").read_text())
        assert set(project["tool"]["setuptools"]["packages"]) == set(AGENCY_DIRS)

    def test_broker_installation_still_includes_it(self) -> None:
        """The broker's own installation carries the agency package's modules too."""
        root = tomllib.loads((ROOT / "pyproject.toml").read_text())
        included = root["tool"]["setuptools"]["packages"]["find"]["include"]
        assert {"producers*", "schemas*"} <= set(included)


class TestClientAssertion:
    def test_a_standard_jwt_library_verifies_it(self) -> None:
        """The assertion made without a JWT library is a JWT any EdDSA verifier accepts,
        naming the organisation, the audience and the key it was signed with."""
        key = Ed25519PrivateKey.generate()
        key_id = crypto.key_id(key.public_key())
        token = assertion("mh-demo", key, key_id, "https://broker.example/v1/oauth/token")
        claims = jwt.decode(token, key.public_key(), algorithms=["EdDSA"],
                            audience="https://broker.example/v1/oauth/token")  # fmt: skip
        assert (claims["iss"], claims["sub"]) == ("mh-demo", "mh-demo")
        assert jwt.get_unverified_header(token)["kid"] == key_id

    def test_another_key_does_not_verify_it(self) -> None:
        """Signed with the organisation's key, it does not hold under any other key."""
        key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        token = assertion("mh-demo", key, "k", "https://broker.example/token")
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(token, other.public_key(), algorithms=["EdDSA"],
                       audience="https://broker.example/token")  # fmt: skip
