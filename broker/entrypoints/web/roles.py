"""Who an administrator of the web inbox is: a contact of an organisation named in
``settings.administrators`` (the organisations whose tokens the admin API takes), signed in
with a sign-in link like anyone. No second kind of account, no password: the directory says
which organisation a contact belongs to, and the settings which organisations administer."""

from broker.config import Settings
from broker.ports import UnitOfWork, WebSessionRecord


async def administers(uow: UnitOfWork, session: WebSessionRecord, settings: Settings) -> str | None:
    """The contact's organisation, if it administers the directory."""
    [contact] = await uow.directory_rows.select_in("contacts", "id", [session.contact_id]) or [{}]
    org_id = contact.get("org_id")
    return str(org_id) if org_id and org_id in settings.administrators else None
