"""``sgb contact``: a contact's alert channels and web inbox sign-in links (command line).

    sgb contact alerts school-oakfield:key_adult                        # show them
    sgb contact alerts school-oakfield:key_adult --email dsl@oakfield.sch.uk --mobile 07700900123
    sgb contact alerts school-oakfield:key_adult --clear                # no alerts
    sgb contact alerts-import alert_channels.csv                        # contact_id,email,mobile
    sgb contact alerts-failing --days 7 [--json]                        # whose alerts fail
    sgb contact sign-in-link school-oakfield:key_adult                  # web inbox, once
    sgb contact passkeys list school-oakfield:key_adult [--json]        # its passkeys
    sgb contact passkeys revoke school-oakfield:key_adult 3f9a0c1d2e4b  # one signs in no more
    sgb contact add school-oakfield:key_adult --org school-oakfield --role key_adult \
        --hpke-public-key <base64> [--webhook-url https://...] [--mesh-mailbox X26OT123]
        [--email dsl@oakfield.sch.uk --mobile 07700900123]   # a new key: held for approval

Each change is recorded under the operator (default: the OS user), as directory writes are.
An error names the field, never the address.
"""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from broker.adapters.alert_channels_csv import read_alert_channels
from broker.config import Settings
from broker.entrypoints.cli_units import invalid, run, unit
from broker.entrypoints.operators import operator_name
from broker.ports import AlertFailures
from broker.rules import actors
from broker.services import alert_channels, alerts, key_changes, passkey_list, web_sign_in
from broker.services.passkey_list import PasskeyLine
from schemas.alerts import AlertChannelsSpec
from schemas.directory import ContactSpec

app = typer.Typer(help="Alert channels and web inbox sign-in links.", no_args_is_help=True,
                  pretty_exceptions_enable=False)  # fmt: skip
Operator = Annotated[str | None, typer.Option(help="who makes the change (default: OS user)")]
# For an operator when no administrator can sign in to the web inbox's passkey pages.
passkeys_app = typer.Typer(help="A contact's web inbox passkeys: list, revoke.",
                           no_args_is_help=True, pretty_exceptions_enable=False)  # fmt: skip
app.add_typer(passkeys_app, name="passkeys")


@app.command("alerts")
def set_alerts(
    contact_id: str,
    email: Annotated[list[str] | None, typer.Option(help="an email address (repeatable)")] = None,
    mobile: Annotated[str | None, typer.Option(help="a UK mobile number")] = None,
    clear: Annotated[bool, typer.Option(help="remove every channel")] = False,
    operator: Operator = None,
) -> None:
    """Shows the contact's channels; with --email/--mobile (or --clear) replaces them."""
    if not (email or mobile or clear):
        spec = run(_show(Settings(), contact_id))
        typer.echo(spec.model_dump_json())
        return
    try:
        spec = AlertChannelsSpec(emails=tuple(email or ()), mobile=mobile)
    except ValidationError as exc:
        fields = sorted({str(e["loc"][0]) for e in exc.errors()})
        typer.echo(f"not changed: invalid {', '.join(fields)}", err=True)
        raise typer.Exit(1) from None
    typer.echo(run(_set(Settings(), {contact_id: spec}, operator_name(operator))))


@app.command("add")
def add_contact(
    contact_id: str,
    org: Annotated[str, typer.Option(help="the organisation's id")],
    role: Annotated[str, typer.Option(help="key_adult, safeguarding_lead, duty_manager, ...")],
    hpke_public_key: Annotated[str, typer.Option(help="base64 X25519 (or hybrid) key")],
    webhook_url: Annotated[
        str | None, typer.Option(help="https endpoint for signed pushes")
    ] = None,
    mesh_mailbox: Annotated[str | None, typer.Option(help="NHS MESH mailbox id")] = None,
    email: Annotated[list[str] | None, typer.Option(help="an alert email (repeatable)")] = None,
    mobile: Annotated[str | None, typer.Option(help="a UK mobile for SMS alerts")] = None,
    operator: Operator = None,
) -> None:
    """Adds (or replaces) a recipient. A new contact or a new key is held for another
    operator's approval (sgb key-changes approve), as the admin API holds it; alert channels
    are set with the contact when it applies at once, else once it is approved."""
    try:
        spec = ContactSpec(id=contact_id, org_id=org, role=role, hpke_public_key=hpke_public_key,
                           webhook_url=webhook_url, mesh_mailbox=mesh_mailbox)  # fmt: skip
        alerts_spec = AlertChannelsSpec(emails=tuple(email or ()), mobile=mobile)
    except ValidationError as exc:
        raise invalid(exc) from None
    channels = alerts_spec if (email or mobile) else None
    for line in run(_add(Settings(), spec, channels, operator_name(operator))):
        typer.echo(line)


@app.command("alerts-import")
def import_alerts(path: Path, operator: Operator = None) -> None:
    """Sets the channels of each contact a CSV file names (contact_id,email,mobile)."""
    specs = run(_read(path))
    typer.echo(run(_set(Settings(), specs, operator_name(operator))))


@app.command("alerts-failing")
def failing_alerts(
    days: Annotated[int, typer.Option(min=1, help="over the last N days")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines, for tools")] = False,
) -> None:
    """Contacts whose alerts died or are being retried: put their addresses right."""
    lines = run(_failing(Settings(), timedelta(days=days)))
    for line in lines:
        typer.echo(json.dumps(_as_dict(line)) if as_json else _as_line(line))
    if not lines and not as_json:
        typer.echo("no failing alerts")


@app.command("sign-in-link")
def sign_in_link(contact_id: str, operator: Operator = None) -> None:
    """Prints a one-time sign-in link to the web inbox for the contact's person (15 minutes)."""
    typer.echo(run(_sign_in_link(Settings(), contact_id, operator_name(operator))))


@passkeys_app.command("list")
def list_passkeys(
    contact_id: str,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines, for tools")] = False,
    operator: Operator = None,
) -> None:
    """The contact's passkeys, oldest first: reference, authenticator, person, when set up and
    last used (never the passkey's id or keys). The read is audited."""
    lines = run(_passkeys(Settings(), contact_id, operator_name(operator)))
    for line in lines:
        typer.echo(json.dumps(_passkey_dict(line)) if as_json else _passkey_line(line))
    if not lines and not as_json:
        typer.echo("no passkeys")


@passkeys_app.command("revoke")
def revoke_passkey(contact_id: str, reference: str, operator: Operator = None) -> None:
    """Removes the passkey of that reference (from ``list``): it signs in no more. Audited."""
    line = run(_revoke(Settings(), contact_id, reference, operator_name(operator)))
    typer.echo(f"revoked: {_passkey_line(line)}")


async def _passkeys(settings: Settings, contact_id: str, actor: str) -> list[PasskeyLine]:
    async with unit(settings) as uow:
        return await passkey_list.passkeys_of(uow, contact_id, actor, datetime.now(UTC))


async def _revoke(settings: Settings, contact_id: str, reference: str, actor: str) -> PasskeyLine:
    async with unit(settings) as uow:
        return await passkey_list.revoke(uow, contact_id, reference, actor, datetime.now(UTC))


def _passkey_dict(line: PasskeyLine) -> dict[str, str | None]:
    used = line.last_used_at.isoformat() if line.last_used_at else None
    return {"reference": line.reference, "authenticator": line.authenticator,
            "person_id": line.person_id, "enrolled_at": line.enrolled_at.isoformat(),
            "last_used_at": used}  # fmt: skip


def _passkey_line(line: PasskeyLine) -> str:
    used = f"{line.last_used_at:%Y-%m-%d %H:%M} UTC" if line.last_used_at else "never"
    return (f"{line.reference} {line.authenticator}, person {line.person_id}, set up "
            f"{line.enrolled_at:%Y-%m-%d %H:%M} UTC, last used {used}")  # fmt: skip


async def _add(
    settings: Settings, spec: ContactSpec, channels: AlertChannelsSpec | None, actor: str
) -> list[str]:
    now, networks = datetime.now(UTC), settings.webhooks.allowed_networks
    async with unit(settings) as uow:
        done = await key_changes.put_contact(uow, spec, actors.operator(actor), now, networks)
        if not isinstance(done, key_changes.Pending):
            set_ = await alert_channels.set_channels(uow, spec.id, channels, actor, now) if (
                channels) else "unchanged"  # fmt: skip
            return [f"contact {spec.id}: {done}", f"alert channels: {set_}"]
    lines = [f"contact {spec.id}: held for approval as key change {done.change_id} "
             "(sgb key-changes approve, by another operator)"]  # fmt: skip
    if channels:
        lines.append(f"alert channels: not set yet: once approved, sgb contact alerts {spec.id}")
    return lines


async def _sign_in_link(settings: Settings, contact_id: str, actor: str) -> str:
    from broker.entrypoints.sign_in_routes import sign_in_url  # FastAPI: this command's alone

    async with unit(settings) as uow:
        issued = await web_sign_in.issue_link(uow, contact_id, actor, datetime.now(UTC))
    return sign_in_url(settings.inbox_base_url, issued.token)


async def _read(path: Path) -> dict[str, AlertChannelsSpec]:
    return read_alert_channels(path)


async def _show(settings: Settings, contact_id: str) -> AlertChannelsSpec:
    async with unit(settings) as uow:
        return await alert_channels.channels_of(uow, contact_id)


async def _set(settings: Settings, specs: dict[str, AlertChannelsSpec], actor: str) -> str:
    async with unit(settings) as uow:
        counts = await alert_channels.set_many(uow, specs, actor, datetime.now(UTC))
    return "alert channels: " + (", ".join(f"{n} {a}" for a, n in counts.items()) or "none")


async def _failing(settings: Settings, window: timedelta) -> list[AlertFailures]:
    async with unit(settings) as uow:
        return await alerts.failing(uow, datetime.now(UTC), window)


def _as_dict(line: AlertFailures) -> dict[str, str | int | None]:
    at = line.last_failed_at.isoformat() if line.last_failed_at else None
    return {"contact_id": line.contact_id, "channel": line.channel_kind, "dead": line.dead,
            "retrying": line.retrying, "last_error": line.last_error,
            "last_failed_at": at}  # fmt: skip


def _as_line(line: AlertFailures) -> str:
    return (f"{line.contact_id} {line.channel_kind}: {line.dead} given up, {line.retrying} "
            f"retrying, last error {line.last_error or '-'}: check the address")  # fmt: skip
