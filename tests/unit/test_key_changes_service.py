"""Key changes on the fakes: a change to keys on record is held until another administrator
approves it, lapses when withdrawn or expired, and each step is audited under the
organisation. (tests/integration/test_admin_api.py and tests/security/test_keys.py run it
over HTTP and SQL.)"""

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broker.services import directory_admin as admin
from broker.services import key_changes
from producers import crypto
from schemas.directory import OrganisationSpec
from tests.fakes import FakeUnitOfWork

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def school(*keys: Ed25519PrivateKey) -> OrganisationSpec:
    return OrganisationSpec.model_validate({
        "id": "school-a", "name": "School A", "kind": "school", "area": "E09000099",
        "signing_keys": [{"public_key": crypto.encode_public(k.public_key())}
                         for k in keys]})  # fmt: skip


async def held(uow: FakeUnitOfWork) -> key_changes.Pending:
    """School A on record, then a request by admin-a to change its signing key."""
    async with uow:
        await admin.put_organisation(uow, school(Ed25519PrivateKey.generate()), "install")
    async with uow:
        asked = await key_changes.put_organisation(
            uow, school(Ed25519PrivateKey.generate()), "admin-a", NOW
        )
    assert isinstance(asked, key_changes.Pending)
    return asked


def actions(uow: FakeUnitOfWork) -> list[str]:
    return [r.action for r, _ in uow.audit.committed if r.subject_ref == "organisation:school-a"]


class TestHolding:
    async def test_a_changed_signing_key_is_held_and_audited(self) -> None:
        """The change waits for approval; the organisation's audit names the request."""
        uow = FakeUnitOfWork()
        asked = await held(uow)
        async with uow:
            waiting = await key_changes.pending(uow, NOW)
        assert [c.id for c in waiting] == [asked.change_id]
        assert "key_change_requested" in actions(uow)

    async def test_a_record_without_keys_applies_at_once(self) -> None:
        """An organisation record that does not state its keys is no key change."""
        uow = FakeUnitOfWork()
        await held(uow)
        renamed = OrganisationSpec(id="school-a", name="School A2", kind="school", area="E09000099")
        async with uow:
            outcome = await key_changes.put_organisation(uow, renamed, "admin-a", NOW)
        assert outcome == "updated"


class TestApproval:
    async def test_another_administrator_approves(self) -> None:
        """Approved by a second administrator, the change applies and stops waiting."""
        uow = FakeUnitOfWork()
        asked = await held(uow)
        async with uow:
            done = await key_changes.approve(uow, asked.change_id, "admin-b", NOW)
        async with uow:
            waiting = await key_changes.pending(uow, NOW)
        assert done == key_changes.Approved("school-a", "updated")
        assert waiting == []
        assert actions(uow)[-1] == "key_change_approved"

    async def test_the_requester_cannot_approve(self) -> None:
        """One administrator alone never changes keys."""
        uow = FakeUnitOfWork()
        asked = await held(uow)
        with pytest.raises(key_changes.OwnChange):
            async with uow:
                await key_changes.approve(uow, asked.change_id, "admin-a", NOW)

    async def test_an_expired_change_lapses(self) -> None:
        """Older than the expiry, a change can no longer be approved."""
        uow = FakeUnitOfWork()
        asked = await held(uow)
        later = NOW + key_changes.KEY_CHANGE_EXPIRY + timedelta(seconds=1)
        with pytest.raises(key_changes.Lapsed, match="expired"):
            async with uow:
                await key_changes.approve(uow, asked.change_id, "admin-b", later)

    async def test_a_withdrawn_change_lapses(self) -> None:
        """Withdrawn by its requester, a change cannot be approved, and both are audited."""
        uow = FakeUnitOfWork()
        asked = await held(uow)
        async with uow:
            await key_changes.withdraw(uow, asked.change_id, "admin-a", NOW)
        with pytest.raises(key_changes.Lapsed, match="withdrawn"):
            async with uow:
                await key_changes.approve(uow, asked.change_id, "admin-b", NOW)
        assert actions(uow)[-1] == "key_change_withdrawn"

    async def test_only_the_requester_withdraws(self) -> None:
        """Another administrator may not withdraw someone else's change."""
        uow = FakeUnitOfWork()
        asked = await held(uow)
        with pytest.raises(key_changes.NotOwnChange):
            async with uow:
                await key_changes.withdraw(uow, asked.change_id, "admin-b", NOW)
