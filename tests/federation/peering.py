"""Peering the federation's two brokers, as their operators would, for any test that moves a
family across: each registers the other through its admin API, and B's administrator loads
the Morgans' registrations with their new school and GP in Bristol."""

from datetime import UTC, datetime

from .conftest import Federation
from .harness import Broker
from .partnerships import ENGLAND, WALES
from .partnerships import _person as person_spec


def peer_id(broker: Broker) -> str:
    """How the other broker knows this one: its organisation id there."""
    return f"peer-{broker.partnership.name.lower()}"


async def register_peers(pair: Federation) -> None:
    """Each side registers the other through its admin API, as its directory's administrator
    (the front door here) would, with what ``sgb peer card`` prints on the other side."""
    for here, there in ((pair.a, pair.b), (pair.b, pair.a)):
        spec = there.as_peer(known_there_as=peer_id(here))
        answer = await here.admin.put(f"/v1/admin/peers/{spec['id']}", json=spec)
        assert answer.status_code in (200, 201), answer.text


async def registered_at_b(pair: Federation) -> None:
    """Before the move, the Morgans registered with their new school and GP in Bristol: B's
    administrator loads them (a household in Bristol, Owen at the school, all at the GP). A
    family B did not know would still reach its front door as the transfer, and wait in its
    matching queue too (tested in tests/integration/test_peer_transfers.py)."""
    school, gp = ENGLAND.org("school"), ENGLAND.org("gp_practice")
    today = datetime.now(UTC).date()
    people = [person_spec(m, today).model_dump(mode="json") for m in WALES.members]
    spec = {
        "people": people,
        "households": [{"id": "h-morgan-bristol", "area": ENGLAND.area, "members": [
            {"person_id": m.record_id, "role": m.role} for m in WALES.members]}],
        "registrations": [{"person_id": m.record_id, "kind": "gp", "org_id": gp}
                          for m in WALES.members]
        + [{"person_id": m.record_id, "kind": "school", "org_id": school}
           for m in WALES.members if m.school],
    }  # fmt: skip
    answer = await pair.b.admin.post("/v1/admin/import", json=spec)
    assert answer.status_code == 200, answer.text
