"""Passkeys for the web inbox: a person invited by a sign-in link enrols one, signs in with it
from then on, and can enrol a new one with their printed recovery key.

The broker verifies the WebAuthn ceremonies (py_webauthn) against challenges it issued, kept
server-side, used once and only for minutes. It keeps the contact's private key only wrapped,
by the browser, under a passkey's PRF output and under the recovery key (see
schemas/web_passkeys.py); it hands a wrapped key back after a verified ceremony and never sees
what unwraps it. Every sign-in, enrolment and failed ceremony is audited, by ids only.

    BrokerError
      +-- PasskeyRefused     a ceremony failed: unknown, used or expired challenge, a response
                             that does not verify, an unknown passkey (one answer for all)
"""

import hashlib
import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from broker.errors import BrokerError
from broker.ports import AuditRecord, Ceremony, Passkey, PasskeyPerson, UnitOfWork
from broker.ports import WebSessionRecord as Session
from broker.rules import passkeys as rules
from broker.rules.passkeys import CeremonyKind, b64url, from_b64url
from broker.services import web_sign_in
from broker.services.passkey_list import persons_passkeys
from schemas.web_passkeys import (
    CredentialAnswer,
    EnrolmentAnswer,
    RecoveryAnswer,
    RecoveryLookup,
    RecoveryWrap,
)

RP_NAME = "Safeguarding notices"
MAX_CREDENTIAL_ID = 1400  # its column's width; WebAuthn allows 1023 bytes (1364 characters)


class PasskeyRefused(BrokerError):
    """This passkey could not be used: try again."""


class RecoveryKeyRefused(PasskeyRefused):
    """This recovery key cannot be used: unknown, replaced, or used meanwhile by another."""


@dataclass(frozen=True)
class RelyingParty:
    id: str  # the inbox's host
    origin: str  # where the browser reports the ceremony came from

    @classmethod
    def of(cls, inbox_base_url: str) -> "RelyingParty":
        return cls(*rules.relying_party(inbox_base_url))


@dataclass(frozen=True)
class Options:
    """``publicKey`` options as WebAuthn's JSON form (bytes as base64url), PRF included; for a
    recovery, the key wrapped under the recovery key, and whose it is (the associated data)."""

    public_key: dict[str, Any]
    contact_id: str | None = None
    wrapped_key: str | None = None


@dataclass(frozen=True)
class SignedIn:
    started: web_sign_in.Started
    wrapped_key: str  # under the passkey's PRF output, for the browser to unwrap
    added: int = 0  # the person's passkeys set up since this one was last used


async def registration_options(uow: UnitOfWork, rp: RelyingParty, session: Session,
                               now: datetime) -> Options:  # fmt: skip
    """Options for a new person at the session's contact to create a passkey (from a sign-in
    link's session: a person signed in with a passkey is enrolled already)."""
    if not rules.may_enrol(session.signed_in_with):
        await _refuse(uow, CeremonyKind.REGISTRATION, "not_a_link_session", now)
    person_id = str(uuid.uuid4())
    return await _registration(uow, rp, CeremonyKind.REGISTRATION, session.contact_id,
                               person_id, now)  # fmt: skip


async def enrol(uow: UnitOfWork, rp: RelyingParty, session: Session, answer: EnrolmentAnswer,
                now: datetime) -> web_sign_in.Started:  # fmt: skip
    """A new person and their passkey; the link's session ends and a passkey's starts. The
    caller commits either way: a refusal is audited and its challenge stays spent."""
    ceremony = await _used(uow, answer, CeremonyKind.REGISTRATION, now)
    if ceremony.contact_id != session.contact_id:
        await _refuse(uow, ceremony.kind, "other_contact", now)
    contact_id, person_id = _whose(ceremony)
    new = await _verified_new(uow, rp, ceremony, answer, now)
    lookup = _lookup(answer.recovery.lookup)
    recovery_wrapped = answer.recovery.wrapped_key.model_dump_json()
    await uow.passkeys.add_person(
        PasskeyPerson(person_id, contact_id, lookup, recovery_wrapped, now)
    )
    await _store(uow, ceremony, new, answer.wrapped_key.model_dump_json(), now)
    await uow.web_sessions.end(session.id_hash, now)
    await uow.audit.append(AuditRecord("passkey_enrolled", person_id, contact_id,
                                       {"with": session.signed_in_with,
                                        "credential": new.credential_id[:16]}), now)  # fmt: skip
    return await web_sign_in.start(uow, contact_id, "passkey", now, person_id, new.credential_id)


async def authentication_options(uow: UnitOfWork, rp: RelyingParty, now: datetime) -> Options:
    """Options for signing in with whichever of this site's passkeys the person picks."""
    challenge = secrets.token_bytes(32)
    options = generate_authentication_options(
        rp_id=rp.id, challenge=challenge, user_verification=UserVerificationRequirement.REQUIRED
    )
    await _issue(uow, Ceremony(b64url(challenge), CeremonyKind.AUTHENTICATION,
                                             None, None, now))  # fmt: skip
    return Options(_with_prf(options_to_json(options)))


async def sign_in(uow: UnitOfWork, rp: RelyingParty, answer: CredentialAnswer,
                  now: datetime) -> SignedIn:  # fmt: skip
    """A session for the passkey's contact, and its key wrapped under the passkey's PRF."""
    ceremony = await _used(uow, answer, CeremonyKind.AUTHENTICATION, now)
    passkey = await uow.passkeys.passkey(str(answer.credential.get("id", ""))[:MAX_CREDENTIAL_ID])
    if passkey is None:
        await _refuse(uow, ceremony.kind, "unknown_passkey", now)
    count = await _authenticate(uow, rp, ceremony, passkey, answer, now)
    if not rules.sign_count_believable(passkey.sign_count, count):
        await _refuse(uow, ceremony.kind, "sign_count", now, passkey.credential_id)
    if not await uow.passkeys.count_use(passkey.credential_id, passkey.sign_count, count, now):
        await _refuse(uow, ceremony.kind, "raced", now, passkey.credential_id)
    started = await web_sign_in.start(uow, passkey.contact_id, "passkey", now, passkey.person_id,
                                      passkey.credential_id)  # fmt: skip
    # As read before this sign-in counted: when the passkey was last used, or set up.
    theirs = await persons_passkeys(uow, passkey.contact_id, passkey.person_id)
    others = [p.created_at for p in theirs if p.credential_id != passkey.credential_id]
    added = rules.added_since(passkey.last_used_at or passkey.created_at, others)
    return SignedIn(started, passkey.wrapped_key, added)


async def recovery_options(uow: UnitOfWork, rp: RelyingParty, given: RecoveryLookup,
                           now: datetime) -> Options:  # fmt: skip
    """The person the recovery key is for: options to create a passkey in place of theirs,
    and the contact's key wrapped under the recovery key."""
    person = await uow.passkeys.person_by_recovery(_lookup(given.lookup))
    if person is None:
        await _refuse(uow, CeremonyKind.RECOVERY, "unknown_recovery_key", now,
                      refusal=RecoveryKeyRefused)  # fmt: skip
    # Adding a device: not one that holds a passkey of theirs already (it would be replaced
    # there, its entry left in their list signing nobody in).
    held = [] if not given.keep_others else [
        p.credential_id for p in await persons_passkeys(uow, person.contact_id, person.person_id)
    ]  # fmt: skip
    options = await _registration(uow, rp, CeremonyKind.RECOVERY, person.contact_id,
                                  person.person_id, now, exclude=held)  # fmt: skip
    return Options(options.public_key, person.contact_id, person.recovery_wrapped_key)


async def recover(uow: UnitOfWork, rp: RelyingParty, answer: RecoveryAnswer,
                  now: datetime) -> web_sign_in.Started:  # fmt: skip
    """The new passkey replaces the person's others (lost, or in the wrong hands), and the
    sessions they opened end with them: a lost phone's open inbox must not outlive it. With
    ``keep_others`` (a second device) it is added beside them, and they and their sessions
    stand: the person's list of passkeys ("Your passkeys") shows every one. A replacement
    renews the recovery key too: whoever may hold the passkeys replaced may hold it."""
    ceremony = await _used(uow, answer, CeremonyKind.RECOVERY, now)
    contact_id, person_id = _whose(ceremony)
    new = await _verified_new(uow, rp, ceremony, answer, now)
    used = _lookup(answer.used)
    if answer.recovery is not None:  # a replacement's: the key used stops working
        await _renew_recovery(uow, person_id, used, answer.recovery, now)
    elif not await uow.passkeys.holds_recovery(person_id, used):  # renewed since the options
        await _refuse(uow, CeremonyKind.RECOVERY, "recovery_key_changed", now,
                      refusal=RecoveryKeyRefused)  # fmt: skip
    await _store(uow, ceremony, new, answer.wrapped_key.model_dump_json(), now)
    # Those removed, whenever they were added (one another recovery added a moment ago too):
    # the sessions each opened end with it.
    removed = [] if answer.keep_others else await uow.passkeys.remove_passkeys(
        person_id, keep=new.credential_id)  # fmt: skip
    ended = 0
    for credential_id in removed:
        ended += await uow.web_sessions.end_sessions_opened_by(contact_id, credential_id, now)
    details: dict[str, str | int] = {
        "with": "recovery",
        "credential": new.credential_id[:16],
        "kept_others": int(answer.keep_others),
        "removed": len(removed),
        "sessions_ended": ended,
        "recovery_key_renewed": int(answer.recovery is not None),
    }
    await uow.audit.append(AuditRecord("passkey_enrolled", person_id, contact_id, details), now)
    return await web_sign_in.start(uow, contact_id, "passkey", now, person_id, new.credential_id)


async def _renew_recovery(uow: UnitOfWork, person_id: str, used: str, renewed: RecoveryWrap,
                          now: datetime) -> None:  # fmt: skip
    """The person's new recovery key in place of ``used`` (a lookup's hash), before anything
    of the recovery is stored: a lookup that finds anyone already (the key just used among
    them) renews nothing, and neither does a replacement whose key another renewed since."""
    lookup = _lookup(renewed.lookup)
    if await uow.passkeys.person_by_recovery(lookup) is not None:
        await _refuse(uow, CeremonyKind.RECOVERY, "recovery_key_taken", now)
    wrapped = renewed.wrapped_key.model_dump_json()
    if not await uow.passkeys.renew_recovery(person_id, used, lookup, wrapped):
        await _refuse(uow, CeremonyKind.RECOVERY, "recovery_key_changed", now,
                      refusal=RecoveryKeyRefused)  # fmt: skip


def _lookup(given: str) -> str:
    """What the store finds a person by: a hash of the lookup the browser derived."""
    return hashlib.sha256(from_b64url(given)).hexdigest()


async def _registration(
    uow: UnitOfWork, rp: RelyingParty, kind: CeremonyKind, contact_id: str, person_id: str,
    now: datetime, exclude: Sequence[str] = (),
) -> Options:  # fmt: skip
    challenge = secrets.token_bytes(32)
    # The contact's id names the passkey in the person's list: an id, nobody's name.
    options = generate_registration_options(
        rp_id=rp.id, rp_name=RP_NAME, user_name=contact_id, user_id=person_id.encode(),
        user_display_name=contact_id, challenge=challenge,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=from_b64url(c)) for c in exclude],
    )  # fmt: skip
    await _issue(uow, Ceremony(b64url(challenge), kind, contact_id, person_id, now))
    return Options(_with_prf(options_to_json(options)))


async def _issue(uow: UnitOfWork, ceremony: Ceremony) -> None:
    """Stores the challenge, and forgets those past their use: the table holds minutes of
    ceremonies, however many are asked for."""
    await uow.passkeys.forget_ceremonies(rules.challenge_cutoff(ceremony.issued_at))
    await uow.passkeys.add_ceremony(ceremony)


def _with_prf(options_json: str) -> dict[str, Any]:
    options: dict[str, Any] = json.loads(options_json)
    options["extensions"] = {"prf": {"eval": {"first": b64url(rules.PRF_INPUT)}}}
    return options


async def _used(uow: UnitOfWork, answer: CredentialAnswer, kind: CeremonyKind,
                now: datetime) -> Ceremony:  # fmt: skip
    ceremony = await uow.passkeys.use_ceremony(answer.challenge, kind,
                                               rules.challenge_cutoff(now), now)  # fmt: skip
    if ceremony is None:
        await _refuse(uow, kind, "unknown_used_or_expired", now)
    return ceremony


def _whose(ceremony: Ceremony) -> tuple[str, str]:
    if ceremony.contact_id is None or ceremony.person_id is None:  # registrations name both
        raise PasskeyRefused("this passkey could not be set up: try again")
    return ceremony.contact_id, ceremony.person_id


@dataclass(frozen=True)
class _NewPasskey:
    credential_id: str
    public_key: str
    sign_count: int
    aaguid: str  # the kind of authenticator, to name it in the person's list


async def _verified_new(uow: UnitOfWork, rp: RelyingParty, ceremony: Ceremony,
                        answer: CredentialAnswer, now: datetime) -> _NewPasskey:  # fmt: skip
    """A new passkey, verified against its ceremony, before anything of it is stored."""
    try:
        verified = verify_registration_response(
            credential=answer.credential, expected_challenge=from_b64url(ceremony.challenge),
            expected_rp_id=rp.id, expected_origin=rp.origin, require_user_verification=True,
        )  # fmt: skip
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        await _refuse(uow, ceremony.kind, type(exc).__name__, now)
    credential_id = b64url(verified.credential_id)
    if len(credential_id) > MAX_CREDENTIAL_ID or await uow.passkeys.passkey(credential_id):
        await _refuse(uow, ceremony.kind, "credential_taken", now)
    return _NewPasskey(credential_id, b64url(verified.credential_public_key), verified.sign_count,
                       verified.aaguid)  # fmt: skip


async def _store(uow: UnitOfWork, ceremony: Ceremony, new: _NewPasskey, wrapped_key: str,
                 now: datetime) -> None:  # fmt: skip
    contact_id, person_id = _whose(ceremony)
    passkey = Passkey(new.credential_id, person_id, contact_id, new.public_key, new.sign_count,
                      wrapped_key, now, aaguid=new.aaguid)  # fmt: skip
    await uow.passkeys.add_passkey(passkey)


async def _authenticate(
    uow: UnitOfWork, rp: RelyingParty, ceremony: Ceremony, passkey: Passkey,
    answer: CredentialAnswer, now: datetime,
) -> int:  # fmt: skip
    """The counter the verified assertion reports; refused unless it is this person's."""
    try:
        verified = verify_authentication_response(
            credential=answer.credential, expected_challenge=from_b64url(ceremony.challenge),
            expected_rp_id=rp.id, expected_origin=rp.origin,
            credential_public_key=from_b64url(passkey.public_key),
            credential_current_sign_count=passkey.sign_count, require_user_verification=True,
        )  # fmt: skip
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        await _refuse(uow, ceremony.kind, type(exc).__name__, now, passkey.credential_id)
    handle = (answer.credential.get("response") or {}).get("userHandle")
    if handle and handle != b64url(passkey.person_id.encode()):
        await _refuse(uow, ceremony.kind, "other_person", now, passkey.credential_id)
    return verified.new_sign_count


async def _refuse(uow: UnitOfWork, kind: str, reason: str, now: datetime,
                  credential_id: str | None = None,
                  refusal: type[PasskeyRefused] = PasskeyRefused) -> NoReturn:  # fmt: skip
    details = {"ceremony": kind, "reason": reason[:60],
               "credential": credential_id[:16] if credential_id else None}  # fmt: skip
    await uow.audit.append(AuditRecord("passkey_refused", "web", "passkey", details), now)
    raise refusal("this passkey could not be used: try again")
