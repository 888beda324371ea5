"""``sgb org`` and ``sgb key-changes``: register an organisation and its signing keys from the
command line, by the admin API's rules (broker.services.org_keys).

    sgb org add gp-elm --name "Elm Surgery" --kind gp_practice --area E06000099 \\
        --signing-key elm.pub.pem                       # the key is held for approval
    sgb org key list gp-elm                             # key ids and validity
    sgb org key add gp-elm next.pub.pem                 # held for approval
    sgb org key revoke gp-elm 3f2a9c0d1e2b4a5c          # held for approval
    sgb key-changes list                                # what awaits approval
    sgb key-changes approve <change id> --operator ops-2  # another operator than the proposer
    sgb key-changes withdraw <change id>                # the proposer alone

A key is the base64 of the raw 32-byte Ed25519 public key or a PEM file holding it (what
``openssl pkey -pubout`` writes). Each step is audited under the operator (default: the OS
user), the proposer named in the approval; key changes name them ``operator:<name>``, never
to be taken for the administrator organisation of that name (broker.rules.actors), so a name
holding ':' is refused.
"""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from pydantic import ValidationError

from broker.config import Settings
from broker.entrypoints.cli_units import invalid, run, unit
from broker.entrypoints.operators import operator_actor
from broker.errors import BrokerError
from broker.ports import AuditRecord, KeyChangeView
from broker.rules.actors import Actor
from broker.services import key_changes, org_keys
from broker.services.directory_changes import Outcome
from producers import crypto
from schemas.directory import OrganisationSpec, SigningKeySpec

app = typer.Typer(help="Organisations and their signing keys.", no_args_is_help=True,
                  pretty_exceptions_enable=False)  # fmt: skip
keys_app = typer.Typer(help="An organisation's signing keys (changes held for approval).",
                       no_args_is_help=True, pretty_exceptions_enable=False)  # fmt: skip
changes_app = typer.Typer(help="Key changes awaiting a second operator's approval.",
                          no_args_is_help=True, pretty_exceptions_enable=False)  # fmt: skip
app.add_typer(keys_app, name="key")
Operator = Annotated[str | None, typer.Option(help="who makes the change (default: OS user)")]
When = Annotated[datetime | None, typer.Option(help="ISO 8601 with its offset")]


@app.command("add")
def add(
    org_id: str,
    name: Annotated[str, typer.Option(help="as recipients will read it")],
    kind: Annotated[str, typer.Option(help="school, gp_practice, health_visiting, ...")],
    area: Annotated[str, typer.Option(help="the local authority's GSS code, e.g. E06000099")],
    phone: Annotated[str | None, typer.Option()] = None,
    ods_code: Annotated[str | None, typer.Option(help="NHS ODS code")] = None,
    signing_key: Annotated[str | None, typer.Option(help="base64 key or PEM file")] = None,
    operator: Operator = None,
) -> None:
    """Registers an organisation at once; its signing key is held for another's approval."""
    try:
        spec = OrganisationSpec(id=org_id, name=name, kind=kind, area=area, phone=phone,
                                ods_code=ods_code)  # fmt: skip
        key = SigningKeySpec(public_key=public_key_text(signing_key)) if signing_key else None
    except ValidationError as exc:
        raise invalid(exc) from None
    actor = operator_actor(operator)
    outcome, held = run(_add(spec, key, actor))
    typer.echo(f"organisation {org_id}: {outcome}")
    if held is not None:
        typer.echo(_held_line(held))


@keys_app.command("add")
def key_add(
    org_id: str,
    key: Annotated[str, typer.Argument(help="base64 of the raw Ed25519 key, or a PEM file")],
    valid_from: When = None,
    valid_until: When = None,
    operator: Operator = None,
) -> None:
    """Proposes one more signing key for the organisation."""
    try:
        spec = SigningKeySpec(public_key=public_key_text(key), valid_from=valid_from,
                              valid_until=valid_until)  # fmt: skip
    except ValidationError as exc:
        raise invalid(exc) from None
    typer.echo(_held_line(run(_add_key(org_id, spec, operator_actor(operator)))))


@keys_app.command("revoke")
def key_revoke(org_id: str, key_id: str, operator: Operator = None) -> None:
    """Proposes ending the key now (kept on record, valid until the moment of the proposal)."""
    typer.echo(_held_line(run(_revoke(org_id, key_id, operator_actor(operator)))))


@keys_app.command("list")
def key_list(org_id: str) -> None:
    """The organisation's signing keys on record: key id, validity, public key."""
    spec = run(_on_record(org_id))
    for k in spec.signing_keys:
        since = k.valid_from.isoformat() if k.valid_from else "-"
        until = k.valid_until.isoformat() if k.valid_until else "-"
        typer.echo(f"{org_keys.key_id(k.public_key)} from {since} until {until} {k.public_key}")
    if not spec.signing_keys:
        typer.echo("no signing keys")


@changes_app.command("list")
def changes_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every key change awaiting approval, oldest first."""
    rows = run(_pending())
    for row in rows:
        line = {"change_id": row.id, "entity": row.entity, "entity_id": row.entity_id,
                "key_ids": row.key_ids, "requested_by": row.requested_by,
                "requested_at": row.requested_at.isoformat()}  # fmt: skip
        typer.echo(json.dumps(line) if as_json else " ".join(str(v) for v in line.values()))
    if not rows and not as_json:
        typer.echo("no key changes await approval")


@changes_app.command("approve")
def changes_approve(change_id: str, operator: Operator = None) -> None:
    """Applies a change another operator proposed (the proposer cannot)."""
    done = run(_decide(change_id, operator_actor(operator), approve=True))
    typer.echo(f"key change {change_id} approved: {done}")


@changes_app.command("withdraw")
def changes_withdraw(change_id: str, operator: Operator = None) -> None:
    """Withdraws a change the operator proposed."""
    run(_decide(change_id, operator_actor(operator), approve=False))
    typer.echo(f"key change {change_id} withdrawn")


def public_key_text(given: str) -> str:
    """The key as base64 of its raw 32 bytes: given so, or read from a PEM file."""
    path = Path(given)
    if not given.startswith("-") and path.is_file():
        try:
            key = load_pem_public_key(path.read_bytes())
        except ValueError:
            key = None
        if not isinstance(key, Ed25519PublicKey):
            typer.echo(f"not changed: {path.name} holds no Ed25519 public key (PEM)", err=True)
            raise typer.Exit(1)
        return crypto.encode_public(key)
    return given


def _held_line(held: key_changes.Pending | Outcome | None) -> str:
    if isinstance(held, key_changes.Pending):
        return (f"signing keys of {held.entity_id}: held for approval as key change "
                f"{held.change_id} (sgb key-changes approve, by another operator)")  # fmt: skip
    return f"signing keys: {held or 'unchanged'}"


async def _add(
    spec: OrganisationSpec, key: SigningKeySpec | None, actor: Actor
) -> tuple[Outcome, key_changes.Pending | Outcome | None]:
    async with unit(Settings()) as uow:
        return await org_keys.add_organisation(uow, spec, key, actor, datetime.now(UTC))


async def _add_key(org_id: str, key: SigningKeySpec, actor: Actor) -> key_changes.Pending | Outcome:
    async with unit(Settings()) as uow:
        return await org_keys.add_key(uow, org_id, key, actor, datetime.now(UTC))


async def _revoke(org_id: str, key_id: str, actor: Actor) -> key_changes.Pending | Outcome:
    async with unit(Settings()) as uow:
        return await org_keys.revoke_key(uow, org_id, key_id, actor, datetime.now(UTC))


async def _on_record(org_id: str) -> OrganisationSpec:
    async with unit(Settings()) as uow:
        return await org_keys.on_record(uow, org_id)


async def _pending() -> list[KeyChangeView]:
    settings = Settings()
    async with unit(settings) as uow:
        return await key_changes.pending(uow, datetime.now(UTC), _expiry(settings))


async def _decide(change_id: str, operator: Actor, *, approve: bool) -> str:
    """Approves or withdraws; a refusal (own change, someone else's, lapsed) is audited in a
    transaction of its own, as the admin API does, then reported."""
    settings, now = Settings(), datetime.now(UTC)
    try:
        async with unit(settings) as uow:
            if not approve:
                await key_changes.withdraw(uow, change_id, operator, now)
                return "withdrawn"
            done = await key_changes.approve(uow, change_id, operator, now,
                                             settings.webhooks.allowed_networks,
                                             _expiry(settings))  # fmt: skip
            return f"{done.entity_id} {done.outcome}"
    except (key_changes.OwnChange, key_changes.NotOwnChange, key_changes.Lapsed) as refused:
        await _audit_refusal(settings, change_id, operator, refused, now)
        raise


async def _audit_refusal(
    settings: Settings, change_id: str, operator: Actor, refused: BrokerError, now: datetime
) -> None:
    """Recorded as the admin API records it: a lapsed change's refusal, or access refused."""
    if isinstance(refused, key_changes.Lapsed):
        record = AuditRecord("key_change_refused", str(operator), f"key_change:{change_id}",
                             {"reason": refused.reason, "via": "cli"})  # fmt: skip
    else:
        reason = "own_key_change" if isinstance(refused, key_changes.OwnChange) else (
            "not_own_key_change")  # fmt: skip
        record = AuditRecord("access_refused", str(operator), f"key_change:{change_id}",
                             {"reason": reason, "via": "cli"})  # fmt: skip
    async with unit(settings) as uow:
        await uow.audit.append(record, now)


def _expiry(settings: Settings) -> timedelta:
    return timedelta(hours=settings.key_change_expiry_hours)
