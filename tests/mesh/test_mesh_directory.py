"""The directory's MESH fields: an organisation's ODS code and a contact's MESH mailbox, in
the records (validated), in the CSV import, and in the change log like every directory
write (the field named, never its value)."""

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from pydantic import ValidationError

from broker.adapters.csv_import import read_directory
from broker.services import directory_admin as admin
from producers import crypto
from schemas.directory import ContactSpec, OrganisationSpec
from tests.fakes import FakeUnitOfWork

KEY = crypto.encode_public(X25519PrivateKey.generate().public_key())
AREA = "E06000001"
GP_ORG = OrganisationSpec(
    id="gp-a", name="Riverside Surgery", kind="gp_practice", area=AREA, ods_code="Y00001"
)
GP = ContactSpec(
    id="gp-a-lead",
    org_id="gp-a",
    role="safeguarding_lead",
    hpke_public_key=KEY,
    mesh_mailbox="X26GP0001",
)


class TestRecords:
    @pytest.mark.parametrize("mailbox", ["", "x26gp0001", "X26 GP", "X" * 21, "X26GP/01"])
    def test_a_malformed_mailbox_is_refused(self, mailbox: str) -> None:
        """A MESH mailbox id is upper-case letters and digits: anything else is refused."""
        with pytest.raises(ValidationError, match="mesh_mailbox"):
            GP.model_validate(GP.model_dump() | {"mesh_mailbox": mailbox})

    @pytest.mark.parametrize("code", ["", "y00001", "Y-0001", "Y" * 11])
    def test_a_malformed_ods_code_is_refused(self, code: str) -> None:
        """An ODS code is upper-case letters and digits, 3 to 10 of them."""
        with pytest.raises(ValidationError, match="ods_code"):
            GP_ORG.model_validate(GP_ORG.model_dump() | {"ods_code": code})

    def test_both_are_optional(self) -> None:
        """Most organisations are not NHS ones, and most contacts have no MESH mailbox."""
        contact = GP.model_copy(update={"mesh_mailbox": None})
        assert ContactSpec.model_validate(contact.model_dump()).mesh_mailbox is None


class TestCsvImport:
    def test_the_columns_are_read(self, tmp_path: Path) -> None:
        """organisations.csv carries ods_code, contacts.csv mesh_mailbox; empty is none."""
        (tmp_path / "organisations.csv").write_text(
            "id,name,kind,area,ods_code\n"
            f"gp-a,Riverside Surgery,gp_practice,{AREA},Y00001\n"
            f"school-a,Oak School,school,{AREA},\n"
        )
        (tmp_path / "contacts.csv").write_text(
            "id,org_id,role,hpke_public_key,mesh_mailbox\n"
            f"gp-a-lead,gp-a,safeguarding_lead,{KEY},X26GP0001\n"
            f"school-a-dsl,school-a,key_adult,{KEY},\n"
        )
        spec = read_directory(tmp_path)
        assert [o.ods_code for o in spec.organisations] == ["Y00001", None]
        assert [c.mesh_mailbox for c in spec.contacts] == ["X26GP0001", None]


class TestChangeLog:
    async def test_setting_a_mailbox_is_logged_by_name(self) -> None:
        """Putting a contact's MESH mailbox, then the organisation's ODS code, logs each
        field by name: the change log never holds a value."""
        uow = FakeUnitOfWork()
        async with uow:
            await admin.put_organisation(uow, GP_ORG.model_copy(update={"ods_code": None}), "t")
            await admin.put_contact(uow, GP.model_copy(update={"mesh_mailbox": None}), "t")
            await admin.put_contact(uow, GP, "t")
            await admin.put_organisation(uow, GP_ORG, "t")
        contact = await uow.directory_rows.changes_for("contact", GP.id)
        org = await uow.directory_rows.changes_for("organisation", GP_ORG.id)
        assert contact[-1].fields == ("mesh_mailbox",)
        assert org[-1].fields == ("ods_code",)
        assert "X26GP0001" not in repr(contact) + repr(org)
