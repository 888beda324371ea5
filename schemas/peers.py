"""Peer brokers: another partnership's broker, registered here, and what crosses between them.

A peer is an organisation of kind ``peer_broker`` in the directory: its Ed25519 signing keys
are its organisation's keys (they rotate as any organisation's do), and its broker HPKE public
key is the recipient key of its one contact (role ``duty_manager``), whose webhook is the peer's
``POST /v1/peers/transfers``. A transfer to an authority the peer serves is that contact's
notice, pushed there signed and sealed. Registration is two-sided: each broker registers the
other, each naming the id its own organisation has in the other's directory.
"""

from datetime import date
from typing import Literal, Self
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import Field, field_validator, model_validator

from schemas.common import AreaCode, Contract, OrgId, ShortText
from schemas.directory import SigningKeySpec

TRANSFERS_PATH = "/v1/peers/transfers"
PEER_CONTACT_ROLE: Literal["duty_manager"] = "duty_manager"


def peer_contact_id(org_id: str) -> str:
    """The contact a peer's transfers are addressed to: one per peer, named after it."""
    return f"{org_id}:duty_manager"


class PeerSpec(Contract):
    """A peer broker as an administrator registers it (admin API, CSV, ``sgb peer add``)."""

    id: OrgId  # the peer's organisation id in this directory
    name: ShortText  # the partnership it serves, as people here name it
    areas: tuple[AreaCode, ...] = Field(min_length=1, max_length=100)
    gateway_url: str = Field(
        max_length=400,
        description="the peer's gateway, https (http on loopback only), without a path: "
        "transfers go to <gateway_url>/v1/peers/transfers, tokens come from "
        "<gateway_url>/v1/oauth/token",
    )
    api_url: str | None = Field(
        default=None,
        max_length=400,
        description="the peer's recipient (inbox) API, as gateway_url: receipts go to "
        "<api_url>/v1/recipients/...; absent, the gateway_url (both APIs under one host)",
    )
    broker_key: str = Field(
        pattern=r"^[A-Za-z0-9+/]+={0,2}$",
        max_length=2000,
        description="the peer broker's HPKE public key (base64): transfers are sealed to it",
    )
    signing_keys: tuple[SigningKeySpec, ...] = Field(min_length=1)
    known_there_as: OrgId = Field(
        description="this broker's own organisation id in the peer's directory: what it signs "
        "in as at the peer's gateway"
    )
    phone: ShortText | None = None

    @field_validator("gateway_url", "api_url")
    @classmethod
    def _a_base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("must be an http(s) URL with a host")
        if parts.path.strip("/") or parts.query or parts.fragment or parts.username:
            raise ValueError("give the gateway's base URL alone: no path, query or credentials")
        if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("http is allowed on loopback only")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _areas_once(self) -> Self:
        if len(set(self.areas)) != len(self.areas):
            raise ValueError("each area once")
        return self

    @property
    def transfers_url(self) -> str:
        return self.gateway_url + TRANSFERS_PATH

    @property
    def recipients_api_url(self) -> str:
        """Where receipts for the peer's transfers go: its recipient API, apart from its
        gateway when they are served on separate ports (as deploy/docker-compose.yml does)."""
        return self.api_url or self.gateway_url


class TransferAccepted(Contract):
    """The peer gateway's answer to a pushed transfer: taken in (202), or had already (200)."""

    transfer_id: UUID
    status: Literal["accepted", "duplicate"]


class ConferenceDate(Contract):
    """The transfer-in conference's date, as the receiving front door records it."""

    conference_on: date
