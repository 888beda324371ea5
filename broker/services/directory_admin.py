"""Loads a directory into the database: the first version of the admin surface."""

from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import crypto, db
from schemas.directory import DirectorySpec


async def load_directory(session: AsyncSession, spec: DirectorySpec) -> None:
    """Adds or replaces every record in ``spec`` (merge by primary key)."""
    for org in spec.organisations:
        start = org.session_start.strftime("%H:%M") if org.session_start else None
        await session.merge(
            db.Organisation(
                id=org.id,
                name=org.name,
                kind=org.kind,
                area=org.area,
                phone=org.phone,
                session_start=start,
            )
        )
        for term in org.terms:
            await session.merge(db.SchoolTerm(org_id=org.id, starts_on=term.starts_on,
                                              ends_on=term.ends_on))  # fmt: skip
    for contact in spec.contacts:
        key = crypto.hpke_public_from_text(contact.hpke_public_key)
        await session.merge(db.Contact(id=contact.id, org_id=contact.org_id, role=contact.role,
                                       hpke_public_key=contact.hpke_public_key,
                                       key_id=crypto.key_id(key)))  # fmt: skip
    for person in spec.people:
        await session.merge(db.Person(**person.model_dump()))
    await session.flush()
    for household in spec.households:
        await session.merge(db.Household(id=household.id, area=household.area))
        for member in household.members:
            await session.merge(
                db.HouseholdMember(
                    household_id=household.id, person_id=member.person_id, role=member.role
                )
            )
    for registration in spec.registrations:
        await session.merge(db.Registration(**registration.model_dump()))
    for involvement in spec.involvements:
        await session.merge(db.Involvement(**involvement.model_dump()))
    await session.flush()
