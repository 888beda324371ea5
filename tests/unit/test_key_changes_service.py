"""Key changes on the fakes: a change to keys on record is held until another administrator
approves it, lapses when withdrawn or expired, and each step is audited under the
organisation. (tests/integration/test_admin_api.py and tests/security/test_keys.py run it
over HTTP and SQL.)"""

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broker.ports import KeyChangeView
from broker.rules import actors
from broker.services import directory_admin as admin
from broker.services import key_changes
from producers import crypto
from schemas.directory import OrganisationSpec
from tests.fakes import FakeUnitOfWork

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ADMIN_A, ADMIN_B = actors.administrator("admin-a"), actors.administrator("admin-b")


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
            uow, school(Ed25519PrivateKey.generate()), ADMIN_A, NOW
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
            outcome = await key_changes.put_organisation(uow, renamed, ADMIN_A, NOW)
        assert outcome == "updated"


class TestApproval:
    async def test_another_administrator_approves(self) -> None:
        """Approved by a second administrator, the change applies and stops waiting."""
        uow = FakeUnitOfWork()
        asked = await held(uow)
        async with uow:
            done = await key_changes.approve(uow, asked.change_id, ADMIN_B, NOW)
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
                await key_changes.approve(uow, asked.change_id, ADMIN_A, NOW)

    async def test_an_expired_change_lapses(self) -> None:
        """Older than the expiry, a change can no longer be approved."""
        uow = FakeUnitOfWork()
        asked = await held(uow)
        later = NOW + key_changes.KEY_CHANGE_EXPIRY + timedelta(seconds=1)
        with pytest.raises(key_changes.Lapsed, match="expired"):
            async with uow:
                await key_changes.approve(uow, asked.change_id, ADMIN_B, later)

    async def test_a_withdrawn_change_lapses(self) -> None:
        """Withdrawn by its requester, a change cannot be approved, and both are audited."""
        uow = FakeUnitOfWork()
        asked = await held(uow)
        async with uow:
            await key_changes.withdraw(uow, asked.change_id, ADMIN_A, NOW)
        with pytest.raises(key_changes.Lapsed, match="withdrawn"):
            async with uow:
                await key_changes.approve(uow, asked.change_id, ADMIN_B, NOW)
        assert actions(uow)[-1] == "key_change_withdrawn"

    async def test_only_the_requester_withdraws(self) -> None:
        """Another administrator may not withdraw someone else's change."""
        uow = FakeUnitOfWork()
        asked = await held(uow)
        with pytest.raises(key_changes.NotOwnChange):
            async with uow:
                await key_changes.withdraw(uow, asked.change_id, ADMIN_B, NOW)


async def recorded_before_kinds(uow: FakeUnitOfWork, requested_by: str) -> str:
    """A pending change as recorded before actors had kinds: a bare name."""
    await held(uow)
    change = KeyChangeView(id="c-legacy", entity="organisation", entity_id="school-a",
                           org_id="school-a", spec=school(Ed25519PrivateKey.generate())
                           .model_dump_json(), key_ids="k", requested_by=requested_by,
                           requested_at=NOW)  # fmt: skip
    async with uow:
        await uow.key_changes.add(change)
    return change.id


class TestActorsOfTwoKinds:
    async def test_the_requester_is_recorded_with_their_kind(self) -> None:
        """The change and its audit entry name admin:admin-a, not a bare admin-a."""
        uow = FakeUnitOfWork()
        await held(uow)
        async with uow:
            (waiting,) = await key_changes.pending(uow, NOW)
        requested = [r.actor for r, _ in uow.audit.committed if r.action == "key_change_requested"]
        assert (waiting.requested_by, requested) == ("admin:admin-a", ["admin:admin-a"])

    async def test_an_operator_named_as_the_organisation_is_another_actor(self) -> None:
        """Operator admin-a is not administrator admin-a: they cannot withdraw its change."""
        uow = FakeUnitOfWork()
        asked = await held(uow)
        with pytest.raises(key_changes.NotOwnChange):
            async with uow:
                await key_changes.withdraw(uow, asked.change_id, actors.operator("admin-a"), NOW)

    async def test_an_operator_s_change_is_not_an_administrator_s(self) -> None:
        """Held by operator ops-1, administrator ops-1 approves it as a second person."""
        uow = FakeUnitOfWork()
        async with uow:
            await admin.put_organisation(uow, school(Ed25519PrivateKey.generate()), "install")
        async with uow:
            asked = await key_changes.put_organisation(
                uow, school(Ed25519PrivateKey.generate()), actors.operator("ops-1"), NOW
            )
        assert isinstance(asked, key_changes.Pending)
        async with uow:
            done = await key_changes.approve(uow, asked.change_id, actors.administrator("ops-1"),
                                             NOW)  # fmt: skip
        assert done.outcome == "updated"


class TestChangesRecordedBeforeKinds:
    @pytest.mark.parametrize("approver", [ADMIN_A, actors.operator("admin-a")])
    async def test_a_bare_name_cannot_approve_under_either_kind(
        self, approver: actors.Actor
    ) -> None:
        """A bare admin-a might have been either kind: neither admin-a approves it."""
        uow = FakeUnitOfWork()
        change_id = await recorded_before_kinds(uow, "admin-a")
        with pytest.raises(key_changes.OwnChange):
            async with uow:
                await key_changes.approve(uow, change_id, approver, NOW)

    async def test_another_name_approves_it(self) -> None:
        """Administrator admin-b is someone else, as before."""
        uow = FakeUnitOfWork()
        change_id = await recorded_before_kinds(uow, "admin-a")
        async with uow:
            done = await key_changes.approve(uow, change_id, ADMIN_B, NOW)
        assert done.entity_id == "school-a"

    async def test_its_requester_withdraws_it(self) -> None:
        """Administrator admin-a withdraws the change it recorded under its bare name."""
        uow = FakeUnitOfWork()
        change_id = await recorded_before_kinds(uow, "admin-a")
        async with uow:
            await key_changes.withdraw(uow, change_id, ADMIN_A, NOW)
        assert actions(uow)[-1] == "key_change_withdrawn"
