"""``sgb peer add`` and ``sgb peer import`` on a SQLite database: a peer registered from a JSON
file or a CSV file, refusals naming the row and field, never a value (issue 16, item 2)."""

import asyncio
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import select
from typer.testing import CliRunner, Result

from broker.adapters import db
from broker.entrypoints.cli import app
from broker.keys import KeyStore
from producers import crypto
from schemas.peers import PeerSpec

pytestmark = pytest.mark.integration

HEADER = "id,name,areas,gateway_url,broker_key,signing_key,known_there_as,phone\n"


def keys() -> tuple[str, str]:
    return (crypto.encode_public(X25519PrivateKey.generate().public_key()),
            crypto.encode_public(Ed25519PrivateKey.generate().public_key()))  # fmt: skip


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    KeyStore.create(tmp_path / "keys")
    return {"SGB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'broker.db'}",
            "SGB_KEYS_DIR": str(tmp_path / "keys")}  # fmt: skip


async def sgb(env: dict[str, str], *args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


async def areas_of(env: dict[str, str]) -> dict[str, str]:
    engine = db.make_engine(env["SGB_DATABASE_URL"])
    async with db.sessions(engine)() as session:
        rows = (await session.scalars(select(db.PeerArea))).all()
    await engine.dispose()
    return {r.area: r.org_id for r in rows}


class TestPeerAdd:
    async def test_a_peer_is_registered_from_a_json_file(
        self, env: dict[str, str], tmp_path: Path
    ) -> None:
        """Created, its areas recorded."""
        hpke, signing = keys()
        file = tmp_path / "north.json"
        file.write_text(json.dumps({
            "id": "peer-north", "name": "North", "areas": ["E08000001"],
            "gateway_url": "https://gateway.north.example", "broker_key": hpke,
            "signing_keys": [{"public_key": signing}], "known_there_as": "demo",
        }))  # fmt: skip
        done = await sgb(env, "peer", "add", str(file), "--operator", "ops-1")
        assert done.exit_code == 0, done.output
        assert "peer peer-north: created" in done.output
        assert await areas_of(env) == {"E08000001": "peer-north"}

    async def test_a_bad_file_names_the_field_not_its_value(
        self, env: dict[str, str], tmp_path: Path
    ) -> None:
        """Exit 1, the field named, the value sent never echoed."""
        file = tmp_path / "bad.json"
        file.write_text(json.dumps({"id": "peer-north", "name": "North",
                                    "areas": ["NOT-AN-AREA-XYZ"]}))  # fmt: skip
        done = await sgb(env, "peer", "add", str(file), "--operator", "ops-1")
        assert done.exit_code == 1
        assert "areas" in done.output
        assert "NOT-AN-AREA-XYZ" not in done.output


class TestPeerImport:
    async def test_every_peer_in_the_csv_is_registered(
        self, env: dict[str, str], tmp_path: Path
    ) -> None:
        """Two peers, areas separated by spaces."""
        (hpke1, sig1), (hpke2, sig2) = keys(), keys()
        file = tmp_path / "peers.csv"
        north = f"peer-north,North,E08000001 E08000002,https://n.example,{hpke1},{sig1},demo,"
        east = f"peer-east,East,E07000001,https://e.example,{hpke2},{sig2},demo,"
        file.write_text(HEADER + north + "\n" + east + "\n")
        done = await sgb(env, "peer", "import", str(file), "--operator", "ops-1")
        assert done.exit_code == 0, done.output
        assert await areas_of(env) == {"E08000001": "peer-north", "E08000002": "peer-north",
                                       "E07000001": "peer-east"}  # fmt: skip

    async def test_a_recipient_api_url_column_is_kept(
        self, env: dict[str, str], tmp_path: Path
    ) -> None:
        """The optional api_url column: where receipts go, when not at the gateway."""
        hpke, sig = keys()
        file = tmp_path / "peers.csv"
        row = f"peer-north,North,E08000001,https://n.example,{hpke},{sig},demo,,https://i.n.example"
        file.write_text(HEADER.rstrip("\n") + ",api_url\n" + row + "\n")
        done = await sgb(env, "peer", "import", str(file), "--operator", "ops-1")
        assert done.exit_code == 0, done.output
        engine = db.make_engine(env["SGB_DATABASE_URL"])
        async with db.sessions(engine)() as session:
            peer = await session.get(db.Peer, "peer-north")
        await engine.dispose()
        assert peer is not None
        assert (peer.gateway_url, peer.api_url) == ("https://n.example", "https://i.n.example")

    async def test_a_bad_row_is_named_by_row_and_field(
        self, env: dict[str, str], tmp_path: Path
    ) -> None:
        """Row 2's signing key: named, never quoted."""
        hpke, _ = keys()
        file = tmp_path / "peers.csv"
        file.write_text(HEADER + f"peer-north,North,E08000001,https://n.example,{hpke},"
                                 "SECRET-LOOKING-VALUE,demo,\n")  # fmt: skip
        done = await sgb(env, "peer", "import", str(file), "--operator", "ops-1")
        assert done.exit_code == 1
        assert "row 2" in done.output
        assert "signing_key" in done.output
        assert "SECRET-LOOKING-VALUE" not in done.output


class TestPeerCard:
    async def test_the_card_registers_this_broker_at_the_other_side(
        self, env: dict[str, str], tmp_path: Path
    ) -> None:
        """Public keys only; with the other side's ids added, it is a valid peer."""
        done = await sgb(env, "peer", "card", "--gateway-url", "https://b.example",
                         "--area", "E08000001")  # fmt: skip
        assert done.exit_code == 0, done.output
        fields = json.loads(done.output)
        assert "PRIVATE" not in done.output
        public = KeyStore.load(Path(env["SGB_KEYS_DIR"]), frozenset()).public
        assert fields["broker_key"] == crypto.encode_public(public.hpke)
        peer = PeerSpec.model_validate(fields | {"id": "peer-b", "name": "B",
                                                 "known_there_as": "peer-a"})  # fmt: skip
        assert peer.areas == ("E08000001",)
        assert peer.recipients_api_url == "https://b.example"  # no --api-url: the gateway's

    async def test_the_card_names_a_recipient_api_apart(self, env: dict[str, str]) -> None:
        """With --api-url, receipts are to go there, not to the gateway."""
        done = await sgb(env, "peer", "card", "--gateway-url", "https://b.example",
                         "--api-url", "https://inbox.b.example", "--area", "E08000001")  # fmt: skip
        assert done.exit_code == 0, done.output
        assert json.loads(done.output)["api_url"] == "https://inbox.b.example"
