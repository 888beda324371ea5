"""Reading a folder of directory CSV files into a DirectorySpec."""

from datetime import date, time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from broker.adapters.csv_import import read_directory
from broker.errors import CsvImportError
from producers import crypto
from schemas.directory import (
    ContactSpec,
    DirectorySpec,
    HouseholdMemberSpec,
    HouseholdSpec,
    InvolvementSpec,
    OrganisationSpec,
    PersonSpec,
    PlanOwnerSpec,
    PlanSpec,
    RegistrationSpec,
    RelationshipSpec,
    Term,
)

AREA = "E06000001"
MOTHER_NHS = "9990000018"
CHILD_NHS = "9990000085"
KEY = crypto.encode_public(X25519PrivateKey.generate().public_key())


def write(folder: Path, name: str, *lines: str) -> None:
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A small partnership: a school with a term, a GP, a mother and child, a plan."""
    write(
        tmp_path,
        "organisations.csv",
        "id,name,kind,area,phone,session_start",
        f"school-a,Oak School,school,{AREA},01234 567890,08:45",
        f"gp-a,Riverside Surgery,gp_practice,{AREA},,",
    )
    write(
        tmp_path, "school_terms.csv", "org_id,starts_on,ends_on", "school-a,2026-09-02,2026-10-23"
    )
    write(
        tmp_path,
        "contacts.csv",
        "id,org_id,role,hpke_public_key",
        f"school-a-dsl,school-a,key_adult,{KEY}",
    )
    write(
        tmp_path,
        "people.csv",
        "id,nhs_number,upn,given_name,family_name,date_of_birth",
        f"p-mother,{MOTHER_NHS},,Jess,Carter,1990-04-01",
        f"p-child,{CHILD_NHS},,Sam,Carter,2019-06-30",
    )
    write(
        tmp_path,
        "household_members.csv",
        "household_id,area,person_id,role",
        f"h-1,{AREA},p-mother,parent_or_carer",
        f"h-1,{AREA},p-child,child",
    )
    write(tmp_path, "registrations.csv", "person_id,kind,org_id", "p-child,school,school-a")
    write(
        tmp_path,
        "involvements.csv",
        "person_id,org_id,opened_on,closed_on",
        "p-mother,gp-a,2024-01-10,",
    )
    write(
        tmp_path,
        "plans.csv",
        "id,person_id,kind,area,started_on,ended_on,step_down_until,if_concerns_return",
        f"plan-1,p-child,child_in_need,{AREA},2025-03-01,,2026-12-01,Call the lead professional",
    )
    write(
        tmp_path,
        "plan_owners.csv",
        "plan_id,is_lead,name,role,org_id,phone,email",
        "plan-1,false,Ann Owner,Health visitor,gp-a,,",
        "plan-1,true,Lee Lead,Social worker,school-a,,lee@example.org",
    )
    return tmp_path  # fmt: skip


EXPECTED = DirectorySpec(
    organisations=(
        OrganisationSpec(id="school-a", name="Oak School", kind="school", area=AREA,
                         phone="01234 567890", session_start=time(8, 45),
                         terms=(Term(starts_on=date(2026, 9, 2), ends_on=date(2026, 10, 23)),)),
        OrganisationSpec(id="gp-a", name="Riverside Surgery", kind="gp_practice", area=AREA),
    ),
    contacts=(ContactSpec(id="school-a-dsl", org_id="school-a", role="key_adult",
                          hpke_public_key=KEY),),
    people=(
        PersonSpec(id="p-mother", nhs_number=MOTHER_NHS, given_name="Jess",
                   family_name="Carter", date_of_birth=date(1990, 4, 1)),
        PersonSpec(id="p-child", nhs_number=CHILD_NHS, given_name="Sam",
                   family_name="Carter", date_of_birth=date(2019, 6, 30)),
    ),
    households=(HouseholdSpec(id="h-1", area=AREA, members=(
        HouseholdMemberSpec(person_id="p-mother", role="parent_or_carer"),
        HouseholdMemberSpec(person_id="p-child", role="child"),
    )),),
    registrations=(RegistrationSpec(person_id="p-child", kind="school", org_id="school-a"),),
    involvements=(InvolvementSpec(person_id="p-mother", org_id="gp-a",
                                  opened_on=date(2024, 1, 10)),),
    plans=(PlanSpec(
        id="plan-1", person_id="p-child", kind="child_in_need", area=AREA,
        started_on=date(2025, 3, 1), step_down_until=date(2026, 12, 1),
        if_concerns_return="Call the lead professional",
        lead_professional=PlanOwnerSpec(name="Lee Lead", role="Social worker",
                                        org_id="school-a", email="lee@example.org"),
        action_owners=(PlanOwnerSpec(name="Ann Owner", role="Health visitor", org_id="gp-a"),),
    ),),
)  # fmt: skip


def fault(folder: Path) -> CsvImportError:
    with pytest.raises(CsvImportError) as caught:
        read_directory(folder)
    return caught.value


class TestReadDirectory:
    def test_folder_loads_to_the_expected_directory(self, folder: Path) -> None:
        """Every file is read, terms joined to their school, members to their household and
        owners to their plan, the lead apart from the action owners."""
        assert read_directory(folder) == EXPECTED

    def test_empty_folder_is_an_empty_directory(self, tmp_path: Path) -> None:
        """Every file is optional."""
        assert read_directory(tmp_path) == DirectorySpec()

    def test_missing_files_leave_their_records_out(self, folder: Path) -> None:
        """Removing some files loads the rest."""
        for name in ("plans.csv", "plan_owners.csv", "household_members.csv"):
            (folder / name).unlink()
        assert read_directory(folder) == EXPECTED.model_copy(update={"plans": (), "households": ()})

    def test_spreadsheet_byte_order_mark_is_accepted(self, folder: Path) -> None:
        """A UTF-8 file saved by a spreadsheet starts with a BOM; the header still reads."""
        path = folder / "registrations.csv"
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
        assert read_directory(folder).registrations == EXPECTED.registrations

    def test_optional_columns_may_be_left_out(self, tmp_path: Path) -> None:
        """A file without an optional column reads its field as None."""
        write(tmp_path, "people.csv", "id,given_name", "p-1,Jo")
        assert read_directory(tmp_path).people == (PersonSpec(id="p-1", given_name="Jo"),)

    def test_an_unborn_child_is_read_with_its_expected_date(self, tmp_path: Path) -> None:
        """``unborn`` and ``expected_on`` make a person record an unborn child."""
        write(tmp_path, "people.csv", "id,unborn,expected_on", "p-1,true,2027-10-07")
        assert read_directory(tmp_path).people == (
            PersonSpec(id="p-1", unborn=True, expected_on=date(2027, 10, 7)),
        )

    def test_additional_needs_are_read(self, tmp_path: Path) -> None:
        """``has_send``, ``has_ehcp`` and ``learning_disability`` are a person's needs."""
        write(tmp_path, "people.csv", "id,has_send,has_ehcp,learning_disability",
              "kid,true,yes,", "dad,,,true")  # fmt: skip
        assert read_directory(tmp_path).people == (
            PersonSpec(id="kid", has_send=True, has_ehcp=True),
            PersonSpec(id="dad", learning_disability=True),
        )

    def test_a_language_need_is_read(self, tmp_path: Path) -> None:
        """``preferred_language`` and ``interpreter_needed`` are a person's language need."""
        write(tmp_path, "people.csv", "id,preferred_language,interpreter_needed", "mum,pl,true")
        assert read_directory(tmp_path).people == (
            PersonSpec(id="mum", preferred_language="pl", interpreter_needed=True),
        )

    def test_an_unborn_child_without_an_expected_date_is_refused(self, tmp_path: Path) -> None:
        """An unborn record needs its expected date: the file and row are named."""
        write(tmp_path, "people.csv", "id,unborn", "p-1,yes")
        with pytest.raises(CsvImportError) as caught:
            read_directory(tmp_path)
        assert (caught.value.file, caught.value.row) == ("people.csv", 2)


class TestFaults:
    def test_invalid_cell_names_file_row_and_field_not_value(self, folder: Path) -> None:
        """An invalid NHS number on the second person is reported by place, never by value."""
        write(folder, "people.csv", "id,nhs_number,given_name",
              f"p-1,{MOTHER_NHS},Jess", "p-2,9990000019,Sam")  # fmt: skip
        error = fault(folder)
        assert (error.file, error.row, error.field) == ("people.csv", 3, "nhs_number")
        assert "people.csv, row 3, field nhs_number" in str(error)
        assert "9990000019" not in str(error)
        assert "Sam" not in str(error)

    def test_error_does_not_chain_the_validation_error(self, folder: Path) -> None:
        """The validation error (which can quote the cell) is not kept as the cause."""
        write(folder, "people.csv", "id,nhs_number", "p-1,123")
        error = fault(folder)
        assert error.__cause__ is None
        assert error.__suppress_context__

    def test_unknown_column_is_refused(self, folder: Path) -> None:
        """A column the file does not have is named, in the header row."""
        write(folder, "registrations.csv", "person_id,kind,org_id,notes", "p-child,gp,gp-a,x")
        error = fault(folder)
        assert (error.file, error.row, error.field) == ("registrations.csv", 1, "notes")

    def test_row_longer_than_header_is_refused(self, folder: Path) -> None:
        """Extra cells mean a misaligned row: refused, by row."""
        write(folder, "registrations.csv", "person_id,kind,org_id", "p-child,gp,gp-a,secret")
        error = fault(folder)
        assert (error.file, error.row) == ("registrations.csv", 2)
        assert "secret" not in str(error)

    def test_renamed_column_is_reported_by_its_csv_name(self, folder: Path) -> None:
        """A bad household id is reported as household_id, the column's name."""
        write(folder, "household_members.csv", "household_id,area,person_id,role",
              "h-1,nowhere,p-child,child")  # fmt: skip
        error = fault(folder)
        assert (error.file, error.row, error.field) == ("household_members.csv", 2, "area")

    def test_term_for_unknown_school_is_refused(self, folder: Path) -> None:
        """A term must belong to an organisation in organisations.csv."""
        write(folder, "school_terms.csv", "org_id,starts_on,ends_on",
              "school-b,2026-09-02,2026-10-23")  # fmt: skip
        error = fault(folder)
        assert (error.file, error.row, error.field) == ("school_terms.csv", 2, "org_id")

    def test_owner_of_unknown_plan_is_refused(self, folder: Path) -> None:
        """An owner must belong to a plan in plans.csv."""
        write(folder, "plan_owners.csv", "plan_id,is_lead,name,role,org_id",
              "plan-9,true,Lee Lead,Social worker,school-a")  # fmt: skip
        error = fault(folder)
        assert (error.file, error.row, error.field) == ("plan_owners.csv", 2, "plan_id")

    def test_second_lead_is_refused(self, folder: Path) -> None:
        """A plan has one lead professional."""
        write(folder, "plan_owners.csv", "plan_id,is_lead,name,role,org_id",
              "plan-1,true,Lee Lead,Social worker,school-a",
              "plan-1,yes,Ann Owner,Health visitor,gp-a")  # fmt: skip
        error = fault(folder)
        assert (error.file, error.row, error.field) == ("plan_owners.csv", 3, "is_lead")

    def test_unreadable_is_lead_is_refused(self, folder: Path) -> None:
        """is_lead takes true/false, yes/no or 1/0."""
        write(folder, "plan_owners.csv", "plan_id,is_lead,name,role,org_id",
              "plan-1,maybe,Lee Lead,Social worker,school-a")  # fmt: skip
        assert fault(folder).field == "is_lead"

    def test_repeated_id_is_refused(self, folder: Path) -> None:
        """An organisation given twice in one file is a mistake, not a silent overwrite."""
        write(folder, "organisations.csv", "id,name,kind,area",
              f"gp-a,One,gp_practice,{AREA}", f"gp-a,Two,gp_practice,{AREA}")  # fmt: skip
        error = fault(folder)
        assert (error.file, error.row, error.field) == ("organisations.csv", 3, "id")

    def test_household_rows_must_agree_on_area(self, folder: Path) -> None:
        """Every member row of a household gives the same area."""
        write(folder, "household_members.csv", "household_id,area,person_id,role",
              f"h-1,{AREA},p-mother,parent_or_carer", "h-1,E06000002,p-child,child")  # fmt: skip
        error = fault(folder)
        assert (error.row, error.field) == (3, "area")

    def test_file_that_is_not_utf8_is_refused(self, folder: Path) -> None:
        """A file in another encoding is named, without its content."""
        (folder / "people.csv").write_bytes(b"id,given_name\np-1,Z\xf6e\n")
        assert str(fault(folder)) == "people.csv: not a UTF-8 CSV file (UnicodeDecodeError)"


class TestRelationships:
    def test_ties_are_read_with_parental_responsibility(self, folder: Path) -> None:
        """A father living elsewhere with parental responsibility, a carer without it, one
        not known, and siblings: each row a relationship, an empty cell None."""
        write(folder, "relationships.csv",
              "person_id,kind,related_person_id,parental_responsibility",
              "p-father,parent_of,p-child,true", "p-carer,parent_of,p-child,no",
              "p-aunt,parent_of,p-child,", "p-child,sibling_of,p-twin,")  # fmt: skip
        assert read_directory(folder).relationships == (
            RelationshipSpec(person_id="p-father", kind="parent_of", related_person_id="p-child",
                             parental_responsibility=True),
            RelationshipSpec(person_id="p-carer", kind="parent_of", related_person_id="p-child",
                             parental_responsibility=False),
            RelationshipSpec(person_id="p-aunt", kind="parent_of", related_person_id="p-child"),
            RelationshipSpec(person_id="p-child", kind="sibling_of", related_person_id="p-twin"),
        )  # fmt: skip

    def test_the_responsibility_column_may_be_left_out(self, folder: Path) -> None:
        """Without the parental_responsibility column, it is not known."""
        write(folder, "relationships.csv", "person_id,kind,related_person_id",
              "p-father,parent_of,p-child")  # fmt: skip
        [tie] = read_directory(folder).relationships
        assert tie.parental_responsibility is None

    def test_no_file_no_relationships(self, folder: Path) -> None:
        """Parents living with their children need no row: the household says so."""
        assert read_directory(folder).relationships == ()

    def test_unknown_kind_is_refused_by_place(self, folder: Path) -> None:
        """A kind other than parent_of or sibling_of names its file, row and field."""
        write(folder, "relationships.csv", "person_id,kind,related_person_id",
              "p-father,parent_of,p-child", "p-father,grandparent_of,p-child")  # fmt: skip
        error = fault(folder)
        assert (error.file, error.row, error.field) == ("relationships.csv", 3, "kind")
        assert "grandparent_of" not in str(error)

    def test_unreadable_parental_responsibility_is_refused(self, folder: Path) -> None:
        """parental_responsibility takes true/false, yes/no or 1/0; the cell is not quoted."""
        write(folder, "relationships.csv",
              "person_id,kind,related_person_id,parental_responsibility",
              "p-father,parent_of,p-child,shared-with-Jess")  # fmt: skip
        error = fault(folder)
        assert (error.file, error.row, error.field) == (
            "relationships.csv",
            2,
            "parental_responsibility",
        )
        assert "Jess" not in str(error)

    def test_a_tie_to_oneself_is_refused(self, folder: Path) -> None:
        """A relationship joins two different people: the second id is the field at fault,
        and the id is not quoted."""
        write(folder, "relationships.csv", "person_id,kind,related_person_id",
              "p-child-9,sibling_of,p-child-9")  # fmt: skip
        error = fault(folder)
        assert (error.file, error.row, error.field) == ("relationships.csv", 2, "related_person_id")
        assert "p-child-9" not in str(error)

    def test_responsibility_on_siblings_is_refused(self, folder: Path) -> None:
        """Parental responsibility belongs to a parent_of tie only."""
        write(folder, "relationships.csv",
              "person_id,kind,related_person_id,parental_responsibility",
              "p-child,sibling_of,p-twin,true")  # fmt: skip
        error = fault(folder)
        assert (error.file, error.row, error.field) == (
            "relationships.csv",
            2,
            "parental_responsibility",
        )

    def test_missing_related_person_is_refused(self, folder: Path) -> None:
        """Both ends of a tie are required."""
        write(folder, "relationships.csv", "person_id,kind,related_person_id",
              "p-father,parent_of,")  # fmt: skip
        assert fault(folder).field == "related_person_id"
