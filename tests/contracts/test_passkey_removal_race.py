"""Two sessions of one person, each removing the other's passkey at the same moment, on
PostgreSQL: the first removal holds both passkeys until it commits, so the second waits and
then finds its own passkey gone. Unheld, each removed the other's and the person was left
with none. (SQLite lets one writer at a time: the second fails to write instead.)"""

import asyncio

import pytest

from broker.ports import WebSessionRecord
from broker.rules.authenticators import passkey_reference
from broker.services import passkey_list
from broker.services.passkey_list import PasskeyNotFound
from tests.contracts.conftest import UnitsOfWork
from tests.contracts.test_passkeys import AT, with_person
from tests.contracts.test_web_sessions import CONTACT


def opened_by(credential_id: str) -> WebSessionRecord:
    return WebSessionRecord(credential_id[-1] * 64, CONTACT, "c" * 43, "passkey", AT, AT,
                            credential_id=credential_id)  # fmt: skip


async def test_removing_each_others_passkeys_at_once_leaves_one(
    unit_of_work: UnitsOfWork, database_backend: str
) -> None:
    if database_backend != "postgresql":
        pytest.skip("the race needs two writers at once: PostgreSQL's row locks")
    await with_person(unit_of_work, "cred-a", "cred-b")
    laptop, phone = opened_by("cred-a"), opened_by("cred-b")
    async with unit_of_work() as uow:
        for session in (laptop, phone):
            await uow.web_sessions.start(session)

    async def remove_from_phone() -> None:
        async with unit_of_work() as uow:
            await passkey_list.remove_own(uow, phone, passkey_reference("cred-a"), AT)

    async with unit_of_work() as first:
        await passkey_list.remove_own(first, laptop, passkey_reference("cred-b"), AT)
        second = asyncio.create_task(remove_from_phone())
        await asyncio.sleep(0.5)  # time for the second to reach the passkeys (and wait)
    with pytest.raises(PasskeyNotFound):
        await second
    async with unit_of_work() as uow:
        assert {p.credential_id for p in await uow.passkeys.passkeys_of(CONTACT)} == {"cred-a"}
