"""The passkey service over the in-memory stores, with a software passkey and time as an
argument: a challenge lapses after five minutes, serves only its own kind of ceremony, and a
refused ceremony stores nothing of the passkey."""

import os
from datetime import UTC, datetime, timedelta

import pytest

from broker.ports import WebSessionRecord
from broker.rules.passkeys import CHALLENGE_LIFETIME
from broker.services import web_passkeys, web_sign_in
from broker.services.web_passkeys import PasskeyRefused, RelyingParty
from schemas.web_passkeys import CredentialAnswer, EnrolmentAnswer
from tests.fakes import FakeUnitOfWork
from tests.web.soft_authenticator import SoftPasskey, recovery_lookup, wrap

AT = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
CONTACT = "school-1:key_adult"
RP = RelyingParty("inbox.example.gov.uk", "https://inbox.example.gov.uk")
SECOND = timedelta(seconds=1)


def link_session() -> WebSessionRecord:
    return WebSessionRecord("s" * 64, CONTACT, "c" * 43, "link", AT, AT)


async def enrolment(uow: FakeUnitOfWork, at: datetime = AT) -> tuple[SoftPasskey, EnrolmentAnswer]:
    options = await web_passkeys.registration_options(uow, RP, link_session(), at)
    passkey = SoftPasskey(RP.id, RP.origin)
    credential = passkey.create(options.public_key)
    secret, recovery = os.urandom(32), os.urandom(20)
    return passkey, EnrolmentAnswer.model_validate({
        "challenge": options.public_key["challenge"], "credential": credential,
        "wrapped_key": wrap(secret, passkey.prf(options.public_key), CONTACT),
        "recovery": {"lookup": recovery_lookup(recovery),
                     "wrapped_key": wrap(secret, recovery, CONTACT)}})  # fmt: skip


class TestEnrol:
    async def test_within_five_minutes_a_passkey_session_starts(self) -> None:
        """Answered just inside the challenge's life: a person, a passkey, a passkey session
        that records it opened it."""
        uow = FakeUnitOfWork()
        _, answer = await enrolment(uow)
        at = AT + CHALLENGE_LIFETIME - SECOND
        started = await web_passkeys.enrol(uow, RP, link_session(), answer, at)
        assert started.session.signed_in_with == "passkey"
        assert (len(uow.passkeys.people), len(uow.passkeys.keys)) == (1, 1)
        assert started.session.credential_id in uow.passkeys.keys

    async def test_a_lapsed_challenge_stores_nothing(self) -> None:
        """Answered five minutes on: refused, audited, no person and no passkey kept."""
        uow = FakeUnitOfWork()
        _, answer = await enrolment(uow)
        with pytest.raises(PasskeyRefused):
            await web_passkeys.enrol(uow, RP, link_session(), answer, AT + CHALLENGE_LIFETIME)
        assert (uow.passkeys.people, uow.passkeys.keys) == ({}, {})
        [(entry, _)] = [e for e in uow.audit.pending if e[0].action == "passkey_refused"]
        assert entry.details["reason"] == "unknown_used_or_expired"

    async def test_another_contacts_session_cannot_use_the_challenge(self) -> None:
        """A challenge issued for one contact's enrolment does not enrol at another."""
        uow = FakeUnitOfWork()
        _, answer = await enrolment(uow)
        other = WebSessionRecord("t" * 64, "school-2:key_adult", "c" * 43, "link", AT, AT)
        with pytest.raises(PasskeyRefused):
            await web_passkeys.enrol(uow, RP, other, answer, AT)
        assert uow.passkeys.keys == {}


class TestSignIn:
    async def test_a_registration_challenge_does_not_sign_in(self) -> None:
        """A challenge serves its own kind of ceremony only."""
        uow = FakeUnitOfWork()
        passkey, answer = await enrolment(uow)
        await web_passkeys.enrol(uow, RP, link_session(), answer, AT)
        options = await web_passkeys.registration_options(uow, RP, link_session(), AT)
        assertion = passkey.get(options.public_key)
        given = CredentialAnswer(challenge=options.public_key["challenge"], credential=assertion)
        with pytest.raises(PasskeyRefused):
            await web_passkeys.sign_in(uow, RP, given, AT)

    async def test_signing_in_counts_and_hands_back_the_prf_wrapped_key(self) -> None:
        """The counter moves to what the passkey reported; the blob is the one enrolled; the
        session records the passkey."""
        uow = FakeUnitOfWork()
        passkey, answer = await enrolment(uow)
        await web_passkeys.enrol(uow, RP, link_session(), answer, AT)
        options = await web_passkeys.authentication_options(uow, RP, AT)
        assertion = passkey.get(options.public_key)
        given = CredentialAnswer(challenge=options.public_key["challenge"], credential=assertion)
        done = await web_passkeys.sign_in(uow, RP, given, AT + SECOND)
        [stored] = uow.passkeys.keys.values()
        assert (stored.sign_count, done.wrapped_key) == (1, answer.wrapped_key.model_dump_json())
        assert isinstance(done.started, web_sign_in.Started)
        assert done.started.session.credential_id == stored.credential_id
