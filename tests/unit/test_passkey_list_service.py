"""Listing and revoking a contact's passkeys over the in-memory stores: lines name no
secret, a revoked passkey signs in no more, and each list and revocation is audited."""

from datetime import timedelta

import pytest

from broker.ports import Passkey, WebSessionRecord
from broker.rules.authenticators import passkey_reference
from broker.services import passkey_list, web_passkeys
from broker.services.passkey_list import PasskeyNotFound
from schemas.web_passkeys import CredentialAnswer
from tests.fakes import FakeUnitOfWork
from tests.unit.test_web_passkeys_service import AT, CONTACT, RP, enrolment, link_session

ADMIN = "council-1:admin"
WINDOWS_HELLO = "08987058-cadc-4b81-b6e1-30de50dcbe96"


def stored(credential_id: str, person_id: str = "p-1", contact_id: str = CONTACT,
           minutes: int = 0, aaguid: str | None = None) -> Passkey:  # fmt: skip
    return Passkey(credential_id, person_id, contact_id, "pk", 0, '{"secret": "wrapped"}',
                   AT + timedelta(minutes=minutes), aaguid=aaguid)  # fmt: skip


def passkey_session(name: str, credential_id: str | None,
                    contact_id: str = CONTACT) -> WebSessionRecord:  # fmt: skip
    return WebSessionRecord(name * 64, contact_id, "c" * 43, "passkey", AT, AT,
                            credential_id=credential_id)  # fmt: skip


async def with_passkeys(*passkeys: Passkey) -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    for passkey in passkeys:
        await uow.passkeys.add_passkey(passkey)
    return uow


class TestPasskeysOf:
    async def test_lines_name_the_authenticator_and_no_secret(self) -> None:
        """Each line: reference, person, authenticator's name, enrolled, last used; nothing
        of the credential id, public key or wrapped key."""
        uow = await with_passkeys(stored("cred-a", aaguid=WINDOWS_HELLO))
        [line] = await passkey_list.passkeys_of(uow, CONTACT, ADMIN, AT)
        assert line == passkey_list.PasskeyLine(passkey_reference("cred-a"), "p-1",
                                                "Windows Hello", AT, None)  # fmt: skip
        assert not {"cred-a", "pk", "wrapped"} & {str(v) for v in vars(line).values()}

    async def test_only_the_contacts_passkeys_oldest_first(self) -> None:
        """Another contact's passkeys are left out; the oldest comes first."""
        uow = await with_passkeys(stored("new", minutes=5), stored("old"),
                                  stored("other", contact_id="school-2:key_adult"))  # fmt: skip
        lines = await passkey_list.passkeys_of(uow, CONTACT, ADMIN, AT)
        assert [line.reference for line in lines] == [passkey_reference(c) for c in ("old", "new")]

    async def test_the_list_is_audited_by_ids(self) -> None:
        """Who listed whose passkeys, and how many."""
        uow = await with_passkeys(stored("cred-a"))
        await passkey_list.passkeys_of(uow, CONTACT, ADMIN, AT)
        [(entry, at)] = uow.audit.pending
        assert (entry.action, entry.actor, entry.subject_ref, entry.details, at) == (
            "passkeys_listed", ADMIN, CONTACT, {"passkeys": 1}, AT)  # fmt: skip


class TestRevoke:
    async def test_the_named_passkey_goes_and_the_others_stay(self) -> None:
        """Revoking one passkey removes that one only, audited with the person and its id."""
        uow = await with_passkeys(stored("cred-a"), stored("cred-b"))
        await passkey_list.revoke(uow, CONTACT, passkey_reference("cred-a"), ADMIN, AT)
        assert set(uow.passkeys.keys) == {"cred-b"}
        [(entry, _)] = uow.audit.pending
        revoked = {"person": "p-1", "credential": "cred-a", "sessions_ended": 0}
        assert (entry.action, entry.actor, entry.subject_ref, entry.details) == (
            "passkey_revoked", ADMIN, CONTACT, revoked)  # fmt: skip

    @pytest.mark.parametrize(
        ("contact_id", "reference", "person_id"),
        [
            (CONTACT, "0" * 12, None),  # no passkey has it
            ("school-2:key_adult", passkey_reference("cred-a"), None),  # another contact's
            (CONTACT, passkey_reference("cred-a"), "p-2"),  # another person's, revoking own
        ],
    )
    async def test_a_passkey_not_theirs_to_revoke_is_not_found(
        self, contact_id: str, reference: str, person_id: str | None
    ) -> None:
        """Unknown, of another contact, or of another person: not found, nothing removed."""
        uow = await with_passkeys(stored("cred-a"))
        with pytest.raises(PasskeyNotFound):
            await passkey_list.revoke(uow, contact_id, reference, ADMIN, AT, person_id)
        assert set(uow.passkeys.keys) == {"cred-a"}

    async def test_the_sessions_it_opened_end_with_it(self) -> None:
        """A session the passkey opened (perhaps on the lost device) ends at once, as does a
        passkey session from before sessions recorded theirs; another passkey's session, a
        link's and another contact's run on; the count is audited."""
        uow = await with_passkeys(stored("cred-a"), stored("cred-b"))
        sessions = [passkey_session("a", "cred-a"), passkey_session("b", "cred-b"),
                    passkey_session("c", None),
                    WebSessionRecord("d" * 64, CONTACT, "c" * 43, "link", AT, AT),
                    passkey_session("e", "cred-x", "school-2:key_adult")]  # fmt: skip
        for session in sessions:
            await uow.web_sessions.start(session)
        later = AT + timedelta(minutes=1)
        await passkey_list.revoke(uow, CONTACT, passkey_reference("cred-a"), ADMIN, later)
        ended = {s.id_hash[0] for s in uow.web_sessions.sessions.values() if s.ended_at}
        assert ended == {"a", "c"}
        [(entry, _)] = uow.audit.pending
        assert entry.details["sessions_ended"] == 2

    async def test_a_revoked_passkey_signs_in_no_more(self) -> None:
        """Enrolled, revoked, then used to sign in: refused as an unknown passkey."""
        uow = FakeUnitOfWork()
        passkey, answer = await enrolment(uow)
        await web_passkeys.enrol(uow, RP, link_session(), answer, AT)
        [line] = await passkey_list.passkeys_of(uow, CONTACT, ADMIN, AT)
        await passkey_list.revoke(uow, CONTACT, line.reference, ADMIN, AT)
        options = await web_passkeys.authentication_options(uow, RP, AT)
        given = CredentialAnswer(challenge=options.public_key["challenge"],
                                 credential=passkey.get(options.public_key))  # fmt: skip
        with pytest.raises(web_passkeys.PasskeyRefused):
            await web_passkeys.sign_in(uow, RP, given, AT)
        refused = [e for e, _ in uow.audit.pending if e.action == "passkey_refused"]
        assert refused[-1].details["reason"] == "unknown_passkey"


class TestEnrolmentKeepsTheAuthenticator:
    async def test_the_aaguid_reported_at_enrolment_is_kept(self) -> None:
        """The authenticator's AAGUID, as its attestation reports it, is stored with it."""
        uow = FakeUnitOfWork()
        _, answer = await enrolment(uow)
        await web_passkeys.enrol(uow, RP, link_session(), answer, AT)
        [kept] = uow.passkeys.keys.values()
        assert kept.aaguid == "00000000-0000-0000-0000-000000000000"


class TestOwnPasskeys:
    async def test_the_persons_passkeys_only_the_one_in_use_named(self) -> None:
        """The person whose passkey opened the session sees theirs, oldest first, the one in
        use named; another person's at the contact is left out; the read is audited by the
        person."""
        uow = await with_passkeys(stored("cred-a"), stored("cred-b", minutes=5),
                                  stored("cred-c", person_id="p-2"))  # fmt: skip
        own = await passkey_list.own_passkeys(uow, passkey_session("a", "cred-b"), AT)
        assert own is not None
        expected = [passkey_reference(c) for c in ("cred-a", "cred-b")]
        assert [line.reference for line in own.lines] == expected
        assert own.in_use == passkey_reference("cred-b")
        [(entry, _)] = uow.audit.pending
        assert (entry.action, entry.actor, entry.details) == ("passkeys_listed", "p-1",
                                                              {"passkeys": 2})  # fmt: skip

    @pytest.mark.parametrize("credential_id", [None, "cred-gone"])
    async def test_no_recorded_passkey_no_list(self, credential_id: str | None) -> None:
        """A session no recorded passkey opened (a link's, or from before they were
        recorded; or its passkey gone): no list, nothing audited."""
        uow = await with_passkeys(stored("cred-a"))
        assert await passkey_list.own_passkeys(uow, passkey_session("a", credential_id), AT) is None
        assert uow.audit.pending == []

    async def test_another_of_theirs_is_removed_by_them(self) -> None:
        """Removed, audited with the person as the actor, its session ended, the session in
        use untouched."""
        uow = await with_passkeys(stored("cred-a"), stored("cred-b"))
        here, there = passkey_session("a", "cred-a"), passkey_session("b", "cred-b")
        for session in (here, there):
            await uow.web_sessions.start(session)
        await passkey_list.remove_own(uow, here, passkey_reference("cred-b"), AT)
        assert set(uow.passkeys.keys) == {"cred-a"}
        ended = {s.id_hash[0] for s in uow.web_sessions.sessions.values() if s.ended_at}
        assert ended == {"b"}
        [(entry, _)] = uow.audit.pending
        assert (entry.action, entry.actor, entry.details["sessions_ended"]) == (
            "passkey_revoked", "p-1", 1)  # fmt: skip

    async def test_the_one_in_use_is_kept(self) -> None:
        """The passkey that opened the session: refused as in use, nothing removed."""
        uow = await with_passkeys(stored("cred-a"))
        with pytest.raises(passkey_list.PasskeyInUse):
            await passkey_list.remove_own(uow, passkey_session("a", "cred-a"),
                                          passkey_reference("cred-a"), AT)  # fmt: skip
        assert set(uow.passkeys.keys) == {"cred-a"}

    @pytest.mark.parametrize(("credential_id", "other"), [("cred-a", "cred-c"), (None, "cred-b")])
    async def test_not_theirs_is_not_found(self, credential_id: str | None, other: str) -> None:
        """Another person's passkey at the contact, or any from a session no recorded passkey
        opened: not found, nothing removed."""
        uow = await with_passkeys(stored("cred-a"), stored("cred-b"),
                                  stored("cred-c", person_id="p-2"))  # fmt: skip
        with pytest.raises(PasskeyNotFound):
            await passkey_list.remove_own(uow, passkey_session("a", credential_id),
                                          passkey_reference(other), AT)  # fmt: skip
        assert set(uow.passkeys.keys) == {"cred-a", "cred-b", "cred-c"}

    async def test_the_confirmation_reads_one_of_theirs_unaudited(self) -> None:
        """The removal's confirmation shows another of the person's passkeys and records
        nothing (the removal is audited); the one in use, and another person's, are
        refused as the removal refuses them."""
        uow = await with_passkeys(stored("cred-a"), stored("cred-b"),
                                  stored("cred-c", person_id="p-2"))  # fmt: skip
        here = passkey_session("a", "cred-a")
        line = await passkey_list.own_passkey(uow, here, passkey_reference("cred-b"))
        assert (line.reference, line.person_id) == (passkey_reference("cred-b"), "p-1")
        assert uow.audit.pending == []
        with pytest.raises(passkey_list.PasskeyInUse):
            await passkey_list.own_passkey(uow, here, passkey_reference("cred-a"))
        for session, other in ((here, "cred-c"), (passkey_session("b", None), "cred-b")):
            with pytest.raises(PasskeyNotFound):
                await passkey_list.own_passkey(uow, session, passkey_reference(other))
