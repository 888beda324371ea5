"""The web inbox's sign-in service over the in-memory stores: links issued for contacts the
directory holds, used once and only while young, sessions found while live, sign-out."""

from datetime import UTC, datetime, timedelta

import pytest

from broker.rules.web_sessions import LINK_LIFETIME, SESSION_ABSOLUTE, SESSION_IDLE
from broker.services import web_sign_in
from tests.fakes import FakeUnitOfWork

AT = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
CONTACT = "school-1:key_adult"
SECOND = timedelta(seconds=1)


async def uow_with_contact() -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    uow.directory_rows.table("contacts")[(CONTACT,)] = {"id": CONTACT, "org_id": "school-1"}
    return uow


async def started(uow: FakeUnitOfWork) -> web_sign_in.Started:
    issued = await web_sign_in.issue_link(uow, CONTACT, "admin", AT)
    return await web_sign_in.sign_in(uow, issued.token, AT)


class TestIssueLink:
    async def test_only_for_a_contact_in_the_directory(self) -> None:
        """An unknown contact gets no link."""
        with pytest.raises(web_sign_in.UnknownContact):
            await web_sign_in.issue_link(FakeUnitOfWork(), CONTACT, "admin", AT)

    async def test_keeps_only_the_hash_and_audits(self) -> None:
        """The store holds the token's hash; the audit names the administrator and contact."""
        uow = await uow_with_contact()
        issued = await web_sign_in.issue_link(uow, CONTACT, "admin", AT)
        assert list(uow.web_sessions.links) == [web_sign_in.digest(issued.token)]
        assert issued.expires_at == AT + LINK_LIFETIME
        [(entry, _)] = uow.audit.pending
        assert (entry.action, entry.actor, entry.subject_ref) == ("sign_in_link_issued", "admin",
                                                                  CONTACT)  # fmt: skip


class TestSignIn:
    async def test_starts_a_session_for_the_links_contact(self) -> None:
        """A fresh session id and CSRF token, only the id's hash stored."""
        uow = await uow_with_contact()
        done = await started(uow)
        assert done.session.contact_id == CONTACT
        assert list(uow.web_sessions.sessions) == [web_sign_in.digest(done.session_id)]
        assert done.session.csrf_token != done.session_id

    async def test_a_link_signs_in_once(self) -> None:
        """The second use is refused and audited."""
        uow = await uow_with_contact()
        issued = await web_sign_in.issue_link(uow, CONTACT, "admin", AT)
        await web_sign_in.sign_in(uow, issued.token, AT)
        with pytest.raises(web_sign_in.SignInRefused):
            await web_sign_in.sign_in(uow, issued.token, AT + SECOND)
        assert uow.audit.pending[-1][0].action == "sign_in_refused"

    @pytest.mark.parametrize(
        ("later", "signs_in"), [(LINK_LIFETIME - SECOND, True), (LINK_LIFETIME, False)]
    )
    async def test_a_link_lasts_15_minutes(self, later: timedelta, signs_in: bool) -> None:
        """Up to 15 minutes after it was issued, and not at 15."""
        uow = await uow_with_contact()
        issued = await web_sign_in.issue_link(uow, CONTACT, "admin", AT)
        if signs_in:
            await web_sign_in.sign_in(uow, issued.token, AT + later)
        else:
            with pytest.raises(web_sign_in.SignInRefused):
                await web_sign_in.sign_in(uow, issued.token, AT + later)


class TestCurrent:
    @pytest.mark.parametrize(
        ("later", "live"),
        [(SESSION_IDLE - SECOND, True), (SESSION_IDLE, False), (SESSION_ABSOLUTE, False)],
    )
    async def test_live_until_idle(self, later: timedelta, live: bool) -> None:
        """Found until 30 minutes without use."""
        uow = await uow_with_contact()
        done = await started(uow)
        found = await web_sign_in.current(uow, done.session_id, AT + later)
        assert (found is not None) is live

    async def test_use_restarts_the_idle_clock_but_not_the_absolute_one(self) -> None:
        """Used every 20 minutes it lasts, but not past 8 hours."""
        uow = await uow_with_contact()
        done = await started(uow)
        at = AT
        while at + timedelta(minutes=20) < AT + SESSION_ABSOLUTE:
            at += timedelta(minutes=20)
            assert await web_sign_in.current(uow, done.session_id, at) is not None
        assert await web_sign_in.current(uow, done.session_id, AT + SESSION_ABSOLUTE) is None

    async def test_signed_out_is_over(self) -> None:
        """After sign-out the id finds nothing; the sign-out is audited once."""
        uow = await uow_with_contact()
        done = await started(uow)
        await web_sign_in.sign_out(uow, done.session, AT + SECOND)
        await web_sign_in.sign_out(uow, done.session, AT + 2 * SECOND)
        assert await web_sign_in.current(uow, done.session_id, AT + 3 * SECOND) is None
        assert [e.action for e, _ in uow.audit.pending].count("signed_out") == 1
