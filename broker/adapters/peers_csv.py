"""Reads peer brokers from a CSV file (``sgb peer import peers.csv``), one peer a row:

    peers.csv   id,name,areas,gateway_url,broker_key,signing_key,known_there_as,phone[,api_url]

``areas`` lists the authorities the peer serves, separated by spaces; ``signing_key`` is the
peer's Ed25519 public key (base64); ``api_url``, its recipient API (where receipts go), may be
left out or empty when that API is at the gateway's URL. Faults are ``CsvImportError`` naming
the file, the row and the field, never the value, as for the directory's own files.
"""

from pathlib import Path

from broker.adapters.csv_import import Row, read_rows
from broker.errors import CsvImportError
from schemas.directory import SigningKeySpec
from schemas.peers import PeerSpec

FILE = "peers.csv"
SAME = ("id", "name", "gateway_url", "api_url", "broker_key", "known_there_as", "phone")


def read_peers(path: Path) -> list[PeerSpec]:
    if not path.exists():
        raise CsvImportError(path.name, None, None, "no such file")
    if path.name != FILE:
        raise CsvImportError(path.name, None, None, f"name the file {FILE}")
    rows = read_rows(path)
    peers = [_peer(row) for row in rows]
    seen: set[str] = set()
    for row, peer in zip(rows, peers, strict=True):
        if peer.id in seen:
            raise row.fault("id", "a second row for the same peer")
        seen.add(peer.id)
    return peers


def _peer(row: Row) -> PeerSpec:
    areas = tuple((row.cells.get("areas") or "").split())
    key = row.parse(SigningKeySpec, {"public_key": "signing_key"})
    return row.parse(PeerSpec, {name: name for name in SAME}, areas=areas, signing_keys=(key,))
