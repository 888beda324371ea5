"""Shows the Carters' transfer crossing to the neighbouring partnership's broker and its
receipts crossing back, in words a safeguarding lead reads: the transfer at Newport's front
door with the family's history, Newport acknowledging it and booking the transfer-in
conference, and both receipts in the demo partnership's own chronology.

Each side is spoken to over HTTP as its own front door, with its own organisation key; the
transfer is opened with the key of Newport's duty manager, which only Newport holds.
"""

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from rich.console import Console

from broker.demo import neighbour
from producers.broker_keys import BrokerPublicKeys
from producers.receiver import NoticeReceiver
from schemas.notices import NoticeBody, NoticeType, SealedNotice
from schemas.peers import peer_contact_id

WAIT_S = 90  # a push to Newport, a timer round there, a receipt pushed back, one here
POLL_S = 0.2  # each ask is one small request to a front on this machine
T = TypeVar("T")


def show_crossing(
    console: Console, demo: httpx.Client, newport: httpx.Client, household: str,
    duty_manager_key: Any, newport_broker: BrokerPublicKeys,
) -> None:  # fmt: skip
    """``demo`` and ``newport`` are clients of each broker's front, signed in as its front
    door; ``duty_manager_key`` is Newport's duty manager's own private key."""
    console.rule("[bold]The family moves to Newport, in Wales: a neighbouring broker")
    peer_contact = peer_contact_id(neighbour.NEIGHBOUR_AS_PEER)
    sent = _until(lambda: _transfer_sent(demo, household, peer_contact), "the transfer sent")
    transfer_id = sent["notice_id"]
    console.print(
        f"1. Our broker sent the transfer (reference {transfer_id}) to Newport's "
        "broker, signed by us and sealed so that only Newport's broker opens it."
    )
    listed = _until(lambda: _transfer_arrived(newport, transfer_id), "the transfer at Newport")
    url = f"/v1/recipients/{neighbour.DUTY_MANAGER}/notices/{listed['notice_id']}"
    sealed = SealedNotice.model_validate(newport.get(url).json()["sealed"])
    _, body = NoticeReceiver(duty_manager_key, newport_broker).open(sealed)
    console.print("2. It arrived at Newport's front door, opened there with the duty manager's "
                  "own key:")  # fmt: skip
    for line in _transfer_in_words(body):
        console.print(f"     {line}")
    answer = newport.post(url + "/acknowledgement")
    answer.raise_for_status()
    console.print("3. Newport's duty manager acknowledged the transfer.")
    step = (f"/v1/front-doors/{neighbour.FRONT_DOOR}/notices/{listed['notice_id']}"
            "/steps/transfer_in_conference")  # fmt: skip
    newport.post(step).raise_for_status()
    console.print("4. Newport's front door booked the transfer-in conference.")
    receipts = _until(lambda: _receipts_back(demo, household, transfer_id), "the receipts back")
    console.print("5. Both receipts came back into our own chronology of the family:")
    for receipt in receipts:
        console.print(f"     {_receipt_in_words(receipt)}")


def _until(found: Callable[[], T | None], what: str) -> T:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if (value := found()) is not None:
            return value
        time.sleep(POLL_S)
    raise RuntimeError(f"timed out waiting for {what}")


def _chronology(client: httpx.Client, household: str) -> list[dict[str, Any]]:
    answer = client.get(f"/v1/households/{household}/chronology")
    answer.raise_for_status()
    lines: list[dict[str, Any]] = answer.json()
    return lines


def _transfer_sent(client: httpx.Client, household: str, contact: str) -> dict[str, Any] | None:
    return next((line for line in _chronology(client, household)
                 if line["kind"] == "notice" and line["recipient_id"] == contact
                 and line["notice_type"] == NoticeType.TRANSFER.value), None)  # fmt: skip


def _transfer_arrived(client: httpx.Client, transfer_id: str) -> dict[str, Any] | None:
    answer = client.get(f"/v1/recipients/{neighbour.DUTY_MANAGER}/notices")
    answer.raise_for_status()
    return next((item for item in answer.json()
                 if item["header"]["event_id"] == transfer_id
                 and item["header"]["notice_type"] == NoticeType.TRANSFER.value), None)  # fmt: skip


def _receipts_back(
    client: httpx.Client, household: str, transfer_id: str
) -> list[dict[str, Any]] | None:
    lines = [line for line in _chronology(client, household) if line["notice_id"] == transfer_id
             and line["kind"] in ("acknowledged", "step_met")]  # fmt: skip
    return lines if {line["kind"] for line in lines} == {"acknowledged", "step_met"} else None


def _transfer_in_words(body: NoticeBody) -> list[str]:
    facts = body.facts
    to = f"{facts.get('to_authority_name', '')} ({facts.get('to_authority', '?')})".strip()
    moved = f"moving from area {facts.get('from_authority', '?')} to {to}"
    said = [body.summary, moved]
    named = ", ".join(p.given_name or "someone" for p in body.about)
    said += [f"about: {named}"] if body.about else []
    for plan in body.history.plans if body.history else ():
        ended = f", ended {plan.ended_on}" if plan.ended_on else ", still open"
        child = f" for {plan.child.given_name or 'a child'}" if plan.child else ""
        said.append(f"history: {plan.kind.replace('_', ' ')} plan{child}, started "
                    f"{plan.started_on}{ended}")  # fmt: skip
    return said


def _receipt_in_words(line: dict[str, Any]) -> str:
    what = {"acknowledged": "Newport acknowledged the transfer",
            "step_met": "Newport booked the transfer-in conference "
                        f"({(line.get('facts') or {}).get('step', '')})"}[line["kind"]]  # fmt: skip
    return f"{line['at'][:19].replace('T', ' ')} UTC  {what}"
