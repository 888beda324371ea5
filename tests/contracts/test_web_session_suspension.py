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


class TestEndSessionsOpenedBy:
    async def passkey_sessions(self, unit_of_work: UnitsOfWork) -> None:
        """Beside the links' sessions: the contact's sessions opened by passkeys "k1" (d) and
        "k2" (e), one from before sessions recorded their passkey (f), and the other
        contact's by "k1" and unrecorded (g, h)."""
        await seeded(unit_of_work)
        opened = [("d", CONTACT, "k1"), ("e", CONTACT, "k2"), ("f", CONTACT, None),
                  ("g", OTHER, "k1"), ("h", OTHER, None)]  # fmt: skip
        async with unit_of_work() as uow:
            for id_hash, contact, credential_id in opened:
                await uow.web_sessions.start(WebSessionRecord(
                    id_hash * 64, contact, "t" * 43, "passkey", AT, AT,
                    credential_id=credential_id))  # fmt: skip

    async def live(self, unit_of_work: UnitsOfWork) -> set[str]:
        async with unit_of_work() as uow:
            touch, soon, before = uow.web_sessions.touch, AT + MINUTE, AT - MINUTE
            return {id_hash for id_hash in "abcdefgh"
                    if await touch(id_hash * 64, soon, before, before)}  # fmt: skip

    async def test_ends_the_passkeys_sessions_and_the_unrecorded(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """The contact's session "k1" opened and its unrecorded passkey session end (2); its
        session by "k2", its links' sessions and unused link, and the other contact's
        sessions (even by a "k1") run on."""
        await self.passkey_sessions(unit_of_work)
        async with unit_of_work() as uow:
            assert await uow.web_sessions.end_sessions_opened_by(CONTACT, "k1", AT + MINUTE) == 2
        assert await self.live(unit_of_work) == set("abcegh")
        async with unit_of_work() as uow:
            assert await uow.web_sessions.use_link("1" * 64, AT - MINUTE, AT + MINUTE) == CONTACT

    async def test_a_session_remembers_its_passkey(self, unit_of_work: UnitsOfWork) -> None:
        """What opened a session is read back with it: the passkey, or none for a link."""
        await self.passkey_sessions(unit_of_work)
        async with unit_of_work() as uow:
            by_passkey = await uow.web_sessions.get("d" * 64)
            by_link = await uow.web_sessions.get("a" * 64)
        assert by_passkey is not None
        assert by_passkey.credential_id == "k1"
        assert by_link is not None
        assert by_link.credential_id is None
