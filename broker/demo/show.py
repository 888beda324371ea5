"""Prints each recipient's inbox, opened with that recipient's own private key."""

import time
from datetime import datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from broker.demo import family
from broker.errors import EnvelopeError
from broker.rules.deadlines import LONDON
from producers.auth import OrganisationAuth
from producers.broker_keys import BrokerPublicKeys
from producers.crypto import RecipientPrivateKey
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
        receivers = {c: NoticeReceiver(k, broker) for c, k in recipients.items()}
        _what_follows(console, client, auths, receivers, answers)


def _what_follows(
    console: Console, client: httpx.Client, auths: dict[str, OrganisationAuth],
    receivers: dict[str, NoticeReceiver], answers: list[str],
) -> None:  # fmt: skip
    """The follow-ups (a rejection re-routed to the front door, the lapsing GP's escalations
    at the integrated care board), the front door's decision and the referrer's outcome,
    then the household's chronology."""
    client.auth = auths["la-front-door"]
    show_follow_ups(console, client, receivers[FRONT_DOOR], FRONT_DOOR,
                    reroutes=answers.count("rejected"))  # fmt: skip
    client.auth = auths["icb-demo"]
    show_follow_ups(console, client, receivers[ICB], ICB, escalations=answers.count("lapsed"))
    client.auth = auths["la-front-door"]
    if _decide_referral(console, client, receivers[FRONT_DOOR]):
        client.auth = auths["mh-demo"]
        show_outcome(console, client, receivers[REFERRER])
    client.auth = auths["la-front-door"]
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
    console: Console, client: httpx.Client, receiver: NoticeReceiver, recipient: str,
    escalations: int = 0, reroutes: int = 0,
) -> None:  # fmt: skip
    """Waits for the follow-ups in ``recipient``'s inbox (at the front door, re-routed
    rejections; at the integrated care board, the GP's escalations), and shows each as its
    recipient reads it."""
    console.rule(f"[bold]Follow-ups for {recipient}: escalations and rejections")
    follow_ups: list[dict[str, Any]] = []
    inbox = f"/v1/recipients/{recipient}/notices"
    deadline = time.monotonic() + FOLLOW_UP_WAIT_S
    while time.monotonic() < deadline:
        follow_ups = [n for n in client.get(inbox).json() if n["header"]["follows"]]
        kinds = [n["header"]["follow_up"] for n in follow_ups]
        if kinds.count("escalation") >= escalations and kinds.count("reroute") >= reroutes:
            break
        time.sleep(POLL_S)
    for item in follow_ups:
        fetched = client.get(f"{inbox}/{item['notice_id']}").json()
        header, body = receiver.open(SealedNotice.model_validate(fetched["sealed"]))
        console.print(_panel(header, body))


def _decide_referral(console: Console, client: httpx.Client, receiver: NoticeReceiver) -> bool:
    """The front door records its decision on the crisis referral (Working Together: within
    one working day); the router's timer tells the referring mental health service."""
    inbox = f"/v1/recipients/{FRONT_DOOR}/notices"
    crisis = [n for n in client.get(inbox).json()
              if not n["header"]["follows"] and _event_type(client, receiver, inbox, n)
              == "parent_mental_health_crisis"]  # fmt: skip
    if not crisis:
        return False
    path = f"/v1/front-doors/la-front-door/notices/{crisis[0]['notice_id']}/outcome"
    client.post(path, json={"outcome": "strategy_discussion"}).raise_for_status()
    console.print("[yellow]The front door decides on the crisis referral: a strategy discussion.")
    return True


def _event_type(
    client: httpx.Client, receiver: NoticeReceiver, inbox: str, item: dict[str, Any]
) -> str:
    """What the notice is about: in its sealed body, which only its reader opens."""
    fetched = client.get(f"{inbox}/{item['notice_id']}").json()
    _, body = receiver.open(SealedNotice.model_validate(fetched["sealed"]))
    return body.event_type


def show_outcome(console: Console, client: httpx.Client, receiver: NoticeReceiver) -> None:
    """What the referring service is told of the front door's decision."""
    console.rule(f"[bold]The referrer learns the outcome: {REFERRER}")
    inbox = f"/v1/recipients/{REFERRER}/notices"
    deadline = time.monotonic() + FOLLOW_UP_WAIT_S
    while time.monotonic() < deadline:
        told = [n for n in client.get(inbox).json()
                if n["header"]["notice_type"] == "referral_outcome"]  # fmt: skip
        if told:
            fetched = client.get(f"{inbox}/{told[0]['notice_id']}").json()
            console.print(_panel(*receiver.open(SealedNotice.model_validate(fetched["sealed"]))))
            return
        time.sleep(POLL_S)
    console.print("[red]No outcome reached the referrer in time.")


FRONT_DOOR = "la-front-door:duty_manager"
ICB = "icb-demo:designated_safeguarding"
REFERRER = "mh-demo:safeguarding_lead"
LAPSING_GP = "gp-hillview:safeguarding_lead"
REJECTING_SCHOOL = "school-oakfield:key_adult"
REJECTION_REASON = "Child B left Oakfield last week"
FOLLOW_UP_WAIT_S = 90
# How often a wait asks again: the follow-ups come on the router's timer (each second in the
# demo), so a second between asks could add a second to each wait.
POLL_S = 0.2


def show_chronology(console: Console, client: httpx.Client, household: str) -> None:
    """The household's multi-agency chronology: who was told what, and when."""
    lines = client.get(f"/v1/households/{household}/chronology").json()
    table = Table(title=f"Chronology of household {household}", title_justify="left")
    for column in ("when (London)", "what", "event", "recipient", "rule", "severity"):
        table.add_column(column, overflow="fold")  # folded, never cut off
    for line in lines:
        at = datetime.fromisoformat(line["at"]).astimezone(LONDON).strftime("%d %b %H:%M:%S")
        what = line["kind"] + (f": {line['facts']['outcome']}" if line["kind"] == "outcome"
                               else "")  # fmt: skip
        table.add_row(at, what, line["event_type"], line["recipient_id"] or "",
                      line["rule_id"] or "", line["severity"] or "")  # fmt: skip
    console.print(table)


def _panel(header: NoticeHeader, body: NoticeBody) -> Panel:
    """The notice as its reader's screen would show it: what to do first, in full; times in
    London time; nothing the body does not say (no "from" where the reader is not told)."""
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    table.add_row("summary", body.summary)
    table.add_row("when", _london(body.occurred_at))
    # The rule as its reader sees it: in the sealed body, withheld from a school where its
    # name would say what happened; the notice's id is then the reference to quote.
    rule = body.rule_id or f"reference {header.notice_id}"
    table.add_row("severity", f"{header.severity.value}   rule: {rule}")
    table.add_row("sealed", header.suite.value)
    table.add_row("deadline", _london(header.deadline))
    if header.follow_up:
        table.add_row("follows", f"{header.follow_up.value} (level {header.escalation_level}) "
                                 f"of notice {header.follows}")  # fmt: skip
    table.add_row("about", ", ".join(_person(p) for p in body.about) or "-")
    if body.relation or body.wording:
        reads = [f"relation: {body.relation.value}"] if body.relation else []
        table.add_row("reads as", ", ".join(reads + list(body.wording)))
    if body.facts:
        table.add_row("why", ", ".join(f"{k}={_shown(v)}" for k, v in body.facts.items()))
    if body.detail:
        table.add_row("detail", ", ".join(f"{k}={_shown(v)}" for k, v in body.detail.items()
                                          if v is not None))  # fmt: skip
    table.add_row("call", body.who_to_call or "-")
    if body.school:
        _school_rows(table, body.school)
    source = f" from {body.source_org}" if body.source_org else ""
    title = f"{header.notice_type.value}{source} ({body.event_type.replace('_', ' ')})"
    return Panel(table, title=title, title_align="left", expand=False)


def _london(moment: datetime) -> str:
    return moment.astimezone(LONDON).strftime("%a %d %b %Y %H:%M %Z")


def _shown(value: object) -> str:
    """A value as a reader reads it: a moment in London time, anything else as it is."""
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            return _london(datetime.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


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
