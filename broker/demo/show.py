"""Prints each recipient's inbox, opened with that recipient's own private key."""

import time
from datetime import datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from broker.adapters.crypto import RecipientPrivateKey
from broker.demo import family
from broker.errors import EnvelopeError
from broker.keys import BrokerPublicKeys
from broker.rules.deadlines import LONDON
from producers.auth import OrganisationAuth
from producers.receiver import NoticeReceiver
from schemas.notices import NoticeBody, NoticeHeader, PersonView, SchoolGuidance, SealedNotice


def show_inbox(
    console: Console,
    port: int,
    recipients: dict[str, RecipientPrivateKey],
    broker: BrokerPublicKeys,
    organisations: dict[str, Ed25519PrivateKey],
) -> None:
    """Each organisation signs in with its own key and reads its own recipients' inboxes."""
    owners = {contact: org for contact, org, _ in family.contacts()}
    answers: list[str] = []
    auths = {org: OrganisationAuth(org, key) for org, key in organisations.items()}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        for recipient_id, key in recipients.items():
            client.auth = auths[owners[recipient_id]]
            listed = client.get(f"/v1/recipients/{recipient_id}/notices").json()
            if not listed:
                continue
            console.rule(f"[bold cyan]{recipient_id}[/]: {len(listed)} notice(s)")
            receiver = NoticeReceiver(key, broker)
            for item in listed:
                url = f"/v1/recipients/{recipient_id}/notices/{item['notice_id']}"
                sealed = SealedNotice.model_validate(client.get(url).json()["sealed"])
                header, body = receiver.open(sealed)
                console.print(_panel(header, body))
                answers.append(_answer(console, client, url, recipient_id, answers))
        client.auth = auths["school-oakfield"]
        _show_wrong_key_fails(console, client, recipients, broker)
        client.auth = auths["la-front-door"]
        receiver = NoticeReceiver(recipients[FRONT_DOOR], broker)
        show_follow_ups(console, client, receiver, answers.count("lapsed"))
        show_chronology(console, client, "h-carter")


def _answer(
    console: Console, client: httpx.Client, url: str, recipient_id: str, earlier: list[str]
) -> str:
    """Most recipients acknowledge; one school rejects a notice, one GP lets them lapse."""
    client.post(f"{url}/receipts", json={"receipt": "viewed"}).raise_for_status()
    if recipient_id == LAPSING_GP:
        console.print("[yellow]Left unacknowledged: it escalates when its deadline passes.")
        return "lapsed"
    if recipient_id == REJECTING_SCHOOL and "rejected" not in earlier:
        rejection = {"receipt": "rejected", "reason": REJECTION_REASON}
        client.post(f"{url}/receipts", json=rejection).raise_for_status()
        console.print(f"[yellow]Rejected ({REJECTION_REASON!r}): it goes on to the front door.")
        return "rejected"
    client.post(f"{url}/receipts", json={"receipt": "acknowledged"}).raise_for_status()
    return "acknowledged"


def show_follow_ups(
    console: Console, client: httpx.Client, receiver: NoticeReceiver, lapsed: int
) -> None:
    """Waits for the follow-ups (the GP's escalations, re-routed rejections) at the front
    door, and shows each as its recipient reads it."""
    console.rule("[bold]Follow-ups at the front door: escalations and rejections")
    follow_ups: list[dict[str, Any]] = []
    inbox = f"/v1/recipients/{FRONT_DOOR}/notices"
    deadline = time.monotonic() + FOLLOW_UP_WAIT_S
    while time.monotonic() < deadline:
        follow_ups = [n for n in client.get(inbox).json() if n["header"]["follows"]]
        escalations = [n for n in follow_ups if n["header"]["follow_up"] == "escalation"]
        if len(escalations) >= lapsed:
            break
        time.sleep(1)
    for item in follow_ups:
        fetched = client.get(f"{inbox}/{item['notice_id']}").json()
        header, body = receiver.open(SealedNotice.model_validate(fetched["sealed"]))
        console.print(_panel(header, body))


FRONT_DOOR = "la-front-door:duty_manager"
LAPSING_GP = "gp-hillview:safeguarding_lead"
REJECTING_SCHOOL = "school-oakfield:key_adult"
REJECTION_REASON = "Child B left Oakfield last week"
FOLLOW_UP_WAIT_S = 90


def show_chronology(console: Console, client: httpx.Client, household: str) -> None:
    """The household's multi-agency chronology: who was told what, and when."""
    lines = client.get(f"/v1/households/{household}/chronology").json()
    table = Table(title=f"Chronology of household {household}", title_justify="left")
    for column in ("when (London)", "what", "event", "recipient", "rule", "severity"):
        table.add_column(column)
    for line in lines:
        at = datetime.fromisoformat(line["at"]).astimezone(LONDON).strftime("%d %b %H:%M:%S")
        table.add_row(at, line["kind"], line["event_type"], line["recipient_id"] or "",
                      line["rule_id"] or "", line["severity"] or "")  # fmt: skip
    console.print(table)


def _panel(header: NoticeHeader, body: NoticeBody) -> Panel:
    table = Table.grid(padding=(0, 2))
    # The rule as its reader sees it: in the sealed body, withheld from a school where its
    # name would say what happened; the notice's id is then the reference to quote.
    rule = body.rule_id or f"reference {header.notice_id}"
    table.add_row("severity", f"{header.severity.value}   rule: {rule}")
    table.add_row("sealed", header.suite.value)
    table.add_row("deadline", header.deadline.astimezone(LONDON).strftime("%a %d %b %Y %H:%M %Z"))
    if header.follow_up:
        table.add_row("follows", f"{header.follow_up.value} (level {header.escalation_level}) "
                                 f"of notice {header.follows}")  # fmt: skip
    table.add_row("about", ", ".join(_person(p) for p in body.about) or "-")
    if body.facts:
        table.add_row("why", ", ".join(f"{k}={v}" for k, v in body.facts.items()))
    if body.detail:
        table.add_row("detail", ", ".join(f"{k}={v}" for k, v in body.detail.items()))
    table.add_row("call", body.who_to_call or "-")
    if body.school:
        _school_rows(table, body.school)
    title = f"{header.notice_type.value} from {body.source_org} ({body.event_type})"
    return Panel(table, title=title, subtitle=body.summary[:90], expand=False)


def _school_rows(table: Table, school: SchoolGuidance) -> None:
    """What a school's key adult is asked to do, by when, and the reference to quote."""
    when = school.happened_at or school.stopped_on
    shown = when.strftime("%a %d %b %Y %H:%M") if isinstance(when, datetime) else when
    table.add_row("what", f"{school.matter.value}" + (f", {shown}" if shown else ""))
    table.add_row("act by", f"{school.act_by:%a %d %b %Y %H:%M} ({school.act_by_wording})")
    table.add_row("do", ", ".join(a.removeprefix("school.action.") for a in school.actions))
    for plan in school.open_plans:
        lead = plan.lead_professional
        named = (lead.name or lead.role) if lead else None
        table.add_row("plan", f"{plan.kind.value}: {named or 'lead not known'}")
    table.add_row("reference", school.reference)


def _person(view: PersonView) -> str:
    parts = (view.given_name, view.family_name)
    name = " ".join(p for p in parts if p) or "unnamed"
    born = view.date_of_birth
    nhs = view.nhs_number
    return name + (f" (born {born})" if born else "") + (f" NHS {nhs}" if nhs else "")


def _show_wrong_key_fails(
    console: Console, client: httpx.Client, recipients: dict[str, RecipientPrivateKey],
    broker: BrokerPublicKeys,
) -> None:  # fmt: skip
    owner, intruder = "school-oakfield:key_adult", "gp-hillview:safeguarding_lead"
    listed = client.get(f"/v1/recipients/{owner}/notices").json()
    if not listed:
        return
    url = f"/v1/recipients/{owner}/notices/{listed[0]['notice_id']}"
    sealed = SealedNotice.model_validate(client.get(url).json()["sealed"])
    try:
        NoticeReceiver(recipients[intruder], broker).open(sealed)
        console.print("[red]A notice opened with another recipient's key: this must not happen")
    except EnvelopeError:
        console.print(f"[green]Checked: {intruder} cannot open a notice sealed to {owner}.")
