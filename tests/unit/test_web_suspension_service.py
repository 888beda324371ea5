"""An administrator suspending a contact's web sign-in (``web_sign_in.suspend``), over the
in-memory stores: its session and unused links stop working, and the suspension is audited."""

from datetime import UTC, datetime, timedelta

import pytest

from broker.services import web_sign_in
from tests.fakes import FakeUnitOfWork

AT = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
CONTACT = "school-1:key_adult"
SECOND = timedelta(seconds=1)


async def uow_with_contact() -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    uow.directory_rows.table("contacts")[(CONTACT,)] = {"id": CONTACT, "org_id": "school-1"}
    return uow


class TestSuspend:
    async def test_ends_the_session_and_spends_the_links(self) -> None:
        """The signed-in session is over, and a link issued before cannot sign in."""
        uow = await uow_with_contact()
        first = await web_sign_in.issue_link(uow, CONTACT, "admin", AT)
        started = await web_sign_in.sign_in(uow, first.token, AT)
        unused = await web_sign_in.issue_link(uow, CONTACT, "admin", AT)
        assert await web_sign_in.suspend(uow, CONTACT, "icb-1:admin", AT + SECOND) == 1
        assert await web_sign_in.current(uow, started.session_id, AT + 2 * SECOND) is None
        with pytest.raises(web_sign_in.SignInRefused):
            await web_sign_in.sign_in(uow, unused.token, AT + 2 * SECOND)

    async def test_is_audited_with_who_and_how_many(self) -> None:
        """One entry: the administrator, the contact and the number of sessions ended."""
        uow = await uow_with_contact()
        await web_sign_in.suspend(uow, CONTACT, "icb-1:admin", AT)
        [(entry, _)] = uow.audit.pending
        assert (entry.action, entry.actor, entry.subject_ref) == (
            "web_sessions_suspended", "icb-1:admin", CONTACT)  # fmt: skip
        assert entry.details == {"sessions_ended": 0}

    async def test_only_for_a_contact_in_the_directory(self) -> None:
        """An unknown contact: refused, nothing audited."""
        uow = FakeUnitOfWork()
        with pytest.raises(web_sign_in.UnknownContact):
            await web_sign_in.suspend(uow, CONTACT, "admin", AT)
        assert uow.audit.pending == []
