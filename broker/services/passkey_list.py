"""A contact's passkeys as the people who manage them see them, and one revoked: by an
administrator at the web inbox, by an operator at the command line (``sgb contact passkeys``)
when no administrator can sign in, or by its own person.

A line names a passkey by a short reference, the kind of authenticator that holds it, when
it was enrolled and last used: never its credential id, public key or wrapped key. A revoked
passkey is removed, so it signs in no more (the sign-in finds no such passkey), and the
sessions it opened end with it, with any passkey session at the contact from before sessions
recorded their passkey (``WebSessions.end_sessions_opened_by``): a lost device's session must
not outlive its revocation. Each list and each revocation is audited, by ids.

    BrokerError
      +-- PasskeyNotFound    no passkey of this contact has that reference
"""

from dataclasses import dataclass
from datetime import datetime

from broker.errors import BrokerError
from broker.ports import AuditRecord, Passkey, UnitOfWork
from broker.rules.authenticators import authenticator_name, passkey_reference


class PasskeyNotFound(BrokerError):
    """No passkey of this contact has that reference."""


@dataclass(frozen=True)
class PasskeyLine:
    reference: str  # rules/authenticators.py: names it in a form or a command
    person_id: str
    authenticator: str  # "Windows Hello", or plainly "Passkey"
    enrolled_at: datetime
    last_used_at: datetime | None


async def passkeys_of(uow: UnitOfWork, contact_id: str, by: str, now: datetime
                      ) -> list[PasskeyLine]:  # fmt: skip
    """The contact's passkeys, oldest first; the read audited under ``by``."""
    found = await uow.passkeys.passkeys_of(contact_id)
    await uow.audit.append(AuditRecord("passkeys_listed", by, contact_id,
                                       {"passkeys": len(found)}), now)  # fmt: skip
    return [_line(passkey) for passkey in found]


async def revoke(uow: UnitOfWork, contact_id: str, reference: str, by: str,
                 now: datetime, person_id: str | None = None) -> PasskeyLine:  # fmt: skip
    """Removes the contact's passkey of that reference (only ``person_id``'s, if given: a
    person revoking their own), audited; ``PasskeyNotFound`` if there is none."""
    found = next((p for p in await uow.passkeys.passkeys_of(contact_id)
                  if passkey_reference(p.credential_id) == reference
                  and person_id in {None, p.person_id}), None)  # fmt: skip
    if found is None or not await uow.passkeys.remove_passkey(found.credential_id):
        raise PasskeyNotFound("no such passkey: list them again")
    ended = await uow.web_sessions.end_sessions_opened_by(contact_id, found.credential_id, now)
    await uow.audit.append(AuditRecord("passkey_revoked", by, contact_id,
                                       {"person": found.person_id,
                                        "credential": found.credential_id[:16],
                                        "sessions_ended": ended}), now)  # fmt: skip
    return _line(found)


def _line(passkey: Passkey) -> PasskeyLine:
    return PasskeyLine(passkey_reference(passkey.credential_id), passkey.person_id,
                       authenticator_name(passkey.aaguid), passkey.created_at,
                       passkey.last_used_at)  # fmt: skip
