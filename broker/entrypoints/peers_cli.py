"""``sgb peer add FILE``: registers a peer broker from a JSON file (``schemas.peers.PeerSpec``);
``sgb peer import peers.csv``: every peer in a CSV file (``broker.adapters.peers_csv``);
``sgb peer card``: what the other side needs to register this broker (public keys only).

Registration is two-sided: each partnership's administrator registers the other's broker
(its areas, gateway URL, recipient API URL, broker HPKE key and signing key, and the id this
broker has in the other's directory). A file that is not a valid peer is refused naming the
fields at fault, never their values.
"""

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError

from broker.config import Settings
from broker.entrypoints.operators import operator_actor
from broker.errors import BrokerError
from producers import crypto
from schemas.peers import PeerSpec

if TYPE_CHECKING:
    from broker.services.peers import Registered

app = typer.Typer(help="Peer brokers: other partnerships' brokers.", no_args_is_help=True)


@app.command("add")
def add(
    file: Path,
    operator: Annotated[str, typer.Option(help="who registers the peer, recorded as its author")],
) -> None:
    """Register a peer broker, or bring it up to date; a change of its keys is held for an
    administrator's approval, as any organisation's is."""
    from broker.entrypoints.peers_admin import add_peer

    try:
        spec = PeerSpec.model_validate_json(file.read_bytes())
    except ValidationError as exc:
        wrong = ", ".join(".".join(map(str, e["loc"])) or "(file)" for e in exc.errors())
        typer.echo(f"not a peer: check {wrong}", err=True)
        raise typer.Exit(1) from None
    try:
        done = asyncio.run(add_peer(spec, Settings(), operator_actor(operator)))
    except BrokerError as exc:
        typer.echo(f"peer not registered: {exc}", err=True)
        raise typer.Exit(1) from None
    _report(spec.id, done)


@app.command("import")
def import_csv(
    file: Path,
    operator: Annotated[str, typer.Option(help="who registers the peers, recorded as author")],
) -> None:
    """Register every peer broker in a peers.csv file (columns: id, name, areas separated by
    spaces, gateway_url, broker_key, signing_key, known_there_as, phone, optional api_url),
    one at a time."""
    from broker.adapters.peers_csv import read_peers
    from broker.entrypoints.peers_admin import add_peer

    try:
        specs = read_peers(file)
        for spec in specs:
            _report(spec.id, asyncio.run(add_peer(spec, Settings(), operator_actor(operator))))
    except BrokerError as exc:
        typer.echo(f"stopped: {exc}", err=True)
        raise typer.Exit(1) from None


@app.command("card")
def card(
    gateway_url: Annotated[str, typer.Option(help="this broker's public base URL")],
    areas: Annotated[list[str], typer.Option("--area", help="an authority this broker serves")],
    api_url: Annotated[
        str | None,
        typer.Option(
            help="this broker's recipient (inbox) API base URL, where peers send receipts; "
            "omit when it is served at the gateway's URL"
        ),
    ] = None,
) -> None:
    """Print what the other partnership's administrator needs to register this broker as
    their peer (no secret: public keys only). They add the id this broker is to have in their
    directory, its name, and ``known_there_as``: the id their broker has in this one."""
    from broker.errors import KeyFileError
    from broker.keys import KeyStore

    try:
        public = KeyStore.load(Settings().keys_dir, frozenset()).public
    except KeyFileError as exc:
        typer.echo(f"no card: {exc}", err=True)
        raise typer.Exit(1) from None
    fields = {"areas": areas, "gateway_url": gateway_url, "api_url": api_url or gateway_url,
              "broker_key": crypto.encode_public(public.hpke),
              "signing_keys": [{"public_key": crypto.encode_public(public.signing)}]}  # fmt: skip
    typer.echo(json.dumps(fields, indent=2))


def _report(peer: str, done: "Registered") -> None:
    typer.echo(f"peer {peer}: {done.outcome}")
    for change in done.pending:
        typer.echo(f"key change held for approval: {change}")
