"""Suspending a contact's web sign-in (``WebSessions.end_all_of``): its live sessions end and
its unused links are spent; another contact's are untouched."""

from broker.ports import SignInLink, WebSessionRecord
from tests.contracts.conftest import UnitsOfWork
from tests.contracts.test_web_sessions import AT, CONTACT, MINUTE, seed_contact

OTHER = "school-1:deputy_key_adult"


async def seeded(unit_of_work: UnitsOfWork) -> None:
    """Two sessions and a link for the contact, a session and a link for another."""
    async with unit_of_work() as uow:
        await seed_contact(uow)
        rows = uow.directory_rows
        await rows.insert("contacts", [dict(rows.shape("contacts").defaults) | {
            "id": OTHER, "org_id": "school-1", "role": "deputy_key_adult",
            "hpke_public_key": "pk", "key_id": "k2", "daily_digest": False}])  # fmt: skip
        for id_hash, contact in (("a" * 64, CONTACT), ("b" * 64, CONTACT), ("c" * 64, OTHER)):
            await uow.web_sessions.start(WebSessionRecord(id_hash, contact, "t" * 43, "link",
                                                          AT, AT))  # fmt: skip
        await uow.web_sessions.add_link(SignInLink("1" * 64, CONTACT, "admin", AT))
        await uow.web_sessions.add_link(SignInLink("2" * 64, OTHER, "admin", AT))


class TestEndAllOf:
    async def test_ends_the_contacts_sessions_only(self, unit_of_work: UnitsOfWork) -> None:
        """Both of the contact's sessions end (answered 2); the other contact's stays live."""
        await seeded(unit_of_work)
        async with unit_of_work() as uow:
            assert await uow.web_sessions.end_all_of(CONTACT, AT + MINUTE) == 2
        async with unit_of_work() as uow:
            touch = uow.web_sessions.touch
            assert await touch("a" * 64, AT + MINUTE, AT - MINUTE, AT - MINUTE) is None
            assert await touch("b" * 64, AT + MINUTE, AT - MINUTE, AT - MINUTE) is None
            assert await touch("c" * 64, AT + MINUTE, AT - MINUTE, AT - MINUTE) is not None

    async def test_spends_the_contacts_unused_links(self, unit_of_work: UnitsOfWork) -> None:
        """The contact's link no longer signs in; the other contact's still does."""
        await seeded(unit_of_work)
        async with unit_of_work() as uow:
            await uow.web_sessions.end_all_of(CONTACT, AT + MINUTE)
        async with unit_of_work() as uow:
            assert await uow.web_sessions.use_link("1" * 64, AT - MINUTE, AT + MINUTE) is None
            assert await uow.web_sessions.use_link("2" * 64, AT - MINUTE, AT + MINUTE) == OTHER

    async def test_none_live_is_zero(self, unit_of_work: UnitsOfWork) -> None:
        """Again: nothing more to end."""
        await seeded(unit_of_work)
        async with unit_of_work() as uow:
            await uow.web_sessions.end_all_of(CONTACT, AT + MINUTE)
            assert await uow.web_sessions.end_all_of(CONTACT, AT + MINUTE) == 0


class TestEndPasskeySessionsOf:
    async def test_ends_the_contacts_passkey_sessions_only(self, unit_of_work: UnitsOfWork) -> None:
        """A passkey's revocation: the contact's passkey session ends (answered 1); its link
        session, its unused link and the other contact's passkey session are untouched."""
        await seeded(unit_of_work)
        async with unit_of_work() as uow:
            for id_hash, contact in (("d" * 64, CONTACT), ("e" * 64, OTHER)):
                await uow.web_sessions.start(WebSessionRecord(id_hash, contact, "t" * 43,
                                                              "passkey", AT, AT))  # fmt: skip
        async with unit_of_work() as uow:
            assert await uow.web_sessions.end_passkey_sessions_of(CONTACT, AT + MINUTE) == 1
        async with unit_of_work() as uow:
            touch = uow.web_sessions.touch
            live = {id_hash: await touch(id_hash * 64, AT + MINUTE, AT - MINUTE, AT - MINUTE)
                    is not None for id_hash in "abde"}  # fmt: skip
            assert live == {"a": True, "b": True, "d": False, "e": True}
            assert await uow.web_sessions.use_link("1" * 64, AT - MINUTE, AT + MINUTE) == CONTACT
