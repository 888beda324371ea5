"""``signing_keys.csv`` in a directory folder: an organisation's Ed25519 keys for its events."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broker.adapters.csv_import import read_directory
from broker.errors import CsvImportError
from producers import crypto

AREA = "E06000001"
KEY = crypto.encode_public(Ed25519PrivateKey.generate().public_key())
NEXT_KEY = crypto.encode_public(Ed25519PrivateKey.generate().public_key())


def write(folder: Path, name: str, *lines: str) -> None:
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two organisations, one of them with keys on file."""
    write(tmp_path, "organisations.csv", "id,name,kind,area",
          f"gp-a,Riverside Surgery,gp_practice,{AREA}",
          f"school-a,Oak School,school,{AREA}")  # fmt: skip
    write(tmp_path, "signing_keys.csv", "org_id,public_key,valid_from,valid_until",
          f"gp-a,{KEY},,2027-01-01T00:00:00Z",
          f"gp-a,{NEXT_KEY},2026-12-01T00:00:00Z,")  # fmt: skip
    return tmp_path


class TestSigningKeysFile:
    def test_keys_are_read_with_their_validity(self, folder: Path) -> None:
        """Each row a key of the organisation it names, in the file's order."""
        [gp, _] = read_directory(folder).organisations
        assert [k.public_key for k in gp.signing_keys] == [KEY, NEXT_KEY]
        assert gp.signing_keys[0].valid_until == datetime(2027, 1, 1, tzinfo=UTC)
        assert gp.signing_keys[1].valid_from == datetime(2026, 12, 1, tzinfo=UTC)

    def test_an_organisation_the_file_does_not_name_states_no_keys(self, folder: Path) -> None:
        """Its keys on record stay as they are: the field is left unset, not emptied."""
        [_, school] = read_directory(folder).organisations
        assert "signing_keys" not in school.model_fields_set

    def test_an_organisation_it_names_states_its_keys(self, folder: Path) -> None:
        """So an import replaces that organisation's keys (held for approval if on record)."""
        [gp, _] = read_directory(folder).organisations
        assert "signing_keys" in gp.model_fields_set

    def test_no_file_leaves_every_organisation_s_keys_unstated(self, folder: Path) -> None:
        """Re-importing a folder without the file never takes keys away."""
        (folder / "signing_keys.csv").unlink()
        assert all("signing_keys" not in o.model_fields_set
                   for o in read_directory(folder).organisations)  # fmt: skip

    def test_a_key_of_an_unknown_organisation_is_refused(self, folder: Path) -> None:
        """Named by file, row and field."""
        write(folder, "signing_keys.csv", "org_id,public_key", f"gp-zz,{KEY}")
        with pytest.raises(CsvImportError) as refused:
            read_directory(folder)
        assert "signing_keys.csv" in str(refused.value)
        assert "org_id" in str(refused.value)

    def test_a_malformed_key_names_the_field_not_the_value(self, folder: Path) -> None:
        """The cell is not echoed."""
        write(folder, "signing_keys.csv", "org_id,public_key", "gp-a,not-a-key-XYZ")
        with pytest.raises(CsvImportError) as refused:
            read_directory(folder)
        assert "public_key" in str(refused.value)
        assert "not-a-key-XYZ" not in str(refused.value)
