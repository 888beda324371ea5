"""A contact's passkeys as the people who manage them see them, and one revoked: by an
administrator at the web inbox, by an operator at the command line (``sgb contact passkeys``)
when no administrator can sign in, or by its own person at the web inbox.

A line names a passkey by a short reference, the kind of authenticator that holds it, when
it was enrolled and last used: never its credential id, public key or wrapped key. A revoked
passkey is removed, so it signs in no more (the sign-in finds no such passkey), and the
sessions it opened end with it, with any passkey session at the contact from before sessions
recorded their passkey (``WebSessions.end_sessions_opened_by``): a lost device's session must
not outlive its revocation. Each list and each revocation is audited, by ids.

A person's own passkeys are those of the person (``web_passkey_people``) the session's
passkey belongs to: enrolled by them, after a sign-in link or with their recovery key. The
one in use is not theirs to remove here: it would sign them out mid-task, and the device in
hand is not the lost one.

    BrokerError
      +-- PasskeyNotFound    no passkey of this contact (or this person) has that reference
      +-- PasskeyInUse       the passkey that opened this session, which its person keeps
"""

from dataclasses import dataclass
from datetime import datetime

from broker.errors import BrokerError
from broker.ports import AuditRecord, Passkey, UnitOfWork, WebSessionRecord
from broker.rules.authenticators import authenticator_name, passkey_reference


class PasskeyNotFound(BrokerError):
    """No passkey of this contact has that reference."""


class PasskeyInUse(BrokerError):
    """This is the passkey you signed in with: remove it from another device."""


@dataclass(frozen=True)
class PasskeyLine:
    reference: str  # rules/authenticators.py: names it in a form or a command
    person_id: str
    authenticator: str  # "Windows Hello", or plainly "Passkey"
    enrolled_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class OwnPasskeys:
    in_use: str  # the reference of the passkey that opened the session: "this device"
    lines: list[PasskeyLine]


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
    if found is None:
        raise PasskeyNotFound("no such passkey: list them again")
    return await _remove(uow, found, by, now)


async def _remove(uow: UnitOfWork, found: Passkey, by: str, now: datetime) -> PasskeyLine:
    """The passkey removed, the sessions it opened ended, audited under ``by``."""
    contact_id = found.contact_id
    if not await uow.passkeys.remove_passkey(found.credential_id):
        raise PasskeyNotFound("no such passkey: list them again")
    ended = await uow.web_sessions.end_sessions_opened_by(contact_id, found.credential_id, now)
    await uow.audit.append(AuditRecord("passkey_revoked", by, contact_id,
                                       {"person": found.person_id,
                                        "credential": found.credential_id[:16],
                                        "sessions_ended": ended}), now)  # fmt: skip
    return _line(found)


async def own_passkeys(uow: UnitOfWork, session: WebSessionRecord,
                       now: datetime) -> OwnPasskeys | None:  # fmt: skip
    """The passkeys of the person whose passkey opened the session, oldest first, the read
    audited by that person; None for a session no recorded passkey opened."""
    in_use = await _in_use(uow, session)
    if in_use is None:
        return None
    found = await persons_passkeys(uow, session.contact_id, in_use.person_id)
    await uow.audit.append(AuditRecord("passkeys_listed", in_use.person_id, session.contact_id,
                                       {"passkeys": len(found)}), now)  # fmt: skip
    return OwnPasskeys(passkey_reference(in_use.credential_id), [_line(p) for p in found])


async def own_passkey(uow: UnitOfWork, session: WebSessionRecord, reference: str
                      ) -> PasskeyLine:  # fmt: skip
    """One of the person's own passkeys, as its removal is confirmed (not audited: the
    removal is); ``PasskeyInUse`` for the one that opened the session, ``PasskeyNotFound``
    for any not theirs."""
    _, found = await _another_of_theirs(uow, session, reference)
    return _line(found)


async def remove_own(uow: UnitOfWork, session: WebSessionRecord, reference: str,
                     now: datetime) -> PasskeyLine:  # fmt: skip
    """Revokes another passkey of the session's person, by that person; ``PasskeyInUse`` for
    the one that opened the session, ``PasskeyNotFound`` for any not theirs."""
    in_use, found = await _another_of_theirs(uow, session, reference)
    # Both held first: two of the person's sessions removing each other's passkeys at once
    # would otherwise each remove the other's, leaving the person none. The second waits,
    # then finds its own passkey gone (and its session ended).
    if in_use.credential_id not in await uow.passkeys.hold([in_use.credential_id,
                                                            found.credential_id]):  # fmt: skip
        raise PasskeyNotFound("the passkey that opened this session was removed meanwhile")
    return await _remove(uow, found, in_use.person_id, now)


async def _another_of_theirs(uow: UnitOfWork, session: WebSessionRecord, reference: str
                             ) -> tuple[Passkey, Passkey]:  # fmt: skip
    """The passkey that opened the session, and the person's other one of ``reference``."""
    in_use = await _in_use(uow, session)
    if in_use is None:
        raise PasskeyNotFound("no passkey opened this session")
    if reference == passkey_reference(in_use.credential_id):
        raise PasskeyInUse("this is the passkey you signed in with")
    found = next((p for p in await uow.passkeys.passkeys_of(session.contact_id)
                  if p.person_id == in_use.person_id
                  and passkey_reference(p.credential_id) == reference), None)  # fmt: skip
    if found is None:
        raise PasskeyNotFound("no such passkey of yours")
    return in_use, found


async def _in_use(uow: UnitOfWork, session: WebSessionRecord) -> Passkey | None:
    if session.credential_id is None:
        return None
    return await uow.passkeys.passkey(session.credential_id)


def _line(passkey: Passkey) -> PasskeyLine:
    return PasskeyLine(passkey_reference(passkey.credential_id), passkey.person_id,
                       authenticator_name(passkey.aaguid), passkey.created_at,
                       passkey.last_used_at)  # fmt: skip


async def persons_passkeys(uow: UnitOfWork, contact_id: str, person_id: str) -> list[Passkey]:
    """The person's passkeys, oldest first (of their contact's, which others may have too)."""
    return [p for p in await uow.passkeys.passkeys_of(contact_id) if p.person_id == person_id]
