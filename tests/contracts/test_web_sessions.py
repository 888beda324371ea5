"""The web inbox's sign-in store: a link is used once and only while young; a session is
found while live, its idle clock restarted, and never revived once ended, idle or expired."""

from datetime import UTC, datetime, timedelta

from broker.ports import SignInLink, UnitOfWork, WebSessionRecord
from tests.contracts.conftest import UnitsOfWork

AT = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
CONTACT = "school-1:key_adult"
MINUTE = timedelta(minutes=1)


async def seed_contact(uow: UnitOfWork) -> None:
    rows = uow.directory_rows
    await rows.insert("organisations", [dict(rows.shape("organisations").defaults) | {
        "id": "school-1", "name": "Oakfield Primary School", "kind": "school", "area": "E0900001",
        "session_start": "08:45"}])  # fmt: skip
    await rows.insert("contacts", [dict(rows.shape("contacts").defaults) | {
        "id": CONTACT, "org_id": "school-1", "role": "key_adult",
        "hpke_public_key": "pk", "key_id": "k1", "daily_digest": False}])  # fmt: skip


async def with_link(unit_of_work: UnitsOfWork, issued_at: datetime = AT) -> None:
    async with unit_of_work() as uow:
        await seed_contact(uow)
        await uow.web_sessions.add_link(SignInLink("h" * 64, CONTACT, "admin", issued_at))


async def with_session(unit_of_work: UnitsOfWork) -> None:
    async with unit_of_work() as uow:
        await seed_contact(uow)
        await uow.web_sessions.start(WebSessionRecord("s" * 64, CONTACT, "c" * 43, "link", AT, AT))


class TestContacts:
    async def test_a_contact_in_the_directory_exists(self, unit_of_work: UnitsOfWork) -> None:
        """Only contacts the directory holds exist for a link to be issued to."""
        async with unit_of_work() as uow:
            await seed_contact(uow)
        async with unit_of_work() as uow:
            assert await uow.web_sessions.contact_exists(CONTACT)
            assert not await uow.web_sessions.contact_exists("school-1:nobody")


class TestLinks:
    async def test_used_once(self, unit_of_work: UnitsOfWork) -> None:
        """The first use answers the contact; the second answers nothing."""
        await with_link(unit_of_work)
        async with unit_of_work() as uow:
            assert await uow.web_sessions.use_link("h" * 64, AT - MINUTE, AT + MINUTE) == CONTACT
        async with unit_of_work() as uow:
            assert await uow.web_sessions.use_link("h" * 64, AT - MINUTE, AT + MINUTE) is None

    async def test_too_old_is_not_used(self, unit_of_work: UnitsOfWork) -> None:
        """A link issued at or before ``issued_after`` is refused, and stays unused."""
        await with_link(unit_of_work)
        async with unit_of_work() as uow:
            assert await uow.web_sessions.use_link("h" * 64, AT, AT + MINUTE) is None
        async with unit_of_work() as uow:
            assert await uow.web_sessions.use_link("h" * 64, AT - MINUTE, AT + MINUTE) == CONTACT

    async def test_unknown_is_not_used(self, unit_of_work: UnitsOfWork) -> None:
        """A hash no link has answers nothing."""
        await with_link(unit_of_work)
        async with unit_of_work() as uow:
            assert await uow.web_sessions.use_link("x" * 64, AT - MINUTE, AT + MINUTE) is None

    async def test_a_rolled_back_use_leaves_it_usable(self, unit_of_work: UnitsOfWork) -> None:
        """Using a link in a unit of work that fails does not spend it."""
        await with_link(unit_of_work)
        try:
            async with unit_of_work() as uow:
                assert await uow.web_sessions.use_link("h" * 64, AT - MINUTE, AT) == CONTACT
                raise RuntimeError("the sign-in failed after the link was used")
        except RuntimeError:
            pass
        async with unit_of_work() as uow:
            assert await uow.web_sessions.use_link("h" * 64, AT - MINUTE, AT) == CONTACT


class TestSessions:
    async def test_touch_restarts_the_idle_clock(self, unit_of_work: UnitsOfWork) -> None:
        """A live session comes back with ``last_seen_at`` moved to now."""
        await with_session(unit_of_work)
        now = AT + 10 * MINUTE
        async with unit_of_work() as uow:
            found = await uow.web_sessions.touch("s" * 64, now, AT - MINUTE, AT - MINUTE)
        assert found is not None
        assert (found.contact_id, found.csrf_token, found.last_seen_at) == (CONTACT, "c" * 43, now)

    async def test_get_leaves_the_idle_clock_alone(self, unit_of_work: UnitsOfWork) -> None:
        """A session read with ``get`` is as stored, ended or not, and not touched."""
        await with_session(unit_of_work)
        async with unit_of_work() as uow:
            found = await uow.web_sessions.get("s" * 64)
            await uow.web_sessions.end("s" * 64, AT + MINUTE)
        async with unit_of_work() as uow:
            ended = await uow.web_sessions.get("s" * 64)
            assert await uow.web_sessions.get("x" * 64) is None
        assert found is not None
        assert ended is not None
        assert (found.last_seen_at, found.ended_at, ended.ended_at) == (AT, None, AT + MINUTE)

    async def test_idle_is_not_found(self, unit_of_work: UnitsOfWork) -> None:
        """Last seen at or before ``seen_after``: no session."""
        await with_session(unit_of_work)
        async with unit_of_work() as uow:
            assert await uow.web_sessions.touch("s" * 64, AT + MINUTE, AT, AT - MINUTE) is None

    async def test_expired_is_not_found(self, unit_of_work: UnitsOfWork) -> None:
        """Started at or before ``started_after``: no session, however recently seen."""
        await with_session(unit_of_work)
        async with unit_of_work() as uow:
            assert await uow.web_sessions.touch("s" * 64, AT + MINUTE, AT - MINUTE, AT) is None

    async def test_ended_once(self, unit_of_work: UnitsOfWork) -> None:
        """Ending answers True once; an ended session is never found again."""
        await with_session(unit_of_work)
        async with unit_of_work() as uow:
            assert await uow.web_sessions.end("s" * 64, AT + MINUTE)
            assert not await uow.web_sessions.end("s" * 64, AT + MINUTE)
        async with unit_of_work() as uow:
            assert (
                await uow.web_sessions.touch("s" * 64, AT + MINUTE, AT - MINUTE, AT - MINUTE)
                is None
            )
